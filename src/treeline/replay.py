"""`treeline replay CELL_ID`: run a recorded cell again on its recorded work, not on a clock.

A cell tuned under a wall-clock budget records its trial schedule (execute/schedule.py). The
replay runs the same trials with the same parameters and seeds, each stopped after the same
rounds or optimizer steps and pruned at the same step, picks the same best trial and scores test.
On the recorded kind of machine (device, threads, library versions) and for a contender whose
library is deterministic there (`Contender.exact_on`), the test score comes out bit-equal; on
another runner the work is identical, so the ratio of fit times is a pure hardware speed-up.

    from treeline.replay import replay
    r = replay("adult/n=1000/xgboost/cpu/s0", suite="quickstart")
    r.bit_equal, r.speedup
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from treeline.errors import TreelineError
from treeline.execute.result import CellResult, Replay
from treeline.execute.schedule import TrialRecord
from treeline.locate import cell_log, redact
from treeline.record.store import Recorded

# |Δ test score| allowed where bit-equality is not expected (another device, other threads or
# library versions, a library that is not deterministic there); `--tolerance` sets another.
INEXACT_TOLERANCE = 0.01


class ReplayError(TreelineError):
    """The cell cannot be replayed: not recorded, ambiguous, or recorded without a schedule."""


@dataclass
class ReplayRun:
    """A replay with what it was compared against."""

    replay: Replay
    recorded: CellResult
    recorded_schedule: list[TrialRecord]
    version_changes: list[str] = field(default_factory=list)  # "lib recorded → here"

    @property
    def passed(self) -> bool:
        """What `treeline replay` exits 0 on: the replay ran, its test score is within the
        tolerance and, where bit-equality is expected, every trial did the recorded work."""
        r = self.replay
        return r.within_tolerance and (r.same_work or not r.exact_expected)


def suite_name(suite: str) -> str:
    """A suite's experiment name from its name or its file (a suite is named as its file)."""
    return Path(suite).stem if suite.endswith((".yaml", ".yml")) else suite


def find(cell_id: str, suite: str | None = None, tracking_uri: str | None = None) -> Recorded:
    from treeline.record.store import find_recorded
    from treeline.record.store import tracking_uri as resolve

    found = find_recorded(cell_id, suite_name(suite) if suite else None, tracking_uri)
    where = f"suite '{suite_name(suite)}'" if suite else "any suite"
    if not found:
        raise ReplayError(
            f"no recorded cell '{cell_id}' in {where} of {redact(resolve(tracking_uri))} "
            "(cell ids are listed by `treeline run` and are the MLflow run names)"
        )
    suites = sorted({r.result.cell.suite for r in found})
    if len(suites) > 1:
        raise ReplayError(
            f"cell '{cell_id}' is recorded in several suites ({', '.join(suites)}): "
            "name one with --suite"
        )
    return found[0]


def replay(
    cell_id: str,
    *,
    suite: str | None = None,
    runner: str | None = None,
    tracking_uri: str | None = None,
    tolerance: float | None = None,
    record: bool = True,
) -> ReplayRun:
    """Replay a recorded cell (on `runner`, default the one it was recorded on) and record the
    replay in MLflow beside it (unless `record=False`)."""
    from treeline.config.runner_profile import get_runner
    from treeline.contenders import contender_class
    from treeline.execute.measure import versions
    from treeline.execute.supervise import execute
    from treeline.record.store import Tracker

    rec = find(cell_id, suite, tracking_uri)
    cell = rec.result.cell
    if rec.result.status != "ok":
        raise ReplayError(
            f"cell '{cell_id}' was recorded as {rec.result.status}: no model to replay"
        )
    tracker = Tracker(cell.suite, tracking_uri)
    schedule = tracker.schedule(rec.run_id)
    if not schedule:
        raise ReplayError(
            f"cell '{cell_id}' was recorded without a trial schedule (before Treeline recorded "
            "them): run it again with `treeline run --only` and `--rerun-all` to replay it"
        )
    target = cell
    if runner is None or runner == cell.runner:
        # The recorded thread count, whatever `auto` resolves to on this machine.
        profile = get_runner(cell.runner).model_copy(update={"threads": cell.threads})
    else:
        profile = get_runner(runner)
        target = cell.on(runner, profile)

    cls = contender_class(cell.contender.name)
    now = versions()
    changed = [
        f"{lib} {rec.machine[f'version.{lib}']} → {v}"
        for lib, v in now.items()
        if rec.machine.get(f"version.{lib}", v) != v
    ]
    exact = (
        target.device == cell.device
        and target.threads == cell.threads
        and cell.device in cls.exact_on
        and not changed
    )
    if tolerance is None:
        tolerance = 0.0 if exact else INEXACT_TOLERANCE
    if not math.isfinite(tolerance) or tolerance < 0:
        raise ReplayError(f"--tolerance must be a number >= 0, got {tolerance}")

    log = cell_log(cell.suite, target.id, replay=True)
    replayed = execute(target, profile, log, replay=schedule)
    same_work = len(replayed.schedule) == len(schedule) and all(
        a.same_work(b) for a, b in zip(schedule, replayed.schedule, strict=True)
    )
    m = rec.result.measurements
    result = Replay(
        replayed=replayed,
        recorded_run_id=rec.run_id,
        recorded_runner=cell.runner,
        recorded_device=cell.device,
        recorded_test_score=m.test_score,
        recorded_fit_seconds=m.fit_seconds,
        recorded_cost_usd=m.cost_usd,
        same_work=same_work,
        exact_expected=exact,
        tolerance=tolerance,
    )
    if record and replayed.status != "skipped":
        from treeline.run import machine_tags

        tracker.record_replay(result, machine_tags(rec.machine.get("suite_hash", "")))
    return ReplayRun(result, rec.result, schedule, changed)
