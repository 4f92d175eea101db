"""A cell's result — one shape from the worker to the report.

The worker fills `Measurements`, the parent adds wall-clock and cost, `record/store.py` writes a
result to MLflow and reads it back through `record/schema.py` (every MLflow name lives there),
and the analysis reads `CellResult`s.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

from treeline.execute.cell import Cell
from treeline.execute.schedule import TrialRecord

Status = Literal["ok", "failed", "timeout", "oom", "skipped"]
STATUSES: tuple[str, ...] = get_args(Status)
FINISHED: tuple[str, ...] = ("ok", "failed", "timeout", "oom")  # a rerun does not repeat these
# Not a failure: measured, or not runnable here (a skip says why). MLflow: FINISHED, else FAILED.
PASSED: tuple[str, ...] = ("ok", "skipped")
NAN = math.nan
T = TypeVar("T")


@dataclass
class Measurements:
    """Every metric a cell records. NaN means not measured (never a made-up 0)."""

    test_score: float = NAN  # the primary metric oriented so that higher is better
    test_metric: float = NAN  # the primary metric as usually reported: logged as test_<metric>
    val_score: float = NAN
    baseline_test_score: float = NAN  # the trivial model's (majority class / mean)
    fit_seconds: float = NAN  # on the budget clock: tuning + training (+ featurizing charged)
    # The same in wall seconds: equal to fit_seconds unless the runner's clock counts CPU time.
    fit_wall_seconds: float = NAN
    overrun_seconds: float = NAN
    time_to_best_seconds: float = NAN
    data_seconds: float = NAN  # loading the data (not charged)
    featurize_seconds: float = NAN  # featurizer cost for this cell's rows (charged, logged apart)
    predict_seconds: float = NAN  # the best model on the test set (with its featurizing)
    predict_rows_per_second: float = NAN
    peak_rss_mb: float = NAN
    peak_vram_mb: float = NAN
    wall_seconds: float = NAN  # the worker process, start to end
    overhead_seconds: float = NAN  # wall − fit − predict: start-up, loading, scoring the curve
    curve_scoring_seconds: float = NAN  # scoring new bests on test (the budget clock stood still)
    cost_usd: float = NAN  # (fit wall + predict seconds) × the runner's price per hour
    n_trials: float = NAN
    n_trials_pruned: float = NAN
    n_trials_failed: float = NAN
    n_trials_oom: float = NAN
    # The work the trials did (schedule.UNITS), summed: what a replay repeats.
    work_rounds: float = NAN
    work_trees: float = NAN
    work_steps: float = NAN
    work_epochs: float = NAN
    n_train: float = NAN
    n_val: float = NAN
    n_test: float = NAN
    # Whether the best model had stopped improving (1) or was still improving when the budget
    # ended (0): the trial's early stopping fired, or its validation plateaued (schedule.py).
    converged: float = NAN
    steps_done: float = NAN  # the best trial's last reported step (rounds or epochs)
    best_step: float = NAN  # the step of its best validation score
    # How much of the machine the cell had while tuning: its CPU seconds ÷ (wall × threads),
    # and the cores other processes kept busy meanwhile (with the hypervisor's steal).
    cpu_share: float = NAN
    machine_load: float = NAN
    contended: float = NAN  # 1: both below/above measure.py's thresholds: a loaded machine
    # What a network's training actually ran with, read off torch (1 or 0; NaN: not a network,
    # or no convolution): bf16 autocast active in its forward pass, conv weights channels-last.
    bf16_autocast: float = NAN
    channels_last: float = NAN

    def update(self, **values: float) -> None:
        for k, v in values.items():
            if k not in METRIC_FIELDS:
                raise KeyError(f"unknown measurement '{k}'")
            setattr(self, k, float(v))


METRIC_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Measurements))

# A score that does not mean what it seems, or a result that the budget or the machine decided
# (analysis/flags.py shows them wherever it appears).
BASELINE_FLAG, UNTUNED_FLAG = "≈ baseline", "untuned: 1 complete trial"
BUDGET_BOUND_FLAG, CONTENDED_FLAG = "budget-bound", "contended"
FLAGS: tuple[str, ...] = (BASELINE_FLAG, UNTUNED_FLAG, BUDGET_BOUND_FLAG, CONTENDED_FLAG)


def complete_trials(m: Measurements) -> float:
    """Trials that ended with a model and a validation score: what tuning had to choose
    from. Pruned and failed trials did not count towards it."""
    failed = 0.0 if math.isnan(m.n_trials_failed) else m.n_trials_failed
    pruned = 0.0 if math.isnan(m.n_trials_pruned) else m.n_trials_pruned
    return m.n_trials - pruned - failed


def cell_flags(m: Measurements) -> list[str]:
    """One cell's flags: its test score no better than the trivial model's; at most one trial
    completed (its default, or one that the pruner left); its best model still improving
    when the budget ended; a machine loaded by other processes while it tuned."""
    out = []
    if m.test_score == m.test_score and m.test_score <= m.baseline_test_score + 1e-12:
        out.append(BASELINE_FLAG)
    if complete_trials(m) <= 1:
        out.append(UNTUNED_FLAG)
    if m.converged == 0:
        out.append(BUDGET_BOUND_FLAG)
    if m.contended == 1:
        out.append(CONTENDED_FLAG)
    return out


@dataclass(frozen=True)
class AnytimePoint:
    elapsed: float  # seconds on the budget clock when this trial finished
    trial: int
    val_score: float
    test_score: float


@dataclass
class CellResult:
    cell: Cell
    status: Status
    error: str = ""
    metric: str = ""  # the primary metric's name: accuracy, rmse
    measurements: Measurements = field(default_factory=Measurements)
    params: dict[str, Any] = field(default_factory=dict)  # the best configuration
    anytime: list[AnytimePoint] = field(default_factory=list)
    trial_errors: list[str] = field(default_factory=list)
    schedule: list[TrialRecord] = field(default_factory=list)  # logged as SCHEDULE_ARTIFACT
    data_notes: list[str] = field(default_factory=list)  # how the data was handled (clean.py)
    started_at: float = NAN  # epoch seconds: the worker's start and end, the run's in MLflow
    ended_at: float = NAN
    log_path: Path | None = None
    predictions: Path | None = None  # the best model's test predictions (execute/predictions)
    from_earlier_run: bool = False

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["cell"] = self.cell.to_json()
        for key in ("log_path", "predictions"):
            d[key] = str(d[key]) if d[key] else None
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CellResult:
        return cls(
            **{
                **d,
                "cell": Cell.from_json(d["cell"]),
                "measurements": Measurements(**d["measurements"]),
                "anytime": [AnytimePoint(**p) for p in d["anytime"]],
                "schedule": [TrialRecord(**t) for t in d.get("schedule", [])],
                "log_path": Path(d["log_path"]) if d.get("log_path") else None,
                "predictions": Path(d["predictions"]) if d.get("predictions") else None,
            }
        )


def latest(items: list[T], result_of: Callable[[T], CellResult]) -> list[T]:
    """One item per cell id: where a store holds the same cell more than once (run again at
    another budget scale, which is another resume key), the latest record stands."""
    kept: dict[str, T] = {}
    for item in items:
        r = result_of(item)
        old = kept.get(r.cell.id)
        if old is None or _started(r) >= _started(result_of(old)):
            kept[r.cell.id] = item
    return list(kept.values())


def _started(r: CellResult) -> float:
    return -math.inf if math.isnan(r.started_at) else r.started_at


@dataclass
class Replay:
    """A recorded cell run again on its recorded work (`treeline replay`), beside the figures
    of the recording it repeats. Logged as its own run (tag `treeline.kind` = replay), never
    read as a cell: it does not count towards a suite or its resume."""

    replayed: CellResult
    recorded_run_id: str
    recorded_runner: str
    recorded_device: str
    recorded_test_score: float
    recorded_fit_seconds: float
    recorded_cost_usd: float
    same_work: bool  # every trial did the recorded work, with the recorded outcome
    exact_expected: bool  # same device and threads, a deterministic library: bit-equal expected
    tolerance: float  # |replayed − recorded test score| allowed

    @property
    def difference(self) -> float:
        return self.replayed.measurements.test_score - self.recorded_test_score

    @property
    def bit_equal(self) -> bool:
        return self.replayed.measurements.test_score == self.recorded_test_score

    @property
    def within_tolerance(self) -> bool:
        return self.replayed.status == "ok" and abs(self.difference) <= self.tolerance

    @property
    def speedup(self) -> float:
        """Recorded fit seconds ÷ replayed: the same work, so a pure hardware ratio."""
        fit = self.replayed.measurements.fit_seconds
        return self.recorded_fit_seconds / fit if fit > 0 else NAN
