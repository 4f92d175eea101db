"""Runs a suite: expand it into cells, skip those already recorded, execute the rest one by one,
record each in MLflow as soon as it ends (a crash loses at most the cell in flight)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from treeline.config.options import RunOptions
from treeline.config.runner_profile import RunnerProfile, get_runner
from treeline.execute.budget import grace_seconds
from treeline.execute.cell import Cell
from treeline.execute.plan import Suite, expand
from treeline.execute.result import CellResult
from treeline.locate import results_dir

if TYPE_CHECKING:
    from treeline.record.claims import Claim
    from treeline.record.store import Tracker

T = TypeVar("T")
OnEvent = Callable[[str, Cell, "CellResult | None"], None]


class SuiteRun:
    def __init__(self, suite: Suite, options: RunOptions | None = None):
        from treeline.errors import TreelineError

        options = options or RunOptions()
        from treeline.config.suite import MAX_BUDGET

        if not 0 < options.budget_scale < float("inf"):
            raise TreelineError(f"--budget-scale must be > 0, got {options.budget_scale:g}")
        if suite.budget * options.budget_scale > MAX_BUDGET:
            raise TreelineError(
                f"--budget-scale {options.budget_scale:g} makes a cell's budget "
                f"{suite.budget * options.budget_scale:g} s, more than the cap of 7 days "
                f"({MAX_BUDGET:,.0f} s)"
            )
        if options.address and options.executor != "ray":
            raise TreelineError("--address names a Ray cluster: use it with --executor ray")
        self.suite, self.options = suite, options
        self.tracking_uri = options.tracking_uri
        self.profiles: dict[str, RunnerProfile] = {
            name: get_runner(name) for name in (options.runners or suite.runners)
        }
        self.cells = expand(suite, self.profiles, options.budget_scale, options.only)
        self.notes: Callable[[str], None] | None = None  # where `say` prints; None: stdout
        if options.only and not self.cells:
            raise TreelineError(
                f"--only {' '.join(options.only)} matches no cell of '{suite.name}'"
            )

    @cached_property
    def tracker(self) -> Tracker:
        from treeline.record.store import Tracker

        return Tracker(self.suite.name, self.tracking_uri, self.suite.description.strip())

    @cached_property
    def machine_tags(self) -> dict[str, str]:
        return machine_tags(self.suite.digest)

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

    def done(self) -> dict[str, CellResult]:
        self.check_environment()
        self.flush_spool()  # cells an earlier run could not record come first
        if self.options.rerun_all:
            return {}
        return self.tracker.done(self.options.rerun_failed)

    def run_cell(self, cell: Cell, done: dict[str, CellResult] | None = None) -> CellResult:
        """Execute and record one cell, unless `done` holds a finished run for it."""
        if done is not None and cell.resume_key in done:
            return done[cell.resume_key]
        return self.execute([cell])[0]

    def log_path(self, cell: Cell, attempt: int) -> Path:
        """One log per claim of a cell: a runner that takes over an expired claim does not write
        into the log of the runner it replaces, which may still be alive."""
        name = cell.id.replace("/", "__") + (f".attempt-{attempt}" if attempt > 1 else "")
        return results_dir() / "logs" / self.suite.name / (name + ".log")

    def execute(self, cells: list[Cell], on_event: OnEvent | None = None) -> list[CellResult]:
        """Run `cells` on the executor the options name, each claimed in the store first and
        recorded as soon as it ends; cells other runners hold are waited for (recorded by them,
        or taken over once their claim expires). Results in the order of `cells`."""
        from treeline.execute.executors import make_executor
        from treeline.execute.result import FINISHED
        from treeline.record.claims import ClaimBook
        from treeline.record.store import StoreError

        opts = self.options
        statuses = ("ok",) if opts.rerun_failed else FINISHED
        since = time.time() if opts.rerun_all else 0.0  # a rerun counts only its own runs
        claims = ClaimBook(self.tracker.client, self.tracker.experiment_id)
        # The suite's cells, not only these: a warm worker imports what all of them need.
        executor = make_executor(opts.executor, opts.jobs, opts.address, self.cells)
        for note in executor.notes():
            self.say(note)
        poll = min(5.0, claims.lease / 4)
        results: dict[str, CellResult] = {}
        waiting = list(cells)
        in_flight: dict[Future[CellResult], tuple[Cell, Claim]] = {}
        cancel = True
        try:
            while waiting or in_flight:
                for cell in list(waiting):
                    reason = executor.never_fits(cell)
                    if reason is None and not executor.fits(cell):
                        continue
                    claim = self._store("claiming", cell, claims.take, cell.resume_key, cell.id)
                    if claims.problem:
                        self.say(claims.problem)
                        claims.problem = None
                    if claim is None:  # another runner has it in flight
                        continue
                    waiting.remove(cell)
                    if on_event:
                        on_event("start", cell, None)
                    earlier = self._store(
                        "reading", cell, self.tracker.recorded, cell.resume_key, statuses, since
                    )
                    if earlier is not None or reason is not None:
                        # Recorded by another runner meanwhile; or it can never run here.
                        result = earlier or CellResult(cell, "skipped", error=reason or "")
                        if earlier is None:
                            self.record(result, claims.owner)
                        claims.release(claim)
                        _finish(cell, result, results, on_event)
                        continue
                    log = self.log_path(cell, claim.attempt)
                    future = executor.submit(cell, self.profiles[cell.runner], log)
                    in_flight[future] = (cell, claim)
                if not in_flight:
                    time.sleep(poll)  # everything left is held by other runners
                    continue
                finished, _ = wait(in_flight, timeout=poll, return_when=FIRST_COMPLETED)
                for future in finished:
                    cell, claim = in_flight.pop(future)
                    executor.done(cell)
                    result = future.result()
                    if claims.still_held(claim):
                        self.record(result, claims.owner)
                    else:  # our claim expired; another runner runs the cell, and its result counts
                        self.say(f"{cell.id}: its claim expired meanwhile; not recorded here")
                    claims.release(claim)
                    _finish(cell, result, results, on_event)
            cancel = False
        except StoreError:
            claims.abandon()
            raise
        finally:
            executor.close(cancel=cancel)
            claims.release_all()
        return [results[c.id] for c in cells]

    def _store(self, doing: str, cell: Cell, call: Callable[..., T], *args: Any) -> T:
        """A store call before a cell runs; its failure stops the run with one message."""
        from treeline.record.store import StoreError

        try:
            return call(*args)
        except Exception as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise StoreError(
                f"the tracking store {self.tracker.uri} failed while {doing} {cell.id} "
                f"({type(exc).__name__}: {reason}); nothing of that cell ran. Run the same "
                "command again to resume."
            ) from None

    def say(self, message: str) -> None:
        """A note for the person running the suite (the console, when there is one)."""
        (self.notes or print)(message)

    def record(self, result: CellResult, owner: str = "") -> None:
        """Into the store; if the store fails, into the local spool, and the run stops.
        `owner`: the claim's holder (host:pid:token), tagged `treeline.claimed_by`."""
        from treeline.record import spool
        from treeline.record.store import StoreError

        grace = grace_seconds(result.cell.budget)
        machine = {**self.machine_tags, **({"claimed_by": owner} if owner else {})}
        try:
            self.tracker.record(result, machine, grace)
        except Exception as exc:
            path = spool.put(result, machine, grace)
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise StoreError(
                f"the tracking store {self.tracker.uri} failed while recording "
                f"{result.cell.id} ({type(exc).__name__}: {reason}). The cell is kept in "
                f"{path} and is written to the store when you run this suite again "
                "(the same command resumes it)."
            ) from None

    def flush_spool(self) -> int:
        """Write cells an earlier run could not record; returns how many."""
        from treeline.record import spool
        from treeline.record.store import StoreError

        waiting = spool.pending(self.suite.name)
        for written, (path, result, machine, grace) in enumerate(waiting):
            try:
                self.tracker.record(result, machine, grace)
            except Exception as exc:
                raise StoreError(
                    f"the tracking store {self.tracker.uri} still fails ({type(exc).__name__}): "
                    f"{len(waiting) - written} cell(s) wait in {path.parent}; nothing was run"
                ) from None
            path.unlink()
        return len(waiting)

    def run(self, on_event: OnEvent | None = None) -> list[CellResult]:
        done = self.done()
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


def _finish(
    cell: Cell, result: CellResult, results: dict[str, CellResult], on_event: OnEvent | None
) -> None:
    results[cell.id] = result
    if on_event:
        on_event("end", cell, result)


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
    if not all(r.status in ("ok", "skipped") for r in results):
        return 1
    if results and all(r.status == "skipped" for r in results) and not allow_skipped:
        return 1
    return 0


def tally(results: list[CellResult]) -> str:
    """'40 ok, 1 failed, 1 skipped' in the order of the statuses."""
    from treeline.execute.result import STATUSES

    counts = {s: sum(r.status == s for r in results) for s in STATUSES}
    return ", ".join(f"{k} {s}" for s, k in counts.items() if k) or "no cells"
