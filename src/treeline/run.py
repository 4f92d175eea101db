"""Runs a suite: expand it into cells, skip those already recorded, execute the rest one by one,
record each in MLflow as soon as it ends (a crash loses at most the cell in flight)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from treeline.cell import Cell, expand
from treeline.execute import CellResult, execute, grace_seconds
from treeline.locate import results_dir
from treeline.runner_profile import RunnerProfile, get_runner
from treeline.suite import Suite

if TYPE_CHECKING:
    import pandas as pd

    from treeline.tracking import Tracker


@dataclass
class Outcome:
    """A cell's outcome, fresh from a worker or read back from an earlier run."""

    cell: Cell
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str = ""
    from_earlier_run: bool = False
    result: CellResult | None = None


class SuiteRun:
    def __init__(
        self,
        suite: Suite,
        runners: list[str] | None = None,
        budget_scale: float = 1.0,
        tracking_uri: str | None = None,
        only: list[str] | None = None,
        rerun_failed: bool = False,
    ):
        from treeline.errors import TreelineError

        if budget_scale <= 0:
            raise TreelineError(f"--budget-scale must be > 0, got {budget_scale:g}")
        self.suite, self.tracking_uri, self.rerun_failed = suite, tracking_uri, rerun_failed
        self.profiles: dict[str, RunnerProfile] = {
            name: get_runner(name) for name in (runners or suite.runners)
        }
        self.cells = expand(suite, list(self.profiles), budget_scale, only)
        if only and not self.cells:
            raise TreelineError(f"--only {' '.join(only)} matches no cell of '{suite.name}'")

    @cached_property
    def tracker(self) -> Tracker:
        from treeline.tracking import Tracker

        return Tracker(self.suite.name, self.tracking_uri)

    @cached_property
    def machine_tags(self) -> dict[str, str]:
        from treeline.measure import cpu_model, git_commit, versions
        from treeline.runner_profile import visible_gpus

        tags = {f"treeline.version.{k}": v for k, v in versions().items()}
        tags.update(
            {
                "treeline.git_commit": git_commit(),
                "treeline.cpu": cpu_model(),
                "treeline.gpu": ", ".join(visible_gpus()) or "none",
                "treeline.suite_hash": self.suite.digest,
            }
        )
        return tags

    def resume_key(self, cell: Cell) -> str:
        p = self.profiles[cell.runner]
        return cell.resume_key(
            {
                "device": p.device,
                "threads": p.resolved_threads(),
                "gpu": p.gpu,
                "price_per_hour": p.price_per_hour,
            }
        )

    def done(self) -> dict[str, Any]:
        return self.tracker.done(self.rerun_failed)

    def run_cell(self, cell: Cell, done: dict[str, Any] | None = None) -> Outcome:
        """Execute and record one cell, unless `done` holds a finished run for it."""
        key = self.resume_key(cell)
        if done is not None and key in done:
            run = done[key]
            return Outcome(
                cell,
                run.data.tags["treeline.status"],
                dict(run.data.metrics),
                run.data.tags.get("treeline.error", ""),
                from_earlier_run=True,
            )
        profile = self.profiles[cell.runner]
        log = results_dir() / "logs" / self.suite.name / (cell.id.replace("/", "__") + ".log")
        result = execute(cell, profile, log)
        self.tracker.record(cell, key, result, self._tags(cell, result), self._params(cell))
        return Outcome(cell, result.status, result.metrics, result.error, result=result)

    def _tags(self, cell: Cell, result: CellResult) -> dict[str, str]:
        from treeline.contenders import get_info

        p = self.profiles[cell.runner]
        return {
            **self.machine_tags,
            "treeline.cell_id": cell.id,
            "treeline.suite": cell.suite,
            "treeline.dataset": cell.dataset.label,
            "treeline.modality": cell.modality,
            "treeline.task": cell.task,
            "treeline.contender": cell.contender,
            "treeline.family": get_info(cell.contender).family,
            "treeline.runner": cell.runner,
            "treeline.device": p.device,
            "treeline.price_source": f"{p.price_source} ({p.price_date})",
            "treeline.metric": result.metric,
        }

    def _params(self, cell: Cell) -> dict[str, Any]:
        p = self.profiles[cell.runner]
        return {
            "n": cell.n,
            "seed": cell.seed,
            "budget_seconds": cell.budget,
            "grace_seconds": grace_seconds(cell.budget),
            "threads": p.resolved_threads(),
            "price_per_hour": p.price_per_hour,
        }

    def run(
        self, on_event: Callable[[str, Cell, Outcome | None], None] | None = None
    ) -> list[Outcome]:
        done = self.done()
        outcomes = []
        for cell in self.cells:
            if on_event:
                on_event("start", cell, None)
            outcome = self.run_cell(cell, done)
            outcomes.append(outcome)
            if on_event:
                on_event("end", cell, outcome)
        return outcomes


def exit_code(outcomes: list[Outcome]) -> int:
    return 0 if all(o.status in ("ok", "skipped") for o in outcomes) else 1


def run_with_progress(run: SuiteRun) -> list[Outcome]:
    """`treeline run`: a progress bar, a line per cell, and the summary table at the end."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(highlight=False)
    cells = run.cells
    console.print(
        f"[bold]{run.suite.name}[/]: {len(cells)} cells, "
        f"{cells[0].budget:g} s budget each, tracking {run.tracker.uri}",
        soft_wrap=True,
    )
    overhead: list[float] = []
    remaining = {c.id: c.budget for c in cells}
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA {task.fields[eta]}"),
        console=console,
        transient=True,
    )

    def eta() -> str:
        per_cell = sum(overhead) / len(overhead) if overhead else 3.0
        secs = sum(remaining.values()) + per_cell * len(remaining)
        return time.strftime("%H:%M:%S", time.gmtime(secs))

    with progress:
        task = progress.add_task("starting", total=len(cells), eta=eta())

        def on_event(kind: str, cell: Cell, outcome: Outcome | None) -> None:
            if kind == "start":
                progress.update(task, description=cell.id, eta=eta())
                return
            assert outcome is not None
            remaining.pop(cell.id, None)
            if outcome.result is not None and outcome.status == "ok":
                overhead.append(max(0.0, outcome.result.wall_seconds - cell.budget))
            progress.console.print(_cell_line(outcome), soft_wrap=True)
            progress.update(task, advance=1, eta=eta())

        outcomes = run.run(on_event)
    console.print(summary_table(outcomes))
    return outcomes


_STYLE = {"ok": "green", "skipped": "yellow", "failed": "red", "timeout": "red", "oom": "red"}


def _cell_line(o: Outcome) -> str:
    style = _STYLE.get(o.status, "white")
    head = f"[{style}]{o.status:>7}[/] {o.cell.id}"
    if o.from_earlier_run:
        return f"{head} [dim](recorded earlier)[/]"
    if o.status == "ok":
        m = o.metrics
        metric = next((k for k in m if k.startswith("test_") and k != "test_score"), "test_score")
        return (
            f"{head}  {metric}={m[metric]:.4g}  fit {m['fit_seconds']:.1f} s  "
            f"{int(m['n_trials'])} trials  ${m['cost_usd']:.5f}"
        )
    from rich.markup import escape

    return f"{head}  {escape(o.error.splitlines()[-1] if o.error else '')}"


def summary_table(outcomes: list[Outcome]):
    """Per dataset, n and runner, one row per contender: test score, fit time, trials and cost
    (seed means); the group's best score in bold. Long rather than one column per contender, so
    it stays readable at 80 columns and in a log file."""
    from statistics import mean

    from rich import box
    from rich.table import Table

    table = Table(
        title="summary (mean over seeds; score: higher is better, −RMSE for regression)",
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for col in ("dataset", "n", "runner"):
        table.add_column(col)
    table.add_column("contender", min_width=len("ft-transformer"))
    for col in ("score", "fit s", "trials", "USD"):
        table.add_column(col, justify="right")
    groups: dict[tuple[str, int, str], dict[str, list[Outcome]]] = {}
    for o in outcomes:
        key = (o.cell.dataset.label, o.cell.n, o.cell.runner)
        groups.setdefault(key, {}).setdefault(o.cell.contender, []).append(o)
    for (label, n, runner), by_contender in groups.items():
        scores = {
            c: mean(x.metrics["test_score"] for x in runs)
            for c, runs in by_contender.items()
            if all(x.status == "ok" for x in runs)
        }
        best = max(scores.values(), default=None)
        for i, (c, runs) in enumerate(by_contender.items()):
            head = [label, f"{n:,}", runner] if i == 0 else ["", "", ""]
            if c in scores:
                m = [x.metrics for x in runs]
                cells = [
                    f"{scores[c]:.4g}",
                    f"{mean(x['fit_seconds'] for x in m):.1f}",
                    f"{mean(x['n_trials'] for x in m):.0f}",
                    f"{mean(x.get('cost_usd', 0) for x in m):.5f}",
                ]
                name = f"[bold]{c}[/]" if scores[c] == best else c
                if scores[c] == best:
                    cells[0] = f"[bold]{cells[0]}[/]"
            else:
                name, cells = c, [", ".join(sorted({x.status for x in runs})), "", "", ""]
            table.add_row(*head, name, *cells, end_section=i == len(by_contender) - 1)
    return table


def decision_table(frame: pd.DataFrame):
    """The report's decision table as a rich table (`treeline run`, `report`, pytest)."""
    from rich.table import Table

    from treeline.boundary import compare
    from treeline.report import decision_rows

    table = Table(
        title="decision table (from the recorded cells)", title_justify="left", header_style="bold"
    )
    for col in (
        "dataset",
        "runner",
        "winner by n",
        "n*",
        "best tree USD/cell",
        "best deep USD/cell",
    ):
        table.add_column(col, overflow="fold")
    for row in decision_rows(frame, compare(frame)):
        table.add_row(*row)
    return table


def recorded_decision_table(suite: str, tracking_uri: str | None):
    """The decision table of a suite's recorded cells, or None unless both trees and networks
    have cells (without both there is no boundary to draw)."""
    from treeline.tracking import read_results

    frame = read_results(suite, tracking_uri)
    if frame.empty or not {"tree", "deep"} <= set(frame["family"]):
        return None
    return decision_table(frame)
