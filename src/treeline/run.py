"""Runs a suite: expand it into cells, skip those already recorded, execute the rest one by one,
record each in MLflow as soon as it ends (a crash loses at most the cell in flight)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from treeline.config.options import RunOptions
from treeline.config.runner_profile import RunnerProfile, get_runner
from treeline.execute.budget import grace_seconds
from treeline.execute.cell import Cell
from treeline.execute.plan import Suite, expand
from treeline.execute.result import CellResult
from treeline.execute.supervise import execute
from treeline.locate import results_dir

if TYPE_CHECKING:
    from treeline.record.store import Tracker


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
        self.suite, self.options = suite, options
        self.tracking_uri = options.tracking_uri
        self.profiles: dict[str, RunnerProfile] = {
            name: get_runner(name) for name in (options.runners or suite.runners)
        }
        self.cells = expand(suite, self.profiles, options.budget_scale, options.only)
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
        log = results_dir() / "logs" / self.suite.name / (cell.id.replace("/", "__") + ".log")
        result = execute(cell, self.profiles[cell.runner], log)
        self.record(result)
        return result

    def record(self, result: CellResult) -> None:
        """Into the store; if the store fails, into the local spool, and the run stops."""
        from treeline.record import spool
        from treeline.record.store import StoreError

        grace = grace_seconds(result.cell.budget)
        try:
            self.tracker.record(result, self.machine_tags, grace)
        except Exception as exc:
            path = spool.put(result, self.machine_tags, grace)
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

    def run(
        self, on_event: Callable[[str, Cell, CellResult | None], None] | None = None
    ) -> list[CellResult]:
        done = self.done()
        results = []
        for cell in self.cells:
            if on_event:
                on_event("start", cell, None)
            result = self.run_cell(cell, done)
            results.append(result)
            if on_event:
                on_event("end", cell, result)
        return results


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
