"""A cell's trial schedule: what each trial was given and how much work it did.

Tuning against the clock records it; a replay re-runs it with the clock replaced by the recorded
work. The contender's side of this is `FitContext`: it counts its work (`did`) and asks whether
to stop (`expired`) after each unit. Both stop rules below count those questions, so "the
deadline cut trial 7 at its 1 234th check" is an amount of work that any machine can repeat:
the same check then says stop, after the same rounds or optimizer steps, whatever the clock.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

from treeline.contenders.base import Unit
from treeline.execute.budget import BudgetClock

Outcome = Literal["complete", "pruned", "failed"]
# Units of work a contender counts: boosting rounds, forest trees, optimizer steps, epochs.
UNITS: tuple[str, ...] = get_args(Unit)  # the work a contender counts (FitContext.did)
FORMAT = 1  # of the schedule's JSON; bumped when a field changes meaning
# A trial cut by the deadline still counts as converged when its best validation score came at
# least this share of its reports (and this many) before the cut: it had plateaued.
PLATEAU, PLATEAU_MIN_REPORTS = 1 / 3, 5


@dataclass
class TrialRecord:
    number: int
    params: dict[str, Any]  # exactly what the contender's fit() received
    outcome: Outcome = "complete"
    work: dict[str, int] = field(default_factory=dict)  # unit → amount (UNITS)
    pruned_at: int | None = None  # the intermediate step at which the pruner stopped it
    cut_at_check: int | None = None  # the stop check at which the deadline cut it
    val_score: float | None = None  # oriented, higher is better; None unless complete
    seconds: float = math.nan  # wall-clock of this trial (a measurement, not replayed)
    error: str = ""
    # Its validation curve as the contender reported it (steps: its rounds or epochs), for
    # whether it converged: the last step, the best one, how many reports, how many since.
    last_step: int | None = None
    best_step: int | None = None
    reports: int = 0
    reports_since_best: int = 0

    @property
    def converged(self) -> bool | None:
        """Whether this trial's model had stopped improving (None unless it completed): it
        stopped by itself (early stopping, its maximum of rounds or epochs), or its validation
        score had not improved over the last PLATEAU of its reports when the deadline cut it."""
        if self.outcome != "complete":
            return None
        if self.cut_at_check is None:
            return True
        return self.reports_since_best >= max(PLATEAU_MIN_REPORTS, PLATEAU * self.reports)

    def same_work(self, other: TrialRecord) -> bool:
        """The same trial, the same outcome, the same amount of every unit of work."""
        return (
            self.number == other.number
            and self.outcome == other.outcome
            and self.pruned_at == other.pruned_at
            and self.cut_at_check == other.cut_at_check
            and self.work == other.work
        )


def totals(schedule: list[TrialRecord]) -> dict[str, int]:
    """Work summed over every trial, by unit."""
    out: dict[str, int] = {}
    for t in schedule:
        for unit, amount in t.work.items():
            out[unit] = out.get(unit, 0) + amount
    return out


def dumps(schedule: list[TrialRecord]) -> str:
    return json.dumps(
        {"format": FORMAT, "trials": [asdict(t) for t in schedule]}, indent=1, default=float
    )


def loads(text: str) -> list[TrialRecord]:
    d = json.loads(text)
    if d.get("format") != FORMAT:
        raise ValueError(f"schedule format {d.get('format')!r}, this Treeline reads {FORMAT}")
    return [TrialRecord(**t) for t in d["trials"]]


class _Checks:
    """Counts a trial's stop checks; the first that says stop is where it was cut."""

    def __init__(self) -> None:
        self.checks = 0
        self.cut_at: int | None = None

    def expired(self, sync: bool = True, reserve: float = 0.0) -> bool:
        self.checks += 1
        if self._stop(sync, reserve):
            if self.cut_at is None:
                self.cut_at = self.checks
            return True
        return False

    def _stop(self, sync: bool, reserve: float) -> bool:
        raise NotImplementedError


class Deadline(_Checks):
    """Recording: stop when the cell's budget clock has run out."""

    def __init__(self, clock: BudgetClock):
        super().__init__()
        self.clock = clock

    def _stop(self, sync: bool, reserve: float) -> bool:
        return self.clock.expired(sync, reserve)


class Allowance(_Checks):
    """Replaying: stop at the check where the recorded trial was cut (never, if it was not)."""

    def __init__(self, cut_at_check: int | None):
        super().__init__()
        self.limit = cut_at_check

    def _stop(self, sync: bool, reserve: float) -> bool:  # the recorded cut already reserved it
        return self.limit is not None and self.checks >= self.limit
