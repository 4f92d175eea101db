"""What `treeline run`, `treeline report` and the pytest plugin print: progress, a line per
cell, the summary table and the decision table."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from treeline.execute.cell import Cell
from treeline.execute.result import PASSED, CellResult
from treeline.execute.schedule import UNITS, TrialRecord

if TYPE_CHECKING:
    import pandas as pd

    from treeline.execute.estimate import CellEstimate
    from treeline.replay import ReplayRun
    from treeline.run import SuiteRun


PIPE_WIDTH = 200  # a table sent to a file or pipe takes its natural width up to this


def make_console(stderr: bool = False):
    """rich's Console, but sent to a file or pipe (no COLUMNS set) tables are not squeezed into
    80 columns: a log keeps one row per line and every number whole."""
    import os

    from rich.console import Console

    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPE_WIDTH
    return console


def run_with_progress(run: SuiteRun) -> list[CellResult]:
    """`treeline run`: a progress bar, a line per cell, and the summary table at the end."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    console = make_console()
    cells = run.cells
    console.print(
        f"[bold]{run.suite.name}[/]: {len(cells)} cells, "
        f"{_budgets(cells)} s budget each, tracking {run.tracker.shown}",
        soft_wrap=True,
    )
    overhead: list[float] = []
    remaining = {c.id: c.budget.seconds for c in cells}
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
        return duration(sum(remaining.values()) + per_cell * len(remaining))

    with progress:
        task = progress.add_task("starting", total=len(cells), eta=eta())

        def on_event(kind: str, cell: Cell, result: CellResult | None) -> None:
            if kind == "start":
                progress.update(task, description=cell.id, eta=eta())
                return
            assert result is not None
            remaining.pop(cell.id, None)
            if not result.from_earlier_run and result.status == "ok":
                overhead.append(max(0.0, result.measurements.wall_seconds - cell.budget.seconds))
            progress.console.print(_cell_line(result), soft_wrap=True)
            progress.update(task, advance=1, eta=eta())

        run.notes = lambda message: progress.console.print(
            f"[yellow]note[/] {message}", soft_wrap=True
        )
        results = run.run(on_event)
    console.print(summary_table(results))
    return results


class Listing:
    """What `treeline ls` and `treeline data list` print: a table where it fits the terminal
    unwrapped, otherwise one block per row (name, then `column: value` lines): a table squeezed
    into 80 columns breaks words and stacks cells many lines deep. Sent to a file or pipe, the
    table takes the width it needs, not 80."""

    def __init__(self, title: str, columns: Sequence[str]) -> None:
        self.title, self.columns = title, list(columns)
        self.rows: list[list[str]] = []

    def add_row(self, *values: str) -> None:
        self.rows.append(list(values))

    def table(self):
        from rich.table import Table

        table = Table(title=self.title, title_justify="left", header_style="bold")
        for col in self.columns:
            table.add_column(col, overflow="fold")
        for row in self.rows:
            table.add_row(*row)
        return table

    def show(self, console) -> None:
        import os

        from rich.measure import Measurement

        table = self.table()
        wide = console.options.update_width(1_000_000)
        need = Measurement.get(console, wide, table)
        if not console.is_terminal and "COLUMNS" not in os.environ:
            console.width = max(console.width, need.maximum)
        if need.maximum <= console.width:
            console.print(table)
            return
        from rich.padding import Padding
        from rich.table import Table

        console.print(f"[bold]{self.title}[/]", soft_wrap=True)
        for row in self.rows:
            console.print()
            console.print(f"[bold]{row[0]}[/]")
            fields = Table.grid(padding=(0, 1))
            fields.add_column(style="dim", no_wrap=True)
            fields.add_column()
            for col, value in zip(self.columns[1:], row[1:], strict=True):
                if value:
                    fields.add_row(f"{col}:", value)
            console.print(Padding(fields, (0, 0, 0, 2)))


def _budgets(cells: list[Cell]) -> str:
    """`8` or `8–30` (a suite may give a dataset its own budget)."""
    low = min(c.budget.seconds for c in cells)
    high = max(c.budget.seconds for c in cells)
    return f"{low:g}" if low == high else f"{low:g}–{high:g}"


def plural(k: int, word: str) -> str:
    """'1 trial', '2 trials'."""
    return f"{k} {word}" if k == 1 else f"{k} {word}s"


def duration(seconds: float) -> str:
    """`HH:MM:SS`, with whole days in front past 24 hours (a clock format would wrap), or '?'
    when there is no number to show."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    days, rest = divmod(int(seconds), 86_400)
    clock = f"{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}"
    return f"{days}d {clock}" if days else clock


_STYLE = {"ok": "green", "skipped": "yellow", "failed": "red", "timeout": "red", "oom": "red"}


def _cell_line(o: CellResult) -> str:
    style = _STYLE.get(o.status, "white")
    head = f"[{style}]{o.status:>7}[/] {o.cell.id}"
    if o.from_earlier_run:
        from rich.markup import escape

        if o.status in PASSED:
            return f"{head} [dim](recorded earlier)[/]"
        reason = escape(o.error.splitlines()[-1] if o.error else "no reason recorded")
        return f"{head} [dim](recorded earlier; --rerun-failed runs it again)[/]  {reason}"
    if o.status == "ok":
        m = o.measurements
        from treeline.data.metrics import NAMES, number, value_of

        return (
            f"{head}  test {NAMES.get(o.metric, o.metric)} "
            # the trivial model's value fixes the decimals: one format per dataset
            f"{number(o.metric, m.test_metric, value_of(o.metric, m.baseline_test_score))}"
            f"  fit {m.fit_seconds:.1f} s  "
            f"{plural(int(m.n_trials), 'trial')}  ${m.cost_usd:.5f}"
        )
    from rich.markup import escape

    return f"{head}  {escape(o.error.splitlines()[-1] if o.error else '')}"


def summary_table(results: list[CellResult]):
    """Per dataset, n and runner, one row per contender: the test metric, fit time, trials and
    cost (seed means); the group's best in bold. Long rather than one column per contender, so
    it stays readable at 80 columns and in a log file."""
    from statistics import mean, median

    from rich import box
    from rich.table import Table

    from treeline.data.metrics import default_metric, heading, number

    table = Table(
        title="summary (mean over seeds; ↑ higher is better, ↓ lower is better)",
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for col in ("dataset", "n", "runner"):
        table.add_column(col)
    table.add_column("contender", min_width=len("ft-transformer"))
    for col in ("test", "fit s", "trials", "USD"):
        table.add_column(col, justify="right")
    groups: dict[tuple[str, int, str], dict[str, list[CellResult]]] = {}
    for o in results:
        key = (o.cell.dataset.label, o.cell.n, o.cell.runner)
        groups.setdefault(key, {}).setdefault(o.cell.contender.label, []).append(o)
    for (label, n, runner), by_contender in groups.items():
        scores = {
            c: mean(x.measurements.test_score for x in runs)
            for c, runs in by_contender.items()
            if all(x.status == "ok" for x in runs)
        }
        values = {c: mean(x.measurements.test_metric for x in by_contender[c]) for c in scores}
        # A cell skipped before it loaded its data recorded no metric: its cell still says
        # which one it would have been scored on.
        first = next(iter(by_contender.values()))[0]
        metric = first.metric or first.cell.metric or default_metric(first.cell.task)
        scale = median(values.values()) if values else None
        best = max(scores.values(), default=None)
        for i, (c, runs) in enumerate(by_contender.items()):
            head = [f"{label}\n[dim]{heading(metric)}[/]", f"{n:,}", runner]
            head = head if i == 0 else ["", "", ""]
            if c in scores:
                m = [x.measurements for x in runs]
                cells = [
                    number(metric, values[c], scale),
                    f"{mean(x.fit_seconds for x in m):.1f}",
                    f"{mean(x.n_trials for x in m):.0f}",
                    f"{mean(x.cost_usd for x in m):.5f}",
                ]
                name = _flagged(c, runs)
                name = f"[bold]{name}[/]" if scores[c] == best else name
                if scores[c] == best:
                    cells[0] = f"[bold]{cells[0]}[/]"
            else:
                name, cells = c, [", ".join(sorted({x.status for x in runs})), "", "", ""]
            table.add_row(*head, name, *cells, end_section=i == len(by_contender) - 1)
    return table


def _flagged(name: str, runs: list[CellResult]) -> str:
    """`mlp (untuned: 1 trial)`: a score that does not mean what it seems says so here too."""
    from treeline.analysis.flags import flags, label
    from treeline.analysis.frame import results_frame

    return label(name, flags(results_frame(runs)))


def decision_table(frame: pd.DataFrame):
    """The report's decision table as a rich table (`treeline run`, `report`, pytest)."""
    from rich.table import Table

    from treeline.analysis.boundary import compare
    from treeline.analysis.content import decision_rows

    table = Table(
        title="decision table (from the recorded cells)", title_justify="left", header_style="bold"
    )
    for col in (
        "dataset",
        "runner",
        "winner by n",
        "n*",
        "best tree USD per cell",
        "best deep USD per cell",
    ):
        table.add_column(col, overflow="fold")
    for row in decision_rows(frame, compare(frame)):
        table.add_row(*row)
    return table


def recorded_decision_table(suite: str, tracking_uri: str | None):
    """The decision table of a suite's recorded cells, or None unless both trees and networks
    have cells (without both there is no boundary to draw)."""
    from treeline.analysis.frame import records_frame
    from treeline.record.store import Tracker

    frame = records_frame(Tracker(suite, tracking_uri, create=False).records())
    if frame.empty or not {"tree", "deep"} <= set(frame["family"]):
        return None
    return decision_table(frame)


def replay_table(run: ReplayRun):
    """The recorded cell and its replay, side by side."""
    from rich.table import Table

    r, rec = run.replay, run.recorded
    new, old = r.replayed.measurements, rec.measurements
    table = Table(
        title=f"replay of {rec.cell.id} ({rec.cell.suite}) on {r.replayed.cell.runner}",
        title_justify="left",
        header_style="bold",
    )
    for col in ("", f"recorded ({r.recorded_runner})", f"replayed ({r.replayed.cell.runner})", "Δ"):
        table.add_column(col, justify="right" if col else "left")

    def row(name: str, a: float, b: float, digits: int = 6, delta: bool = True) -> None:
        d = b - a if delta else math.nan
        table.add_row(name, _num(a, digits), _num(b, digits), "" if math.isnan(d) else f"{d:+.3g}")

    # Scores in full (the shortest repr that reads back to the same float): equal means bit-equal.
    row(f"test {rec.metric}", old.test_metric, new.test_metric, -1)
    row("test score", old.test_score, new.test_score, -1)
    row("val score", old.val_score, new.val_score, -1)
    table.add_row(
        "best trial", str(_best(run.recorded_schedule)), str(_best(r.replayed.schedule)), ""
    )
    row("trials", old.n_trials, new.n_trials, 0)
    row("  pruned", old.n_trials_pruned, new.n_trials_pruned, 0)
    row("  failed", old.n_trials_failed, new.n_trials_failed, 0)
    for unit in UNITS:
        a, b = getattr(old, f"work_{unit}"), getattr(new, f"work_{unit}")
        if not (math.isnan(a) and math.isnan(b)):
            row(f"work: {unit}", a, b, 0)
    row("fit seconds", old.fit_seconds, new.fit_seconds, 3)
    row("predict seconds", old.predict_seconds, new.predict_seconds, 3)
    row("cost USD", old.cost_usd, new.cost_usd, 6)
    return table


def replay_verdict(run: ReplayRun) -> str:
    """One line: equal or not, by how much, against which tolerance, and why that tolerance."""
    r = run.replay
    if r.replayed.status != "ok":
        return f"[red]replay {r.replayed.status}[/]: {r.replayed.error}"
    why = (
        "bit-equality expected (same device, threads and library versions)"
        if r.exact_expected
        else "not bit-exact here: "
        + (
            "; ".join(run.version_changes)
            if run.version_changes
            else f"{r.replayed.cell.contender.name} on {r.replayed.cell.device} "
            f"(threads {run.recorded.cell.threads} → {r.replayed.cell.threads})"
        )
    )
    work = "the same work in every trial" if r.same_work else "[yellow]work differs[/]"
    if r.bit_equal:
        head = "[green]bit-equal[/] test score"
    else:
        colour = "green" if r.within_tolerance else "red"
        head = f"[{colour}]test score differs by {r.difference:+.3g}[/] (tolerance {r.tolerance:g})"
    speed = (
        f"; fit time ratio recorded/replayed {r.speedup:.3g}×" if math.isfinite(r.speedup) else ""
    )
    return f"{head}; {work}; {why}{speed}"


def _num(x: float, digits: int) -> str:
    if math.isnan(x):
        return "–"
    if digits < 0:
        return repr(x)
    return f"{x:,.0f}" if digits == 0 else f"{x:.{digits}g}"


def _best(schedule: list[TrialRecord]) -> int | str:
    done = [t for t in schedule if t.outcome == "complete" and t.val_score is not None]
    if not done:
        return "–"
    best = done[0]
    for t in done[1:]:
        if t.val_score > best.val_score:  # the first of equals, as tuning picks it
            best = t
    return best.number


def plan_table(estimates: list[CellEstimate], jobs: int = 1) -> tuple[Listing, list[str]]:
    """One row per runner — cells, budgets, expected wall-clock with `jobs` cells at a time,
    dollars, where the start-up figures come from — and every cell's warnings, by cell id."""
    table = Listing(
        "plan", ["runner", "cells", "budgets", "expected wall-clock", "USD", "beyond budgets"]
    )
    by_runner: dict[str, list[CellEstimate]] = {}
    for e in estimates:
        by_runner.setdefault(e.cell.runner, []).append(e)
    for runner, mine in by_runner.items():
        budgets = sum(e.cell.budget.seconds for e in mine)
        wall = sum(e.seconds for e in mine) / max(jobs, 1)
        bases = sorted({e.basis.split(" (")[0] for e in mine})
        table.add_row(
            runner,
            str(len(mine)),
            _duration(budgets),
            _duration(wall) + (f" ({jobs} at a time)" if jobs > 1 else ""),
            f"${sum(e.usd for e in mine):.4f}",
            ", ".join(bases),
        )
    warnings = [f"{e.cell.id}: {w}" for e in estimates for w in e.warnings]
    return table, warnings


def _duration(seconds: float) -> str:
    """'45 s', '12 min', '2 h 05 min'."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60:02d} min"
