"""Cells per hour on this machine: `--jobs 2` with one thread per cell against `--jobs 1` with two
threads per cell, on the same small cells (trees and a network on `adult`, budget 3 s).

A cell spends its budget whatever its thread count, so two cells at once finish about twice the
cells per hour; what the single cell buys with its second thread is more tuning inside the same
budget. Both are reported: cells per hour (wall-clock of the whole run, start-up included) and
the mean test score of the cells. Each layout runs in this process on its own store, one after
the other. Run: `pytest benchmarks/test_jobs_throughput.py -s`.
"""

from __future__ import annotations

import statistics
import textwrap
import time
from pathlib import Path

import pytest

SUITE = """\
name: jobs
description: small cells, to compare running two at once with one at a time
budget: 3
seeds: [0, 1]
datasets:
  - name: adult
    n: [500, 1000]
contenders: [xgboost, lightgbm, mlp]
runners: [{runner}]
"""


def run_layout(tmp: Path, runner: str, jobs: int, monkeypatch: pytest.MonkeyPatch):
    from treeline.config.options import RunOptions
    from treeline.execute.resolve import resolve
    from treeline.run import SuiteRun

    folder = tmp / f"{runner}-jobs{jobs}"
    folder.mkdir()
    (folder / "jobs.yaml").write_text(textwrap.dedent(SUITE.format(runner=runner)))
    monkeypatch.setenv("TREELINE_RESULTS", str(folder / "results"))
    run = SuiteRun(resolve(folder / "jobs.yaml", RunOptions(jobs=jobs)))
    started = time.perf_counter()
    results = run.run()
    wall = time.perf_counter() - started
    assert all(r.status == "ok" for r in results), [r.error for r in results if r.error]
    return len(results) / wall * 3600, statistics.mean(r.measurements.test_score for r in results)


def test_two_one_thread_cells_at_once_vs_one_two_thread_cell(
    benchmark, pytestconfig, tmp_path, monkeypatch
) -> None:
    if pytestconfig.getoption("--suite"):
        pytest.skip("a harness benchmark, not a suite cell: run it without --suite")
    from treeline.execute import warm

    figures = {}

    def both() -> None:
        figures["jobs2_1thread"] = run_layout(tmp_path, "cpu-1thread", 2, monkeypatch)
        warm.shutdown()  # each layout pays its own warm worker's start
        figures["jobs1_2threads"] = run_layout(tmp_path, "cpu", 1, monkeypatch)
        warm.shutdown()

    benchmark.pedantic(both, rounds=1, iterations=1)
    info: dict[str, float] = {}
    for layout, (per_hour, score) in figures.items():
        info[f"{layout}_cells_per_hour"] = round(per_hour)
        info[f"{layout}_mean_test_score"] = round(score, 4)
    info["ratio_cells_per_hour"] = round(
        figures["jobs2_1thread"][0] / figures["jobs1_2threads"][0], 2
    )
    benchmark.extra_info.update(info)
    print("\n" + "\n".join(f"{k}: {v}" for k, v in info.items()))
