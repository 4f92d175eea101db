"""Runs a suite: skip the cells already recorded, schedule the rest (scheduler.py), record
each in MLflow as soon as it ends (a crash loses at most the cell in flight).

The steps are explicit and each does one thing: `check_environment` (results and cache folders
usable), `flush_spool` (cells an earlier run could not record), `recorded` (what a rerun keeps;
no side effects), then the scheduler's loop over the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from treeline.errors import first_line
from treeline.execute.cell import Cell
from treeline.execute.plan import Plan
from treeline.execute.result import FINISHED, PASSED, CellResult
from treeline.locate import results_dir
from treeline.scheduler import OnEvent, Scheduler

if TYPE_CHECKING:
    from treeline.record.claims import ClaimBook
    from treeline.record.store import Tracker


class StoreRecorder:
    """The run's recorder (scheduler.Recorder): the MLflow store, tagged with where the cell
    ran; when the store fails, the local spool, and the run stops with one message."""

    def __init__(self, tracker: Tracker, machine: dict[str, str]):
        self.tracker, self.machine, self.uri = tracker, machine, tracker.shown

    def recorded(
        self, resume_key: str, statuses: tuple[str, ...], since: float
    ) -> CellResult | None:
        return self.tracker.recorded(resume_key, statuses, since)

    def record(self, result: CellResult, owner: str = "") -> None:
        """`owner`: the claim's holder (host:pid:token), tagged `treeline.claimed_by`."""
        from treeline.record import spool
        from treeline.record.store import StoreError

        machine = {**self.machine, **({"claimed_by": owner} if owner else {})}
        try:
            self.tracker.record(result, machine)
        except Exception as exc:
            path = spool.put(result, machine)  # raises, naming what is full, when it cannot
            raise StoreError(
                f"the tracking store {self.uri} failed while recording {result.cell.id} "
                f"({type(exc).__name__}: {first_line(exc)}){_full(exc)}. The cell is kept in "
                f"{path} and is written to the store when you run this suite again (the same "
                "command resumes it)."
            ) from None


class SuiteRun:
    """A resolved plan (resolve.py: options and budgets already checked) run against a store."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.suite, self.options, self.profiles = plan.suite, plan.options, plan.profiles
        self.cells = plan.cells
        self.tracking_uri = plan.options.tracking_uri
        self.notes: Callable[[str], None] | None = None  # where `say` prints; None: stdout

    @cached_property
    def tracker(self) -> Tracker:
        from treeline.record.store import Tracker

        return Tracker(self.suite.name, self.tracking_uri, self.suite.description.strip())

    @cached_property
    def recorder(self) -> StoreRecorder:
        return StoreRecorder(self.tracker, machine_tags(self.suite.digest))

    def check_environment(self) -> None:
        """A broken environment stops the run before any cell, never recorded as one's failure."""
        from treeline.errors import TreelineError
        from treeline.locate import cache_dir, usable_folder

        for path, what, env in (
            (results_dir(), "results", "TREELINE_RESULTS"),
            (cache_dir(), "data cache", "TREELINE_CACHE"),
        ):
            problem = usable_folder(path, what, env)
            if problem:
                raise TreelineError(problem)

    def reserve_spool(self) -> None:
        """The room a cell needs to be kept if the store fails, set aside before any cell."""
        from treeline.errors import TreelineError
        from treeline.record import spool

        problem = spool.reserve(self.suite.name)
        if problem:
            raise TreelineError(problem)

    def flush_spool(self) -> int:
        """Write cells an earlier run could not record; returns how many."""
        from treeline.record import spool
        from treeline.record.store import StoreError

        waiting = spool.pending(self.suite.name)
        for written, (path, result, machine) in enumerate(waiting):
            try:
                self.tracker.record(result, machine)
            except Exception as exc:
                raise StoreError(
                    f"the tracking store {self.tracker.shown} still fails ({type(exc).__name__}): "
                    f"{len(waiting) - written} cell(s) wait in {path.parent}; nothing was run"
                ) from None
            path.unlink()
        return len(waiting)

    @cached_property
    def claims(self) -> ClaimBook:
        from treeline.record.claims import ClaimBook

        return ClaimBook(self.tracker.client, self.tracker.experiment_id)

    def sweep_claims(self) -> int:
        """Remove the claims of cells an earlier run recorded but could not unclaim (killed
        just after recording, its cell spooled): they showed as in flight for good."""
        return self.claims.sweep(self.tracker.recorded_by)

    def recorded(self) -> dict[str, CellResult]:
        """What a rerun keeps, by resume key: none with --rerun-all, only `ok` ones with
        --rerun-failed."""
        if self.options.rerun_all:
            return {}
        return self.tracker.done(self.options.rerun_failed)

    def prepare(self) -> dict[str, CellResult]:
        """Before any cell: the environment checked, the spool written; what is recorded."""
        self.check_environment()
        written = self.flush_spool()  # cells an earlier run could not record come first
        if written:
            self.say(
                f"recorded {written} cell(s) that an earlier run spooled when the store failed"
            )
        self.reserve_spool()
        swept = self.sweep_claims()
        if swept:
            self.say(f"removed {swept} claim(s) of recorded cells that an earlier run left")
        return self.recorded()

    def say(self, message: str) -> None:
        """A note for the person running the suite (the console, when there is one)."""
        (self.notes or print)(message)

    def scheduler(self) -> Scheduler:
        from treeline.execute.executors import make_executor

        opts = self.options
        # The suite's cells, not only those to run: a warm worker imports what all need.
        executor = make_executor(opts.executor, opts.jobs, opts.address, self.cells)
        return Scheduler(
            suite=self.suite.name,
            executor=executor,
            claims=self.claims,
            recorder=self.recorder,
            profiles=self.profiles,
            statuses=("ok",) if opts.rerun_failed else FINISHED,
            since=time.time() if opts.rerun_all else 0.0,  # a rerun counts only its own runs
            say=self.say,
        )

    def execute(self, cells: list[Cell], on_event: OnEvent | None = None) -> list[CellResult]:
        """Run `cells` (claimed, recorded as each ends); results in their order."""
        return self.scheduler().run(cells, on_event)

    def run_cell(self, cell: Cell) -> CellResult:
        """Execute and record one cell."""
        return self.execute([cell])[0]

    def run(self, on_event: OnEvent | None = None) -> list[CellResult]:
        done = self.prepare()
        todo = [c for c in self.cells if c.resume_key not in done]
        ran = dict(zip([c.id for c in todo], self.execute(todo, on_event), strict=True))
        results = []
        for cell in self.cells:
            if cell.id in ran:
                results.append(ran[cell.id])
                continue
            if on_event:  # recorded earlier: reported like the cells run now
                on_event("start", cell, None)
                on_event("end", cell, done[cell.resume_key])
            results.append(done[cell.resume_key])
        return results


def _full(exc: BaseException) -> str:
    """': its disk is full' when that is why the store failed (SQLite says so in words)."""
    text = str(exc).lower()
    full = getattr(exc, "errno", None) == 28 or "disk is full" in text or "no space" in text
    return ": its disk is full" if full else ""


def machine_tags(suite_hash: str) -> dict[str, str]:
    """What a run records of where it ran: library versions, git commit, CPU and GPU models."""
    from treeline.config.runner_profile import visible_gpus
    from treeline.execute.measure import cpu_model, git_commit, versions

    tags = {f"version.{k}": v for k, v in versions().items()}
    tags.update(
        {
            "git_commit": git_commit(),
            "cpu": cpu_model(),
            "gpu": ", ".join(visible_gpus()) or "none",
            "suite_hash": suite_hash,
        }
    )
    return tags


def exit_code(results: list[CellResult], allow_skipped: bool = False) -> int:
    """0 when every cell is ok or skipped — but not when every one was skipped (nothing that
    was asked for was measured) unless `allow_skipped`."""
    if not all(r.status in PASSED for r in results):
        return 1
    if results and all(r.status == "skipped" for r in results) and not allow_skipped:
        return 1
    return 0


def tally(results: list[CellResult]) -> str:
    """'40 ok, 1 failed, 1 skipped' in the order of the statuses."""
    from treeline.execute.result import STATUSES

    counts = {s: sum(r.status == s for r in results) for s in STATUSES}
    return ", ".join(f"{k} {s}" for s, k in counts.items() if k) or "no cells"
