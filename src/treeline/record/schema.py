"""Every name Treeline gives things in MLflow, and the mapping of a result onto them.

The store, the claims, the spool, the report and the tests read and write runs only through
this module: a tag, param or metric name is spelled here and nowhere else, and so is every
search filter (`tag_filter`). Names are read at call time (`schema.RESUME_KEY`), so a renamed
name renames the writes and the queries together — `tests/test_schema.py` holds it to that.
The values themselves are fixed by ../shared/DESIGN.md (dashboards and nightly checks rely on
them); `tests/design_names.py` spells them out independently.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from treeline.execute.cell import Cell
from treeline.execute.result import (
    METRIC_FIELDS,
    PASSED,
    AnytimePoint,
    CellResult,
    Measurements,
    Replay,
    cell_flags,
)

NAN = math.nan

# Tags. Every tag Treeline writes starts with TAG.
TAG = "treeline."
CELL_ID = "treeline.cell_id"  # the cell's id; also the run's name
RESUME_KEY = "treeline.resume_key"  # what a rerun matches on (Cell.resume_key)
SUITE = "treeline.suite"
DATASET = "treeline.dataset"
MODALITY = "treeline.modality"
TASK = "treeline.task"
CONTENDER = "treeline.contender"
FEATURIZER = "treeline.featurizer"
FAMILY = "treeline.family"
RUNNER = "treeline.runner"
DEVICE = "treeline.device"
PRICE_SOURCE = "treeline.price_source"
METRIC = "treeline.metric"  # the primary metric's name: accuracy, rmse
STATUS = "treeline.status"
ERROR = "treeline.error"
DATA_NOTES = "treeline.data_notes"
# What the score does not show (result.cell_flags): ≈ baseline, untuned, budget-bound, contended;
# a tag so that a reviewer filtering runs in the MLflow UI sees it. Written, never read back.
FLAGS = "treeline.flags"
CELL = "treeline.cell"  # the resolved cell as JSON: how a result is read back whole
COMPLETE = "treeline.complete"  # set last: a run without it was cut off while being written
KIND = "treeline.kind"  # absent on cells; "replay" on replays, "report" on the report
REPLAY_OF = "treeline.replay_of"  # a replay's recorded run id
RECORDED_RUNNER = "treeline.recorded_runner"
RECORDED_DEVICE = "treeline.recorded_device"
SAME_WORK = "treeline.same_work"
EXACT_EXPECTED = "treeline.exact_expected"
TOLERANCE = "treeline.tolerance"
SUITE_HASH = "treeline.suite_hash"
CLAIMED_BY = "treeline.claimed_by"  # the claim's holder that recorded the cell
# Where a cell was recorded (TAG + these keys): library versions, git commit, CPU, GPU.
MACHINE_KEYS = ("version.", "git_commit", "cpu", "gpu", "suite_hash", "claimed_by")
NOTE = "mlflow.note.content"  # an experiment's description in the MLflow UI
KIND_REPLAY, KIND_REPORT = "replay", "report"
KIND_REPORTS = "reports"  # the experiment tag of a suite's reports experiment


def reports_experiment(suite: str) -> str:
    """Where a suite's report run is logged: apart from its cells in the MLflow UI."""
    return f"{suite} (reports)"


# Params.
PARAMS = ("n", "seed", "budget_seconds", "grace_seconds", "threads", "price_per_hour")
HP = "hp."  # prefix of the best configuration's params

# Metrics: the fields of `Measurements` (test_metric as `test_<metric>`), and the curves.
ANYTIME_VAL, ANYTIME_TEST = "anytime_val_score", "anytime_test_score"  # stepped by elapsed ms
REPLAY_METRICS = ("recorded_test_score", "recorded_fit_seconds", "recorded_cost_usd")

# Artifacts.
SCHEDULE_ARTIFACT = "schedule.json"  # every trial's parameters, outcome and work
CELL_ARTIFACT = "cell.json"  # the whole result (CellResult.to_json) but its schedule
PREDICTIONS_ARTIFACT = "predictions.npz"  # the best model's test predictions (execute/predictions)

# Claims: registered models named CLAIM_PREFIX-<experiment>-<resume key>-<attempt>.
CLAIM_PREFIX = "treeline-claim"
CLAIM_OWNER, CLAIM_HEARTBEAT, CLAIM_CELL = "owner", "heartbeat", "cell_id"


def tag_filter(name: str, value: str) -> str:
    """An MLflow search filter `tag = value`. MLflow's filter grammar has no escape for a
    quote inside a value, so quotes and backslashes are dropped (no id or key contains one)."""
    clean = value.replace("\\", "").replace("'", "")
    return f"tags.`{name}` = '{clean}'"


def claim_filter(prefix: str) -> str:
    """Registered models whose name starts with `prefix` (a claim's cell)."""
    return f"name LIKE '{prefix}%'"


def test_metric_name(metric: str) -> str:
    """The primary metric as usually reported: `test_accuracy`, `test_rmse`."""
    return f"test_{metric}"


def metrics(result: CellResult) -> dict[str, float]:
    """The measured metrics by their MLflow names (NaN: not measured, not logged)."""
    out = {}
    for name in METRIC_FIELDS:
        value = getattr(result.measurements, name)
        if math.isnan(value):
            continue
        out[test_metric_name(result.metric) if name == "test_metric" else name] = value
    return out


def tags(result: CellResult, machine: dict[str, str]) -> dict[str, str]:
    """Every tag of a cell's run. `machine`: versions, git commit, CPU/GPU (see MACHINE_KEYS)."""
    c = result.cell
    return {
        **{TAG + k: v for k, v in machine.items()},
        CELL_ID: c.id,
        RESUME_KEY: c.resume_key,
        SUITE: c.suite,
        DATASET: c.dataset.label,
        MODALITY: c.modality,
        TASK: c.task,
        CONTENDER: c.contender.label,
        FEATURIZER: c.contender.featurizer or "",
        FAMILY: c.family,
        RUNNER: c.runner,
        DEVICE: c.device,
        PRICE_SOURCE: c.price_source,
        METRIC: result.metric,
        STATUS: result.status,
        ERROR: result.error[-4900:],
        DATA_NOTES: "; ".join(result.data_notes)[:4900],
        FLAGS: "; ".join(cell_flags(result.measurements)) if result.status == "ok" else "",
        CELL: json.dumps(c.to_json(), sort_keys=True, default=str),
    }


def data_of(run_tags: dict[str, str]) -> dict[str, Any] | None:
    """The identity of the data a run was recorded on (DatasetRef.identity), from its cell."""
    from treeline.data import DatasetRef

    try:
        d = json.loads(run_tags[CELL])["dataset"]
        return DatasetRef(**d).identity()
    except (KeyError, TypeError, ValueError):
        return None


def machine_tags(run_tags: dict[str, str]) -> dict[str, str]:
    """The `machine` part of a run's tags back (the inverse of `tags(..., machine)`)."""
    return {
        k.removeprefix(TAG): v
        for k, v in run_tags.items()
        if k.startswith(TAG) and k.removeprefix(TAG).startswith(MACHINE_KEYS)
    }


def params(result: CellResult) -> dict[str, str]:
    c = result.cell
    values = [c.n, c.seed, c.budget.seconds, c.budget.grace, c.threads, c.price_per_hour]
    out: dict[str, Any] = dict(zip(PARAMS, values, strict=True))
    out.update({HP + k: v for k, v in result.params.items()})
    return {k: str(v)[:6000] for k, v in out.items()}


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


def is_ok_or_skipped(run_tags: dict[str, str]) -> bool:
    """Whether a run's cell ended ok or skipped (MLflow's FINISHED), else FAILED."""
    return run_tags.get(STATUS) in PASSED


def from_mlflow(
    run_tags: dict[str, str],
    run_metrics: dict[str, float],
    run_params: dict[str, str],
    anytime: list[tuple[float, float]],
    kind: str = "cell",
) -> CellResult | None:
    """A recorded run back as a CellResult; None for a run that is not a complete cell (or,
    with `kind="replay"`, a complete replay)."""
    if run_tags.get(COMPLETE) != "1" or CELL not in run_tags:
        return None
    if run_tags.get(KIND, "cell") != kind:
        return None
    metric = run_tags.get(METRIC, "")
    m = Measurements()
    for name in METRIC_FIELDS:
        key = test_metric_name(metric) if name == "test_metric" else name
        if key in run_metrics:
            setattr(m, name, float(run_metrics[key]))
    return CellResult(
        cell=Cell.from_json(json.loads(run_tags[CELL])),
        status=run_tags[STATUS],  # type: ignore[arg-type]
        error=run_tags.get(ERROR, ""),
        data_notes=[n for n in run_tags.get(DATA_NOTES, "").split("; ") if n],
        metric=metric,
        measurements=m,
        params={k.removeprefix(HP): v for k, v in run_params.items() if k.startswith(HP)},
        # The test curve is what the budget axis reads; validation stays in MLflow.
        anytime=[AnytimePoint(t, -1, NAN, s) for t, s in anytime],
        from_earlier_run=True,
    )


def replay_tags(replay: Replay, machine: dict[str, str]) -> dict[str, str]:
    """A replay's tags: the cell's (for its replayed runner) without the resume key, so no
    resume ever mistakes it for the cell, plus what it replays."""
    out = tags(replay.replayed, machine)
    del out[RESUME_KEY]
    out.update(
        {
            KIND: KIND_REPLAY,
            REPLAY_OF: replay.recorded_run_id,
            RECORDED_RUNNER: replay.recorded_runner,
            RECORDED_DEVICE: replay.recorded_device,
            SAME_WORK: str(int(replay.same_work)),
            EXACT_EXPECTED: str(int(replay.exact_expected)),
            TOLERANCE: repr(replay.tolerance),
        }
    )
    return out


def replay_metrics(replay: Replay) -> dict[str, float]:
    out = metrics(replay.replayed)
    out.update({name: float(getattr(replay, name)) for name in REPLAY_METRICS})
    return out


def replay_from_mlflow(
    run_tags: dict[str, str], run_metrics: dict[str, float], run_params: dict[str, str]
) -> Replay | None:
    if run_tags.get(KIND) != KIND_REPLAY:
        return None
    replayed = from_mlflow(run_tags, run_metrics, run_params, [], kind=KIND_REPLAY)
    if replayed is None:
        return None
    return Replay(
        replayed=replayed,
        recorded_run_id=run_tags.get(REPLAY_OF, ""),
        recorded_runner=run_tags.get(RECORDED_RUNNER, ""),
        recorded_device=run_tags.get(RECORDED_DEVICE, ""),
        **{name: float(run_metrics.get(name, NAN)) for name in REPLAY_METRICS},
        same_work=run_tags.get(SAME_WORK) == "1",
        exact_expected=run_tags.get(EXACT_EXPECTED) == "1",
        tolerance=float(run_tags.get(TOLERANCE, "nan")),
    )
