"""The scheduling loop of a run: claim a cell, start it on an executor, record it as soon as it
ends, release the claim. It knows the store only through two small interfaces — `Claims` and
`Recorder` — so the loop is the same for SQLite, a server, PostgreSQL or the in-memory store of
`record/memory.py`; what a store failure means (stop, spool) is the recorder's business."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from treeline.errors import first_line
from treeline.execute.cell import Cell
from treeline.execute.result import CellResult
from treeline.locate import cell_log

if TYPE_CHECKING:
    from treeline.config.runner_profile import RunnerProfile
    from treeline.execute.executors import Executor
    from treeline.record.claims import Claim

T = TypeVar("T")
OnEvent = Callable[[str, Cell, "CellResult | None"], None]


class Claims(Protocol):
    """Who runs which cell: taken before a cell starts, released once it is recorded."""

    owner: str  # this runner: host:pid:token
    lease: float  # seconds a silent claim holds
    problem: str | None  # something to tell the user once (e.g. a store without claims)

    def take(self, resume_key: str, cell_id: str) -> Claim | None:
        """The cell's claim; None while another runner's live claim holds it."""

    def still_held(self, claim: Claim) -> bool:
        """False when another runner took the cell over meanwhile."""

    def release(self, claim: Claim) -> None: ...

    def release_all(self) -> None: ...

    def abandon(self) -> None:
        """The store failed: leave the claims to expire instead of deleting them through it."""


class Recorder(Protocol):
    """Where finished cells go, and where a runner learns what is recorded already."""

    uri: str  # the store, as the user named it (in messages)

    def recorded(
        self, resume_key: str, statuses: tuple[str, ...], since: float
    ) -> CellResult | None:
        """A finished record of the cell with one of `statuses`, ended after `since`."""

    def record(self, result: CellResult, owner: str) -> None:
        """Keep the result; raises StoreError (after keeping it somewhere safe) when it cannot."""


@dataclass
class Scheduler:
    """Runs cells through an executor, each claimed in the store first and recorded as soon as
    it ends. `statuses`: the records that count as done (a rerun of failures counts only `ok`);
    `since`: only records after this epoch second count (a rerun of everything)."""

    suite: str
    executor: Executor
    claims: Claims
    recorder: Recorder
    profiles: dict[str, RunnerProfile]
    statuses: tuple[str, ...]
    since: float = 0.0
    say: Callable[[str], None] = print

    def run(self, cells: list[Cell], on_event: OnEvent | None = None) -> list[CellResult]:
        """Every cell of `cells`, run here or by another runner on the same store (waited for,
        or taken over once its claim expires). Results in the order of `cells`."""
        from treeline.record.store import StoreError

        for note in self.executor.notes():
            self.say(note)
        poll = min(5.0, self.claims.lease / 4)
        results: dict[str, CellResult] = {}
        waiting = list(cells)
        in_flight: dict[Future[CellResult], tuple[Cell, Claim]] = {}
        cancel = True
        try:
            while waiting or in_flight:
                for cell in list(waiting):
                    if self._start(cell, waiting, in_flight, results, on_event):
                        continue
                if not in_flight:
                    time.sleep(poll)  # everything left is held by other runners
                    continue
                finished, _ = wait(in_flight, timeout=poll, return_when=FIRST_COMPLETED)
                for future in finished:
                    cell, claim = in_flight.pop(future)
                    self.executor.done(cell)
                    result = future.result()
                    if self.claims.still_held(claim):
                        self.recorder.record(result, self.claims.owner)
                    else:  # our claim expired; another runner runs the cell, and its result counts
                        self.say(f"{cell.id}: its claim expired meanwhile; not recorded here")
                    self.claims.release(claim)
                    self._tell()
                    _finish(cell, result, results, on_event)
            cancel = False
        except StoreError:
            self.claims.abandon()
            raise
        finally:
            self.executor.close(cancel=cancel)
            self.claims.release_all()
            self._tell()
        return [results[c.id] for c in cells]

    def _start(
        self,
        cell: Cell,
        waiting: list[Cell],
        in_flight: dict[Future[CellResult], tuple[Cell, Claim]],
        results: dict[str, CellResult],
        on_event: OnEvent | None,
    ) -> bool:
        """Claim `cell` and start it (or settle it at once); False while it must wait."""
        reason = self.executor.never_fits(cell)
        if reason is None and not self.executor.fits(cell):
            return False
        claim = self._store("claiming", cell, self.claims.take, cell.resume_key, cell.id)
        self._tell()
        if claim is None:  # another runner has it in flight
            return False
        waiting.remove(cell)
        if on_event:
            on_event("start", cell, None)
        earlier = self._store(
            "reading", cell, self.recorder.recorded, cell.resume_key, self.statuses, self.since
        )
        if earlier is not None or reason is not None:
            # Recorded by another runner meanwhile; or it can never run here.
            result = earlier or CellResult(cell, "skipped", error=reason or "")
            if earlier is None:
                self.recorder.record(result, self.claims.owner)
            self.claims.release(claim)
            _finish(cell, result, results, on_event)
            return True
        log = self.log_path(cell, claim.attempt)
        future = self.executor.submit(cell, self.profiles[cell.runner], log)
        in_flight[future] = (cell, claim)
        return True

    def _tell(self) -> None:
        """What the claims have to say (a store without claims, a claim that stayed), once."""
        if self.claims.problem:
            self.say(self.claims.problem)
            self.claims.problem = None

    def log_path(self, cell: Cell, attempt: int) -> Path:
        return cell_log(self.suite, cell.id, attempt)

    def _store(self, doing: str, cell: Cell, call: Callable[..., T], *args: Any) -> T:
        """A store call before a cell runs; its failure stops the run with one message."""
        from treeline.record.store import StoreError

        try:
            return call(*args)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(
                f"the tracking store {self.recorder.uri} failed while {doing} {cell.id} "
                f"({type(exc).__name__}: {first_line(exc)}); nothing of that cell ran. Run the "
                "same command again to resume."
            ) from None


def _finish(
    cell: Cell, result: CellResult, results: dict[str, CellResult], on_event: OnEvent | None
) -> None:
    results[cell.id] = result
    if on_event:
        on_event("end", cell, result)
