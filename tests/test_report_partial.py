"""The report on partial and awkward results: it never crashes, and it says what it rests on.
Results are built as the store gives them back (CellResult → results_frame)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from cells import a_cell

from treeline.analysis.boundary import along_budget, compare
from treeline.analysis.frame import results_frame
from treeline.analysis.report import write_report
from treeline.execute.result import AnytimePoint, CellResult, Measurements

FAMILY = {"xgboost": "tree", "lightgbm": "tree", "mlp": "deep", "tabm": "deep"}


def _result(
    contender: str,
    n: int,
    seed: int,
    score: float,
    *,
    runner: str = "cpu",
    status: str = "ok",
    trials: int = 12,
    cost: float = 0.001,
    baseline: float = 0.76,
    first_point: float = 1.0,
    error: str = "",
    metric: str = "accuracy",
) -> CellResult:
    cell = a_cell(
        contender,
        FAMILY[contender],
        suite="s",
        task="regression" if metric == "rmse" else "binary",
        n=n,
        runner=runner,
        device="cpu" if runner == "cpu" else "cuda",
        seed=seed,
        budget=8.0,
    )
    if status != "ok":
        return CellResult(cell, status, error=error or f"{status} for a reason")  # type: ignore[arg-type]
    m = Measurements(
        test_score=score,
        test_metric=-score if metric == "rmse" else score,
        val_score=score,
        baseline_test_score=baseline,
        fit_seconds=8.0,
        cost_usd=cost,
        wall_seconds=12.0,
        overhead_seconds=4.0,
        peak_rss_mb=300.0,
        peak_vram_mb=0.0,
        n_trials=trials,
    )
    curve = [AnytimePoint(first_point, 0, score, score)]
    return CellResult(cell, "ok", metric=metric, measurements=m, anytime=curve)


def _report(tmp_path: Path, results: list[CellResult]) -> str:
    return write_report("s", "constructed", results_frame(results), tmp_path).read_text()


def test_networks_that_never_got_tuned_are_named_in_the_verdict(tmp_path: Path) -> None:
    rows = []
    for seed in range(3):
        rows += [
            _result("xgboost", 1000, seed, 0.86 + seed * 1e-3),
            _result("mlp", 1000, seed, 0.76, trials=1),  # one trial, at the baseline
        ]
    md = _report(tmp_path, rows)
    assert "mlp (≈ baseline; untuned: 1 complete trial)" in md
    assert "untuned at n = 1,000 (network behind: mlp): one complete trial in 8 s" in md
    assert "no better than the trivial model at n = 1,000 (network behind: mlp)" in md
    assert "| 0.7600 |" in md  # the trivial baseline column, in the metric's format


def test_fewer_than_three_seeds_are_indicative(tmp_path: Path) -> None:
    rows = [
        _result(c, 1000, s, 0.8 + (0.05 if c == "xgboost" else 0) + s * 1e-3)
        for c in ("xgboost", "mlp")
        for s in range(2)
    ]
    (c,) = compare(results_frame(rows))
    assert c.crossover.indicative
    assert "indicative: fewer than 3 seeds" in _report(tmp_path, rows)


def test_a_trial_ending_within_the_grace_counts_at_the_budget() -> None:
    rows = []
    for s in range(3):
        rows += [
            _result("xgboost", 1000, s, 0.85 + s * 1e-3, first_point=0.5),
            _result("mlp", 1000, s, 0.80 + s * 1e-3, first_point=8.6),  # 0.6 s into the grace
        ]
    by_fraction = along_budget(results_frame(rows))
    assert (
        by_fraction[1.0][0].crossover.verdict == compare(results_frame(rows))[0].crossover.verdict
    )
    early = by_fraction[0.125][0].crossover.text
    assert "the networks have no model yet at 0.125 of the budget" in early


@pytest.mark.parametrize(
    "case", ["skipped-runner", "all-failed", "zero-costs", "one-point", "missing-costs"]
)
def test_the_report_survives_partial_results(tmp_path: Path, case: str) -> None:
    ok = [_result(c, 1000, 0, 0.8 if c == "mlp" else 0.85) for c in ("xgboost", "mlp")]
    if case == "skipped-runner":
        rows = ok + [_result(c, 1000, 0, 0, runner="t4", status="skipped") for c in FAMILY]
    elif case == "all-failed":
        rows = [_result(c, 1000, 0, 0, status="failed", error="ValueError: x") for c in FAMILY]
    elif case == "zero-costs":
        rows = [_result(c, 1000, 0, 0.8, cost=0.0) for c in ("xgboost", "mlp")]
    elif case == "missing-costs":
        rows = [_result(c, 1000, 0, 0.8, cost=math.nan) for c in ("xgboost", "mlp")]
    else:
        rows = ok[:1]
    md = _report(tmp_path, rows)
    assert md.startswith("# Treeline report: s")
    # The cells without a score are listed one by one, with their reasons (the tally line
    # names the statuses too, so it is each cell's entry that is looked for).
    if case == "skipped-runner":
        for c in FAMILY:
            assert f"adult/n=1000/{c}/t4/s0: skipped (skipped for a reason)" in md, c
    if case == "all-failed":
        for c in FAMILY:
            assert f"adult/n=1000/{c}/cpu/s0: failed (ValueError: x)" in md, c


def test_each_metric_prints_in_one_format_in_its_units(tmp_path: Path) -> None:
    """RMSE is printed positive, in one number of decimals per table, under a heading that says
    lower is better; accuracy keeps four decimals."""
    from rich.console import Console

    from treeline.console import summary_table
    from treeline.data.metrics import number

    rows = []
    for seed in range(3):
        rows += [
            _result("xgboost", 1000, seed, -631.4552, metric="rmse", baseline=-3950.0),
            _result("mlp", 1000, seed, -1234.5, metric="rmse", baseline=-3950.0),
        ]
    md = _report(tmp_path, rows)
    assert "tree RMSE ↓" in md and "deep RMSE ↓" in md
    assert "| 631.5 |" in md and "| 1,234.5 |" in md and "| 3,950.0 |" in md
    assert "−RMSE (target units; higher is better)" not in md  # the axis label lives in the PNG
    console = Console(width=120, record=True)
    console.print(summary_table(rows))
    text = console.export_text()
    assert "RMSE ↓" in text and "631.5" in text and "1,234.5" in text
    from treeline.console import _cell_line

    lines = [_cell_line(r) for r in rows[:2]]  # as each cell finishes: one format per dataset
    assert "test RMSE 631  " in lines[0] and "test RMSE 1,234  " in lines[1]
    assert number("accuracy", 0.86456) == "0.8646" and number("log_loss", 0.3) == "0.3000"
    assert number("rmse", 0.012341) == "0.01234" and number("rmse", float("nan")) == "–"


def test_a_size_without_a_verdict_says_which_family_is_missing(tmp_path: Path) -> None:
    rows = []
    for seed in range(3):
        rows += [
            _result("xgboost", 1000, seed, 0.85 + seed * 1e-3),
            _result("mlp", 1000, seed, 0.80 + seed * 1e-3),
            _result("xgboost", 5000, seed, 0.86 + seed * 1e-3),
            _result("mlp", 5000, seed, 0.0, status="timeout", error="killed: tuning ran 9 s"),
        ]
    md = _report(tmp_path, rows)
    assert "no verdict at n = 5,000 (no network with a finished cell)" in md


def test_a_cell_recorded_again_at_another_budget_is_reported_once_the_latest(
    tmp_path: Path,
) -> None:
    """`--budget-scale 0.1` and later `0.25` leave two records of each cell (two resume keys);
    the report takes the latest — as the store gives them back, newest first — and says so."""
    from dataclasses import replace

    from treeline.record.store import Tracker

    old = replace(_result("mlp", 1000, 0, 0.50), started_at=1_000.0)
    new = replace(_result("mlp", 1000, 0, 0.90), started_at=2_000.0)
    tree = replace(_result("xgboost", 1000, 0, 0.80), started_at=1_500.0)
    frame = results_frame([new, tree, old])
    assert frame.attrs["superseded"] == 1
    assert frame.loc[frame.contender == "mlp", "test_score"].tolist() == [0.90]
    assert "(1 older records of the same cells, at another budget, set aside" in _report(
        tmp_path, [new, tree, old]
    )
    # The store gives each record's start back (MLflow's run start), which decides the latest.
    tracker = Tracker("s", f"sqlite:///{tmp_path}/m.db")
    tracker.record(new, {})
    (back,) = tracker.results()
    assert back.started_at == pytest.approx(2_000.0)


def test_a_group_of_skipped_cells_still_names_its_metric() -> None:
    """Cells skipped before they loaded data (a GPU runner here) record no metric; the summary
    still heads their group with the metric they would have been scored on, not a bare arrow."""
    from rich.console import Console

    from treeline.config.runner_profile import get_runner
    from treeline.console import summary_table
    from treeline.execute.plan import expand
    from treeline.execute.resolve import load_suite
    from treeline.execute.result import CellResult

    cells = expand(load_suite("smoke"), {"t4": get_runner("t4")})
    console = Console(width=120, record=True)
    console.print(summary_table([CellResult(c, "skipped", error="no GPU") for c in cells]))
    lines = [ln.strip() for ln in console.export_text().splitlines()]
    assert "accuracy ↑" in lines and "RMSE ↓" in lines, lines


def test_the_four_questions_answer_their_own_and_the_html_keeps_no_markdown(
    tmp_path: Path,
) -> None:
    rows = []
    for seed in range(3):
        for n, gap in ((1000, -0.05), (20000, 0.05)):  # a crossover along n
            rows += [
                _result("xgboost", n, seed, 0.85 + seed * 1e-3),
                _result("mlp", n, seed, 0.85 + gap + seed * 1e-3),
            ]
    md = _report(tmp_path, rows)
    modality = next(line for line in md.splitlines() if line.startswith("**Modality**"))
    size = next(line for line in md.splitlines() if line.startswith("**Data size**"))
    assert "tabular (1 dataset) — networks ahead: adult at n = 20,000 on cpu" in modality
    assert "at n = 1,000 →" in size and "crossover: networks ahead from n* ≈" in size
    page = (tmp_path / "index.html").read_text()
    assert "`" not in page and "**" not in page and "<code>" in page
