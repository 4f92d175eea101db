"""The scheduling rules, on the in-memory store and an executor that finishes cells at once:
claim before run, record as each ends, skip what another runner recorded, wait for a live
claim and take over an expired one, stop on a store failure leaving claims to their lease. The
same loop runs against MLflow stores in test_run_suite.py, test_scale_out.py and
test_store_faults.py."""

from __future__ import annotations

import dataclasses
from concurrent.futures import Future
from pathlib import Path

import pytest
from cells import a_cell

from treeline.config.runner_profile import get_runner
from treeline.execute.cell import Cell
from treeline.execute.result import FINISHED, CellResult, Measurements
from treeline.record.memory import MemoryClaimBoard, MemoryClaims, MemoryRecorder
from treeline.record.store import StoreError
from treeline.scheduler import Scheduler


def cells(k: int = 3) -> list[Cell]:
    return [a_cell(suite="sched", n=100 * (i + 1), threads=1) for i in range(k)]


class Instant:
    """An executor of one cell at a time whose cells end at once, `ok`."""

    def __init__(self, never: dict[str, str] | None = None):
        self.never = never or {}
        self.started: list[tuple[str, Path]] = []
        self.running = 0
        self.closed_with_cancel: bool | None = None

    def notes(self) -> list[str]:
        return []

    def never_fits(self, cell: Cell) -> str | None:
        return self.never.get(cell.id)

    def fits(self, cell: Cell) -> bool:
        return self.running == 0

    def submit(self, cell: Cell, profile: object, log_path: Path) -> Future[CellResult]:
        self.started.append((cell.id, log_path))
        self.running += 1
        future: Future[CellResult] = Future()
        future.set_result(CellResult(cell, "ok", measurements=Measurements(test_score=0.9)))
        return future

    def done(self, cell: Cell) -> None:
        self.running -= 1

    def close(self, cancel: bool = False) -> None:
        self.closed_with_cancel = cancel


def scheduler(
    executor: Instant,
    recorder: MemoryRecorder,
    claims: MemoryClaims,
    notes: list[str] | None = None,
) -> Scheduler:
    return Scheduler(
        suite="sched",
        executor=executor,  # type: ignore[arg-type]
        claims=claims,
        recorder=recorder,
        profiles={"cpu": get_runner("cpu")},
        statuses=FINISHED,
        say=(notes if notes is not None else []).append,
    )


def test_every_cell_is_claimed_run_and_recorded_once_in_order() -> None:
    recorder, board = MemoryRecorder(), MemoryClaimBoard()
    claims = MemoryClaims(board)
    executor = Instant()
    todo = cells()
    results = scheduler(executor, recorder, claims).run(todo)
    assert [r.cell.id for r in results] == [c.id for c in todo]
    assert [i for i, _ in executor.started] == [c.id for c in todo]
    assert set(recorder.owners().values()) == {claims.owner}
    assert board.held == {} and executor.closed_with_cancel is False


def test_a_cell_another_runner_recorded_meanwhile_is_not_run_again() -> None:
    recorder, board = MemoryRecorder(), MemoryClaimBoard()
    first, *rest = cells()
    recorder.record(CellResult(first, "ok"), "another:1:x")
    executor = Instant()
    results = scheduler(executor, recorder, MemoryClaims(board)).run([first, *rest])
    assert [i for i, _ in executor.started] == [c.id for c in rest]
    assert results[0].from_earlier_run and recorder.owners()[first.id] == "another:1:x"


def test_a_live_claim_is_waited_for_and_an_expired_one_taken_over() -> None:
    """Another runner holds the first cell: while its claim beats the cell waits; once it has
    been silent for the lease, this runner takes the cell over as attempt 2, with its own
    log (the other runner may still be alive and writing attempt 1's)."""
    recorder, board = MemoryRecorder(), MemoryClaimBoard()
    other = MemoryClaims(board, lease=0.3, owner="another:1:x")
    first, second = cells(2)
    assert other.take(first.resume_key, first.id) is not None  # and never beats again
    executor = Instant()
    mine = MemoryClaims(board, lease=0.3)
    results = scheduler(executor, recorder, mine).run([first, second])
    assert [i for i, _ in executor.started] == [second.id, first.id]  # the free one first
    (log,) = [log for i, log in executor.started if i == first.id]
    assert log.name.endswith(".attempt-2.log")
    assert [r.status for r in results] == ["ok", "ok"]
    assert recorder.owners() == {first.id: mine.owner, second.id: mine.owner}


def test_a_cell_that_can_never_run_here_is_recorded_skipped_with_its_reason() -> None:
    recorder = MemoryRecorder()
    first, second = cells(2)
    executor = Instant(never={first.id: "no node has a GPU"})
    results = scheduler(executor, recorder, MemoryClaims(MemoryClaimBoard())).run([first, second])
    assert [(r.status, r.error) for r in results] == [("skipped", "no node has a GPU"), ("ok", "")]
    assert [i for i, _ in executor.started] == [second.id]


def test_a_store_that_fails_stops_the_run_and_leaves_the_claims_to_their_lease() -> None:
    recorder, board = MemoryRecorder(fail_after=2), MemoryClaimBoard()
    executor = Instant()
    with pytest.raises(StoreError):
        scheduler(executor, recorder, MemoryClaims(board)).run(cells())
    assert len(recorder.records) == 1  # the first cell; the second failed to record
    assert executor.closed_with_cancel is True
    assert len(board.held) == 1  # the failed cell's claim: not deleted through a dead store


def test_a_claim_taken_over_while_its_cell_ran_does_not_record_here() -> None:
    recorder, board = MemoryRecorder(), MemoryClaimBoard()
    (cell,) = cells(1)
    claims = MemoryClaims(board)

    class TakenOver(Instant):
        def submit(self, cell: Cell, profile: object, log_path: Path) -> Future[CellResult]:
            # Meanwhile another runner found our claim expired and took the cell.
            (name,) = board.held
            board.held[name] = ("another:1:x", board.held[name][1])
            return super().submit(cell, profile, log_path)

    notes: list[str] = []
    (result,) = scheduler(TakenOver(), recorder, claims, notes).run([cell])
    assert result.status == "ok" and recorder.records == {}
    assert notes == [f"{cell.id}: its claim expired meanwhile; not recorded here"]


def test_records_after_since_only_count_for_a_rerun_of_everything() -> None:
    recorder = MemoryRecorder()
    (cell,) = cells(1)
    recorder.record(dataclasses.replace(CellResult(cell, "ok"), ended_at=100.0), "old:1:x")
    assert recorder.recorded(cell.resume_key, FINISHED, since=0.0) is not None
    assert recorder.recorded(cell.resume_key, FINISHED, since=200.0) is None
