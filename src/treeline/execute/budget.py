"""Where the budget is enforced: the clock a cell's tuning runs on, and the limits past which
the parent kills a worker. Contenders only read the clock (`FitContext.expired`).

Budget = wall-clock of tuning + training in the worker (plus featurizing, charged up front);
data loading and test scoring are timed apart and not charged. On GPU the clock synchronizes
before reading, so queued kernels are charged to the budget they belong to.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

LOAD_TIMEOUT = 1800.0  # data loading is not budgeted, but a hung load must still end
# Test rows per prediction call. The scoring limit bounds one chunk, not the test set, so a slow
# model on a large test set is never killed for its size and a hung predict still is.
SCORE_CHUNK_ROWS = 2048
Phase = Literal["loading", "tuning", "scoring"]


Clock = Literal["wall", "cpu"]
# With `clock: cpu` a loaded machine stretches the wall-clock a budget takes: the supervisor
# lets tuning run this many times the budget's limit before it kills the worker.
CPU_CLOCK_SLACK = 4.0


def cpu_seconds_per_thread(threads: int) -> Callable[[], float]:
    """`clock: cpu`: this process's CPU seconds (every thread) ÷ its threads — what the cell
    got of the machine, whatever its neighbours took."""
    return lambda: time.process_time() / threads


class BudgetClock:
    """Wall-clock of tuning + training (or, with a `timer` such as `cpu_seconds_per_thread`,
    CPU seconds). Work inside `paused()` (test scoring) is not charged; `spent` is work done
    before the clock started that still counts (featurizing)."""

    def __init__(
        self,
        budget: float,
        sync: Callable[[], None] | None = None,
        spent: float = 0.0,
        on_pause: Callable[[float | None], None] | None = None,
        timer: Callable[[], float] = time.perf_counter,
    ):
        self.budget = budget
        self._sync = sync
        self._timer = timer
        self._start = timer() - spent
        self._paused_total = 0.0
        self._wall_start, self._paused_wall = time.perf_counter() - spent, 0.0
        # Told when a pause starts (None) and how long it lasted (wall seconds), so the
        # supervisor's kill deadline stands still with the budget.
        self._on_pause = on_pause

    def elapsed(self, sync: bool = True) -> float:
        if sync and self._sync is not None:
            self._sync()
        return self._timer() - self._start - self._paused_total

    def wall_elapsed(self) -> float:
        """Wall seconds of the same work (the budget's own clock may count CPU seconds): what
        a machine is paid for."""
        return time.perf_counter() - self._wall_start - self._paused_wall

    def remaining(self) -> float:
        return self.budget - self.elapsed()

    def expired(self, sync: bool = True, reserve: float = 0.0) -> bool:
        """`sync=False` for per-step checks: a GPU sync every step would cost throughput.
        `reserve`: seconds of work still to come after stopping (a validation pass)."""
        return self.elapsed(sync) >= self.budget - reserve

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        if self._sync is not None:
            self._sync()
        t0, w0 = self._timer(), time.perf_counter()
        if self._on_pause is not None:
            self._on_pause(None)
        try:
            yield
        finally:
            if self._sync is not None:
                self._sync()
            self._paused_total += self._timer() - t0
            self._paused_wall += time.perf_counter() - w0
            if self._on_pause is not None:
                self._on_pause(time.perf_counter() - w0)


@dataclass(frozen=True)
class Budget:
    """A cell's budget and every limit derived from it, computed here and nowhere else: what
    the worker's clock runs to, how far past it the supervisor lets tuning run before a kill
    (grace), and how long loading, scoring and a replay may take."""

    seconds: float  # tuning + training on the budget clock

    @property
    def grace(self) -> float:
        """How far past its budget a worker may run before it is killed."""
        return max(5.0, 0.2 * self.seconds)

    @property
    def limit(self) -> float:
        """Fit seconds a cell may show and still count as on time: budget + grace."""
        return self.seconds + self.grace

    @property
    def scoring_timeout(self) -> float:
        """Predicting one chunk of test rows (SCORE_CHUNK_ROWS): generous, but a hung predict
        still ends. Each chunk starts the limit again, so the test set's size does not count."""
        return max(120.0, self.seconds)

    @property
    def replay_timeout(self) -> float:
        """A replay runs recorded work, not a budget: a slower machine takes longer. It still
        ends."""
        return max(LOAD_TIMEOUT, 20.0 * self.seconds)

    def kill_after(self, phase: Phase, replay: bool = False, clock: Clock = "wall") -> float:
        """Wall seconds a worker may spend in `phase` before it is killed."""
        if phase == "loading":
            return LOAD_TIMEOUT
        if phase == "tuning":
            if replay:
                return self.replay_timeout
            return self.limit * (CPU_CLOCK_SLACK if clock == "cpu" else 1.0)
        return self.scoring_timeout

    def scaled(self, factor: float) -> Budget:
        return Budget(self.seconds * factor)

    def __format__(self, spec: str) -> str:
        return format(self.seconds, spec or "g")
