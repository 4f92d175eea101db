"""Harness overhead per cell: what a cell's worker costs beyond its budget and its test scoring.

overhead = worker wall-clock − fit (the budget clock) − test predictions − anytime-curve scoring
(the clock stands still while a new best is scored on test). What is left is the harness:
process start, imports, data loading, the result's way back. Small cells of a tree (XGBoost)
and a network (MLP) on `adult` n=1,000, one thread each, run back to back in this process;
medians are reported. Run: `pytest benchmarks/test_cell_overhead.py -s`.
"""

from __future__ import annotations

import statistics
import textwrap
from pathlib import Path

import pytest

CELLS_PER_CONTENDER = 5
BUDGET = 2.0


def _cells(tmp: Path):
    from treeline.config.runner_profile import get_runner
    from treeline.execute.plan import expand
    from treeline.execute.resolve import load_suite

    suite_file = tmp / "overhead.yaml"
    suite_file.write_text(
        textwrap.dedent(
            f"""\
            name: overhead
            description: small cells, to time the harness around them
            budget: {BUDGET}
            seeds: {list(range(CELLS_PER_CONTENDER))}
            datasets:
              - name: adult
                n: [1000]
            contenders: [xgboost, mlp]
            runners: [cpu-1thread]
            """
        )
    )
    profile = get_runner("cpu-1thread")
    return expand(load_suite(suite_file), {"cpu-1thread": profile}), profile


def overhead(m) -> float:
    return m.wall_seconds - m.fit_seconds - m.predict_seconds - m.curve_scoring_seconds


def test_harness_overhead_per_cell(benchmark, pytestconfig, tmp_path, monkeypatch) -> None:
    if pytestconfig.getoption("--suite"):
        pytest.skip("a harness benchmark, not a suite cell: run it without --suite")
    from treeline.execute import warm
    from treeline.execute.supervise import execute

    cells, profile = _cells(tmp_path)
    preload = warm.preload_for(cells)  # as a suite run does
    seen: dict[tuple[str, str], list[float]] = {}

    def run_all(mode: str) -> None:
        monkeypatch.setenv("TREELINE_WARM_WORKERS", "1" if mode == "warm" else "0")
        for cell in cells:
            log = tmp_path / "logs" / f"{cell.id.replace('/', '_')}.log"
            r = execute(cell, profile, log, preload=preload)
            assert r.status == "ok", r.error
            seen.setdefault((mode, cell.family), []).append(overhead(r.measurements))

    run_all("fresh")  # a fresh interpreter per cell: the harness before warm workers
    benchmark.pedantic(run_all, args=("warm",), rounds=1, iterations=1)
    warm.shutdown()
    info: dict[str, object] = {"cells_per_family": CELLS_PER_CONTENDER, "budget_seconds": BUDGET}
    for (mode, family), values in sorted(seen.items()):
        info[f"{mode}_{family}_median_s"] = round(statistics.median(values), 3)
        info[f"{mode}_{family}_all_s"] = [round(x, 2) for x in values]
    for family in ("tree", "deep"):
        info[f"ratio_{family}_fresh_over_warm"] = round(
            statistics.median(seen["fresh", family]) / statistics.median(seen["warm", family]), 1
        )
    benchmark.extra_info.update(info)
    print("\n" + "\n".join(f"{k}: {v}" for k, v in info.items()))
