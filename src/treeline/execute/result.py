"""A cell's result — one shape from the worker to the report — and every name it has in MLflow.

The worker fills `Measurements`, the parent adds wall-clock and cost, `record/store.py` writes a
result to MLflow and reads it back only through `to_mlflow` / `from_mlflow` below, and the
analysis reads `CellResult`s. Metric names are the fields of `Measurements` (plus
`test_<metric>`, e.g. `test_accuracy`), params and tags are listed here; nothing else names them.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args

from treeline.execute.cell import Cell
from treeline.execute.schedule import TrialRecord

Status = Literal["ok", "failed", "timeout", "oom", "skipped"]
STATUSES: tuple[str, ...] = get_args(Status)
FINISHED: tuple[str, ...] = ("ok", "failed", "timeout", "oom")  # a rerun does not repeat these
TAG = "treeline."  # prefix of every tag
COMPLETE_TAG = "treeline.complete"  # set last: a run without it was cut off while being written
CELL_TAG = "treeline.cell"  # the resolved cell as JSON: how a result is read back whole
ANYTIME_VAL, ANYTIME_TEST = "anytime_val_score", "anytime_test_score"  # stepped by elapsed ms
PARAMS = ("n", "seed", "budget_seconds", "grace_seconds", "threads", "price_per_hour")
HP = "hp."  # prefix of the best configuration's params
SCHEDULE_ARTIFACT = "schedule.json"  # every trial's parameters, outcome and work
KIND_TAG = "treeline.kind"  # absent on cells; "replay" on replays, "report" on the report
REPLAY_OF = "treeline.replay_of"  # a replay's recorded run id
NAN = math.nan


@dataclass
class Measurements:
    """Every metric a cell records. NaN means not measured (never a made-up 0)."""

    test_score: float = NAN  # the primary metric oriented so that higher is better
    test_metric: float = NAN  # the primary metric as usually reported: logged as test_<metric>
    val_score: float = NAN
    baseline_test_score: float = NAN  # the trivial model's (majority class / mean)
    fit_seconds: float = NAN  # on the budget clock: tuning + training (+ featurizing charged)
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
    cost_usd: float = NAN  # (fit + predict seconds) × the runner's price per hour
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

    def update(self, **values: float) -> None:
        for k, v in values.items():
            if k not in METRIC_FIELDS:
                raise KeyError(f"unknown measurement '{k}'")
            setattr(self, k, float(v))


METRIC_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Measurements))


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
    from_earlier_run: bool = False

    @property
    def metrics(self) -> dict[str, float]:
        """The measured metrics by their MLflow names."""
        out = {}
        for name in METRIC_FIELDS:
            value = getattr(self.measurements, name)
            if math.isnan(value):
                continue
            out[f"test_{self.metric}" if name == "test_metric" else name] = value
        return out

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["cell"] = self.cell.to_json()
        d["log_path"] = str(self.log_path) if self.log_path else None
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
            }
        )


def tags(result: CellResult, machine: dict[str, str]) -> dict[str, str]:
    """Every tag of a cell's run. `machine`: versions, git commit, CPU/GPU (see run.py)."""
    c = result.cell
    return {
        **{TAG + k: v for k, v in machine.items()},
        TAG + "cell_id": c.id,
        TAG + "resume_key": c.resume_key,
        TAG + "suite": c.suite,
        TAG + "dataset": c.dataset.label,
        TAG + "modality": c.modality,
        TAG + "task": c.task,
        TAG + "contender": c.contender.label,
        TAG + "featurizer": c.contender.featurizer or "",
        TAG + "family": c.family,
        TAG + "runner": c.runner,
        TAG + "device": c.device,
        TAG + "price_source": c.price_source,
        TAG + "metric": result.metric,
        TAG + "status": result.status,
        TAG + "error": result.error[-4900:],
        TAG + "data_notes": "; ".join(result.data_notes)[:4900],
        CELL_TAG: json.dumps(c.to_json(), sort_keys=True, default=str),
    }


def dataset_input(result: CellResult) -> dict[str, str]:
    """The cell's data as an MLflow dataset input (the UI's Dataset column): which data, which
    rows (n, seed), and a digest of both."""
    c = result.cell
    source = json.dumps(
        {**c.dataset.identity(), "n": c.n, "seed": c.seed}, sort_keys=True, default=str
    )
    m = result.measurements
    profile = {"n": c.n, "seed": c.seed, "train": m.n_train, "val": m.n_val, "test": m.n_test}
    return {
        "name": c.dataset.label,
        "digest": hashlib.sha256(source.encode()).hexdigest()[:16],
        "source_type": "treeline",
        "source": source,
        "profile": json.dumps({k: v for k, v in profile.items() if v == v}),
    }


def machine_tags(tags: dict[str, str]) -> dict[str, str]:
    """The `machine` part of a run's tags back (the inverse of `tags(..., machine)`)."""
    machine = ("version.", "git_commit", "cpu", "gpu", "suite_hash")
    return {
        k.removeprefix(TAG): v
        for k, v in tags.items()
        if k.startswith(TAG) and k.removeprefix(TAG).startswith(machine)
    }


def params(result: CellResult, grace_seconds: float) -> dict[str, str]:
    c = result.cell
    values = [c.n, c.seed, c.budget, grace_seconds, c.threads, c.price_per_hour]
    out = dict(zip(PARAMS, values, strict=True))
    out.update({HP + k: v for k, v in result.params.items()})
    return {k: str(v)[:6000] for k, v in out.items()}


def metrics(result: CellResult) -> dict[str, float]:
    return result.metrics


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


REPLAY_METRICS = ("recorded_test_score", "recorded_fit_seconds", "recorded_cost_usd")


def replay_tags(replay: Replay, machine: dict[str, str]) -> dict[str, str]:
    """A replay's tags: the cell's (for its replayed runner) without the resume key, so no
    resume ever mistakes it for the cell, plus what it replays."""
    out = tags(replay.replayed, machine)
    del out[TAG + "resume_key"]
    out.update(
        {
            KIND_TAG: "replay",
            REPLAY_OF: replay.recorded_run_id,
            TAG + "recorded_runner": replay.recorded_runner,
            TAG + "recorded_device": replay.recorded_device,
            TAG + "same_work": str(int(replay.same_work)),
            TAG + "exact_expected": str(int(replay.exact_expected)),
            TAG + "tolerance": repr(replay.tolerance),
        }
    )
    return out


def replay_metrics(replay: Replay) -> dict[str, float]:
    out = metrics(replay.replayed)
    out.update({name: float(getattr(replay, name)) for name in REPLAY_METRICS})
    return out


def replay_from_mlflow(
    tags: dict[str, str], metrics: dict[str, float], params: dict[str, str]
) -> Replay | None:
    if tags.get(KIND_TAG) != "replay":
        return None
    replayed = from_mlflow(tags, metrics, params, [], kind="replay")
    if replayed is None:
        return None
    return Replay(
        replayed=replayed,
        recorded_run_id=tags.get(REPLAY_OF, ""),
        recorded_runner=tags.get(TAG + "recorded_runner", ""),
        recorded_device=tags.get(TAG + "recorded_device", ""),
        **{name: float(metrics.get(name, NAN)) for name in REPLAY_METRICS},
        same_work=tags.get(TAG + "same_work") == "1",
        exact_expected=tags.get(TAG + "exact_expected") == "1",
        tolerance=float(tags.get(TAG + "tolerance", "nan")),
    )


def from_mlflow(
    tags: dict[str, str],
    metrics: dict[str, float],
    params: dict[str, str],
    anytime: list[tuple[float, float]],
    kind: str = "cell",
) -> CellResult | None:
    """A recorded run back as a CellResult; None for a run that is not a complete cell (or,
    with `kind="replay"`, a complete replay)."""
    if tags.get(COMPLETE_TAG) != "1" or CELL_TAG not in tags:
        return None
    if tags.get(KIND_TAG, "cell") != kind:
        return None
    metric = tags.get(TAG + "metric", "")
    m = Measurements()
    for name in METRIC_FIELDS:
        key = f"test_{metric}" if name == "test_metric" else name
        if key in metrics:
            setattr(m, name, float(metrics[key]))
    return CellResult(
        cell=Cell.from_json(json.loads(tags[CELL_TAG])),
        status=tags[TAG + "status"],  # type: ignore[arg-type]
        error=tags.get(TAG + "error", ""),
        data_notes=[n for n in tags.get(TAG + "data_notes", "").split("; ") if n],
        metric=metric,
        measurements=m,
        params={k.removeprefix(HP): v for k, v in params.items() if k.startswith(HP)},
        # The test curve is what the budget axis reads; validation stays in MLflow.
        anytime=[AnytimePoint(t, -1, NAN, s) for t, s in anytime],
        from_earlier_run=True,
    )
