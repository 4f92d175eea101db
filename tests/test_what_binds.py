"""What binds a cell's result, recorded with it: whether its best model converged (the
contender's own early stopping, or a validation plateau) or was still improving at the end of
the budget; how much of the machine it had (contended or quiet); and `clock: cpu`, a budget in
CPU seconds per thread that a loaded machine does not shorten."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from treeline.analysis.boundary import compare
from treeline.cli import main
from treeline.execute.budget import Budget, BudgetClock, cpu_seconds_per_thread
from treeline.execute.measure import CpuShare
from treeline.execute.schedule import TrialRecord
from treeline.execute.tuning import _Curve
from treeline.record.store import Tracker


def _record(values: list[float], cut: bool) -> TrialRecord:
    curve = _Curve()
    for step, v in enumerate(values, 1):
        curve.add(step, v)
    record = TrialRecord(0, {}, cut_at_check=7 if cut else None)
    curve.into(record)
    return record


def test_a_trial_converged_when_it_stopped_itself_or_plateaued_before_the_cut() -> None:
    assert _record([0.5, 0.6, 0.6], cut=False).converged  # early stopping fired
    rising = _record([0.5, 0.6, 0.7, 0.8], cut=True)
    assert rising.converged is False and (rising.best_step, rising.last_step) == (4, 4)
    flat = _record([0.5, 0.8, 0.7, 0.79, 0.78, 0.8, 0.79], cut=True)  # 5 since the best
    assert flat.converged and flat.best_step == 2 and flat.reports_since_best == 5
    assert _record([0.5, 0.8, 0.7, 0.79, 0.78], cut=True).converged is False  # 3 are noise
    assert _record([], cut=True).converged is False  # cut before any validation score
    pruned = _record([0.5], cut=False)
    pruned.outcome = "pruned"
    assert pruned.converged is None


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@pytest.fixture
def neighbours() -> Iterator[int]:
    """One busy process per core beside the test: a loaded machine."""
    cores = os.cpu_count() or 1
    procs = [multiprocessing.Process(target=_spin, args=(30,), daemon=True) for _ in range(cores)]
    for p in procs:
        p.start()
    time.sleep(0.3)
    yield cores
    for p in procs:
        p.kill()
        p.join()


def test_a_cell_beside_busy_processes_is_measured_contended(neighbours: int) -> None:
    with CpuShare(threads=neighbours) as share:
        _spin(1.5)  # one thread of `neighbours`: under CONTENDED_SHARE on its own
    s = share.share
    assert s is not None and s.contended
    assert s.cpu_share < 0.8 and s.machine_load > 0.5


def test_a_cpu_clock_counts_cpu_seconds_not_wall_seconds(neighbours: int) -> None:
    wall = BudgetClock(10.0)
    cpu = BudgetClock(10.0, timer=cpu_seconds_per_thread(1))
    time.sleep(0.4)  # waiting costs no CPU
    _spin(0.6)  # sharing a core with a neighbour: less CPU than wall
    assert wall.elapsed() >= 1.0
    assert cpu.elapsed() < 0.9 * wall.elapsed()
    assert Budget(10).kill_after("tuning", clock="cpu") == 4 * Budget(10).kill_after("tuning")


SUITE = """\
name: binds
description: a network cut by its budget, trees that stop themselves, on the CPU clock
budget: 1.5
seeds: [0]
datasets:
  - name: adult
    n: [500, 8000]
contenders: [xgboost, ft-transformer]
runners: [cpu-shared]
"""


def test_a_cell_records_convergence_and_its_share_of_the_machine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "binds.yaml").write_text(SUITE)
    uri = f"sqlite:///{tmp_path}/store.db"
    assert main(["run", str(tmp_path / "binds.yaml"), "--tracking-uri", uri]) == 0
    tracker = Tracker("binds", uri)
    results = {(r.cell.contender.label, r.cell.n): r for r in tracker.results()}
    flags = {r.data.tags["treeline.cell_id"]: r.data.tags["treeline.flags"] for r in tracker.runs()}
    assert "budget-bound" in flags["adult/n=8000/ft-transformer/cpu-shared/s0"]  # for the UI
    xgb, ft = results["xgboost", 500].measurements, results["ft-transformer", 8000].measurements
    assert results["xgboost", 500].cell.clock == "cpu"
    assert xgb.converged == 1.0 and xgb.best_step <= xgb.steps_done
    assert ft.converged == 0.0  # an FT-Transformer does not converge in 1.5 s on 6,400 rows
    for m in (xgb, ft):
        assert 0 < m.cpu_share <= 1.5 and m.machine_load >= 0 and m.contended in (0.0, 1.0)
        # The budget counted CPU seconds; the cost, wall seconds.
        assert m.fit_wall_seconds > 0 and m.fit_wall_seconds != m.fit_seconds
        assert m.cost_usd == pytest.approx((m.fit_wall_seconds + m.predict_seconds) * 0.0504 / 3600)


# The analysis: flags per seed, verdicts that name what binds them, intervals over test rows.


def _cell_result(contender: str, n: int, seed: int, pred, y, **m):
    """A finished binary cell whose stored predictions score what it records."""
    import io

    import numpy as np
    from cells import a_cell

    from treeline.data.metrics import score
    from treeline.execute.result import CellResult, Measurements
    from treeline.record.store import Recorded

    family = "deep" if contender in ("mlp", "tabm") else "tree"
    cell = a_cell(contender, family, n=n, seed=seed, budget=8.0)
    proba = np.column_stack([1 - pred, pred])
    s = score("binary", y, proba, "accuracy")
    measured = {"n_trials": 10, "baseline_test_score": 0.5, "converged": 1.0, **m}
    result = CellResult(
        cell,
        "ok",
        metric="accuracy",
        measurements=Measurements(test_score=s.score, test_metric=s.value, **measured),
        started_at=1000.0 + seed,
    )
    buf = io.BytesIO()
    np.savez_compressed(buf, pred=proba.astype(np.float32), y=y)
    return Recorded(f"run-{cell.id}", result, {}, "0", buf.getvalue())


def _answers(rng, y, right: float):
    """Probabilities that get about `right` of `y` right."""
    import numpy as np

    hit = rng.random(len(y)) < right
    return np.where(hit == (y == 1), 0.9, 0.1)


def test_flags_are_decided_per_seed_and_a_budget_bound_loser_binds_the_verdict() -> None:
    import numpy as np

    from treeline.analysis.content import bound_counts, decision_rows
    from treeline.analysis.frame import records_frame

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    records = []
    for seed in range(3):
        records.append(_cell_result("xgboost", 1000, seed, _answers(rng, y, 0.90), y))
        # The network: behind, still improving at the end of every seed; at the trivial
        # baseline on one seed only (its mean is well above it).
        base = 0.99 if seed == 0 else 0.5
        records.append(
            _cell_result(
                "mlp", 1000, seed, _answers(rng, y, 0.80), y,
                converged=0.0, baseline_test_score=base,
            )
        )  # fmt: skip
    frame = records_frame(records)
    (c,) = compare(frame)
    gap = c.gaps[0]
    assert gap.tree_ahead and "≈ baseline (1/3 seeds)" in gap.deep_flags
    assert "budget-bound" in gap.deep_flags and c.crossover.binds == ("budget-bound",)
    assert "budget-bound at n = 1,000 (network behind: mlp)" in c.crossover.text
    assert "— budget-bound" in decision_rows(frame, [c])[0][3]
    assert "of the ok cells, 3 budget-bound and 0 contended" in bound_counts(frame)


def test_one_seed_gets_an_interval_from_its_test_rows_and_a_small_test_set_a_wide_one() -> None:
    import numpy as np

    from treeline.analysis.boundary import ROWS_AND_SEEDS, compare
    from treeline.analysis.frame import records_frame

    widths = {}
    for rows in (114, 5000):
        rng = np.random.default_rng(1)
        y = rng.integers(0, 2, rows)
        records = [
            _cell_result("xgboost", 1000, 0, _answers(rng, y, 0.85), y),
            _cell_result("mlp", 1000, 0, _answers(rng, y, 0.80), y),
        ]
        (c,) = compare(records_frame(records))
        g = c.gaps[0]
        assert g.interval == ROWS_AND_SEEDS and g.n_seeds == 1
        assert g.low <= g.mean <= g.high
        widths[rows] = g.high - g.low
    assert widths[114] > 3 * widths[5000]  # ≈ √(5000/114) ≈ 6.6 times wider


def test_compare_names_a_loaded_machine_among_what_differs() -> None:
    import numpy as np

    from treeline.analysis.compare import environment

    y = np.random.default_rng(0).integers(0, 2, 100)
    pred = np.where(y == 1, 0.9, 0.1)
    quiet = [_cell_result("xgboost", 1000, s, pred, y, contended=0.0) for s in range(3)]
    loaded = [_cell_result("xgboost", 1000, s, pred, y, contended=float(s > 0)) for s in range(3)]
    assert "contended cells: 0 of 3 → 2 of 3" in " ".join(environment(quiet, loaded))
    assert not any("contended" in line for line in environment(quiet, quiet))
