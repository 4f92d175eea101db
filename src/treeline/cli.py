"""`treeline`: the command line. Heavy libraries are imported inside the commands that use them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from treeline import __version__
from treeline.errors import EXIT_USAGE, ConfigError, TreelineError

if TYPE_CHECKING:
    import pandas as pd

    from treeline.analysis.compare import Comparison
    from treeline.config.runner_profile import RunnerProfile
    from treeline.execute.result import CellResult


def _console(stderr: bool = False):
    from treeline.console import make_console

    return make_console(stderr)


def error(message: object) -> None:
    """Print a user-facing error on stderr: no markup parsing, no wrapping mid-message, no
    password of a URI it quotes."""
    from rich.markup import escape

    from treeline.locate import redact

    _console(stderr=True).print(f"[red]error[/] {escape(redact(str(message)))}", soft_wrap=True)


MAX_PRINTED = 100  # problems printed per file: past that, the first ones are what to fix


def print_problems(problems: Sequence[object]) -> None:
    """Each problem on its own line, at most MAX_PRINTED, then how many more there are."""
    for problem in problems[:MAX_PRINTED]:
        error(problem)
    if len(problems) > MAX_PRINTED:
        error(f"... and {len(problems) - MAX_PRINTED:,} more problems")


def _table(title: str, columns: Sequence[str]):
    from treeline.console import Listing

    return Listing(title, columns)


LISTABLE = ("datasets", "featurizers", "contenders", "suites", "runners")
RULE_HELP = (  # analysis/compare.py: parse_rules
    "what makes the exit code 1, comma-separated: `score` (a cell's test score fell beyond its "
    "95%% interval), `score:T` (fell by more than T, in the metric's units, or T%% of it), "
    "`status` (ok before, not now), `missing` (a cell of BASE absent from NEW), `time:R` or "
    "`cost:R` (wall-clock or cost more than R times BASE's)"
)
TRACKING_HELP = "MLflow tracking URI (default: MLFLOW_TRACKING_URI or sqlite:///results/mlflow.db)"


def cmd_ls(args: argparse.Namespace) -> int:
    what = args.what
    console = _console()
    if what is None:
        console.print("treeline ls WHAT, where WHAT is one of: " + ", ".join(LISTABLE))
        return 0
    if what == "datasets":
        from treeline.data import builtin_names, dataset_class, get_dataset

        table = _table(
            "datasets",
            ["name", "modality", "task", "rows (labelled + test)", "source", "available"],
        )
        for name in builtin_names():
            d = get_dataset(name)
            ok, where = d.availability()
            options = dataset_class(name).Options
            task = "any (option)" if options and "task" in options.model_fields else d.task
            table.add_row(
                name,
                d.modality,
                task,
                d.rows_text(),
                d.description,
                f"[green]yes[/] ({where})" if ok else f"[yellow]no[/]: {where}",
            )
        table.show(console)
    elif what == "contenders":
        from treeline.contenders import catalogue

        table = _table(
            "contenders",
            ["name", "family", "modalities", "devices", "library", "options", "description"],
        )
        for cls in catalogue().values():
            devices = ", ".join(cls.devices) + (f" ({cls.device_note})" if cls.device_note else "")
            table.add_row(
                cls.name,
                cls.family,
                ", ".join(cls.modalities),
                devices,
                cls.library,
                ", ".join(cls.Options.model_fields) or "–",
                cls.description,
            )
        table.show(console)
    elif what == "featurizers":
        from treeline.featurize import catalogue as featurizers

        table = _table(
            "featurizers",
            ["name", "takes", "cached", "devices", "library", "options", "description"],
        )
        for f in featurizers().values():
            table.add_row(
                f.name,
                ", ".join(f.modalities),
                "no (fitted per cell)" if f.fitted else "yes (once per dataset)",
                ", ".join(f.devices),
                f.library,
                ", ".join(f.Options.model_fields) or "–",
                f.description,
            )
        table.show(console)
    elif what == "suites":
        from treeline.config.suite import suite_files
        from treeline.config.yaml_source import load_yaml

        table = _table("suites", ["name", "description", "file"])
        for name, path in suite_files().items():
            try:
                data = load_yaml(path).data
                desc = str(data.get("description", "")).strip() if isinstance(data, dict) else ""
            except TreelineError as exc:
                desc = f"[red]invalid[/]: {exc}"
            table.add_row(name, desc, str(path))
        table.show(console)
    else:  # runners
        from treeline.config.runner_profile import available_runners, load_runner

        table = _table(
            "runners", ["name", "device", "threads", "USD/hour", "price source", "available here"]
        )
        for name, path in available_runners().items():
            try:
                r = load_runner(path)
            except TreelineError as exc:
                table.add_row(name, "", "", "", f"[red]invalid[/]: {exc}", "")
                continue
            reason = r.unavailable_reason()
            table.add_row(
                name,
                r.device + (f" ({r.gpu})" if r.gpu else ""),
                str(r.threads),
                f"{r.price_per_hour:.4g}",
                f"{r.price_source} ({r.price_date})",
                "[green]yes[/]" if reason is None else f"[yellow]no[/]: {reason}",
            )
        table.show(console)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from treeline.console import plural
    from treeline.execute.resolve import resolve

    console, failed = _console(), 0
    for ref in args.suites:
        try:
            plan = resolve(ref)
        except ConfigError as exc:
            failed += 1
            print_problems(exc.problems)
            continue
        s, cells = plan.suite, len(plan.cells)
        budgets = sorted({c.budget.seconds for c in plan.cells}) or [s.budget]
        budget = f"{budgets[0]:g}" + (f"–{budgets[-1]:g}" if len(budgets) > 1 else "")
        console.print(
            f"[green]ok[/] {s.path}: suite '{s.name}', {plural(len(s.datasets), 'dataset')}, "
            f"{plural(len(s.contenders), 'contender')}, {plural(len(s.runners), 'runner')}, "
            f"{plural(cells, 'cell')}, {budget} s per cell",
            soft_wrap=True,
        )
    return EXIT_USAGE if failed else 0


def cmd_data(args: argparse.Namespace) -> int:
    from treeline.data import CachedDataset, builtin_names, get_dataset

    console = _console()
    if args.action == "list":
        from treeline.locate import cache_dir

        table = _table(
            f"prepared data in {cache_dir()}", ["name", "prepared", "source", "size on disk"]
        )
        for name in builtin_names():
            d = get_dataset(name)
            if not isinstance(d, CachedDataset):
                table.add_row(name, "generated on demand", "generated (seeded)", "-")
                continue
            path = d.cache_path()
            if path.exists():
                from rich.markup import escape

                from treeline.data.cache_check import read_meta

                meta, problem = read_meta(path)
                size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
                if problem is None and meta is not None:
                    prepared, source = "[green]yes[/]", str(meta.get("source", "?"))
                else:  # said here; `data prepare NAME` (or the next run) prepares it again
                    prepared, source = "[red]damaged[/]", escape(str(problem))
                table.add_row(name, prepared, source, f"{size / 2**20:.1f} MiB")
            else:
                table.add_row(name, "no", d.availability()[1], "-")
        table.show(console)
        return 0
    import time

    for name in args.names:
        d = get_dataset(name)
        started = time.perf_counter()
        p = d.prepare()
        took = time.perf_counter() - started
        how = "from cache" if p.from_cache else f"prepared from {p.source}"
        if p.repaired:
            how = f"prepared again from {p.source} (the cache was damaged: {p.repaired})"
        console.print(
            f"[green]{name}[/]: {p.rows_labelled:,} labelled + {p.rows_test:,} test "
            f"rows, {how} in {took:.2f} s → {p.path}",
            soft_wrap=True,
        )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from treeline.acceptance import no_device
    from treeline.config.options import RunOptions
    from treeline.console import recorded_decision_table, run_with_progress
    from treeline.execute.resolve import resolve
    from treeline.run import SuiteRun, exit_code, tally

    run = SuiteRun(resolve(args.suite, RunOptions.read(lambda dest: getattr(args, dest))))
    suite = run.suite
    console = _console()
    # The GPU acceptance on a machine without a GPU: one line, exit 0 (any other suite whose
    # cells all skip exits 1 below: nothing that was asked for was measured).
    absent = no_device(run.profiles) if suite.acceptance == "gpu" else None
    if absent is not None:
        results = run.run()  # each cell recorded as skipped, with the reason
        console.print(f"{suite.name}: {absent}; {tally(results)}", soft_wrap=True)
        return 0
    results = run_with_progress(run)
    table = recorded_decision_table(suite.name, args.tracking_uri)
    if table is not None:
        console.print(table)
    code = exit_code(results, run.options.allow_skipped)
    console.print(f"cells: {tally(results)}", soft_wrap=True)
    if code and all(r.status == "skipped" for r in results):
        console.print(
            "every cell was skipped: nothing that was asked for was measured "
            "(--allow-skipped accepts that)",
            soft_wrap=True,
        )
    if suite.acceptance == "gpu":
        code = max(code, _gpu_acceptance(results, run.profiles))
    return code


def _gpu_acceptance(results: list[CellResult], profiles: dict[str, RunnerProfile]) -> int:
    """The GPU acceptance's lines after the cells (acceptance.py); 1 when any fails."""
    from rich.markup import escape

    from treeline.acceptance import gpu_checks, replay_check

    console = _console()
    checks = [*gpu_checks(results), replay_check(results, profiles)]
    for c in checks:
        mark = "[green]pass[/]" if c.ok else "[red]FAIL[/]"
        console.print(f"{mark} {escape(c.line)}", soft_wrap=True)
    failed = sum(not c.ok for c in checks)
    console.print(f"GPU acceptance: {len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


def cmd_plan(args: argparse.Namespace) -> int:
    """Before anything runs: per runner, the cells, their expected wall-clock and dollars, and
    the cells that cannot train in their budget."""
    from rich.markup import escape

    from treeline.config.options import RunOptions
    from treeline.console import plan_table
    from treeline.execute.estimate import estimate
    from treeline.execute.resolve import resolve

    plan = resolve(args.suite, RunOptions.read(lambda dest: getattr(args, dest)))
    memory = {name: p.gpu_memory_gib for name, p in plan.profiles.items()}
    estimates = estimate(plan.cells, _recorded_everywhere(args.tracking_uri), memory)
    console = _console()
    table, warnings = plan_table(estimates, plan.options.jobs)
    table.show(console)
    for line in warnings:
        console.print(f"[yellow]warning[/] {escape(line)}", soft_wrap=True)
    console.print(
        "wall-clock: each cell's budget plus what its worker spent beyond it in the recorded "
        "cells of its contender (else a guess of 12 s), divided among --jobs; first-time data "
        "preparation is not in it",
        soft_wrap=True,
    )
    return 0


def cmd_advise(args: argparse.Namespace) -> int:
    """DATA in, an answer out (advise.py): infer, design, run, answer."""
    import time

    from rich.markup import escape

    from treeline.advise import STARTUP, answer, design, infer, parse_time, suite_yaml
    from treeline.analysis.boundary import compare
    from treeline.analysis.frame import records_frame
    from treeline.analysis.report import write_report
    from treeline.config.options import RunOptions
    from treeline.config.runner_profile import get_runner
    from treeline.console import run_with_progress
    from treeline.data.class_folders import default_label
    from treeline.execute.estimate import estimate
    from treeline.execute.resolve import resolve
    from treeline.locate import results_dir
    from treeline.record.store import Tracker
    from treeline.run import SuiteRun

    started = time.perf_counter()
    seconds = parse_time(args.time)
    get_runner(args.runner)  # an unknown runner: said before anything is read
    path = Path(args.data).expanduser().resolve()
    text = [] if args.no_text else args.text
    columns = None
    if args.columns is not None:
        names = [c.strip() for c in args.columns.split(",")]
        if len(names) not in (3, 4) or not all(names):
            raise TreelineError(
                f"--columns: give ID,TIME,VALUE or ID,TIME,VALUE,CHANNEL, got {args.columns!r}"
            )
        columns = dict(zip(("id", "time", "value", "channel"), names, strict=False))
    labels = Path(args.labels).expanduser().resolve() if args.labels else None
    found = infer(
        path, args.target, args.task, text, args.image, args.audio, labels, columns, args.drop
    )
    plan = design(found, seconds)
    label = default_label(path)
    name = f"advise-{label}"
    folder = results_dir() / "advise" / label
    folder.mkdir(parents=True, exist_ok=True)
    suite_path = folder / f"{name}.yaml"
    suite_path.write_text(suite_yaml(found, plan, name, args.runner))
    options = RunOptions(tracking_uri=args.tracking_uri)
    resolved = resolve(suite_path, options)
    # The plan's start-up per cell, from cells recorded in this store: a budget that fits.
    recorded = _recorded_everywhere(args.tracking_uri)
    guesses = estimate(resolved.cells, recorded)
    startup = sum(e.startup for e in guesses) / len(guesses)
    if recorded and abs(startup - STARTUP) >= 1:
        plan = design(found, seconds, startup, "the plan's estimate from recorded cells")
        suite_path.write_text(suite_yaml(found, plan, name, args.runner))
        resolved = resolve(suite_path, options)
    console = _console()
    for line in [*found.said, *plan.said]:
        console.print(f"[bold]inferred[/] {escape(line)}", soft_wrap=True)
    console.print(
        f"suite: {suite_path} (rerun or extend: treeline run {suite_path})", soft_wrap=True
    )
    for note in resolved.suite.datasets[0].ref.build().notes():  # how the data was taken
        console.print(f"[bold]data[/] {escape(note)}", soft_wrap=True)
    run_with_progress(SuiteRun(resolved))
    tracker = Tracker(name, args.tracking_uri, create=False)
    frame = records_frame(tracker.records())
    comparisons = compare(frame)
    t4 = resolve(suite_path, RunOptions(runners=["t4"], tracking_uri=args.tracking_uri)).cells
    gpu_usd = sum(e.usd for e in estimate(t4, tracker.results()))
    report = write_report(name, suite_path.read_text(), frame, folder / "report")
    console.print(f"\n[bold]Answer for {escape(str(path))}[/]", soft_wrap=True)
    for line in answer(comparisons[0], frame, found, gpu_usd):
        console.print(f"- {escape(line)}", soft_wrap=True)
    took = time.perf_counter() - started
    console.print(f"report: {report}; took {took / 60:.1f} min", soft_wrap=True)
    return 0


def _recorded_everywhere(uri: str | None) -> list[CellResult]:
    """Every recorded cell of every suite in the store (none where there is no store)."""
    from treeline.record.store import Tracker, suites_in, tracking_uri

    uri = tracking_uri(uri)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return []
    return [r for name in suites_in(uri) for r in Tracker(name, uri, create=False).results()]


def cmd_report(args: argparse.Namespace) -> int:
    from treeline.analysis.frame import records_frame, replays_frame
    from treeline.analysis.report import write_report
    from treeline.console import decision_table
    from treeline.locate import results_dir

    if args.sources:  # exports: no store is read or written
        name, description, frame = _from_exports(args.suite, [Path(p) for p in args.sources])
        tracker, digest = None, ""
    elif args.suite is None:
        raise TreelineError("name a suite: treeline report SUITE (or --from FILE…)")
    else:
        from treeline.record.transfer import suite_of

        name, description, digest = suite_of(args.suite)
    out = Path(args.out) if args.out else results_dir() / "reports" / name
    _make_folder(out, "report")  # before reading the store: said at once
    replays = None
    if not args.sources:
        from treeline.record.store import Tracker

        if not digest:  # no suite file here: a suite recorded elsewhere (imported)
            from treeline.execute.resolve import load_suite
            from treeline.record.store import suites_in

            found = suites_in(args.tracking_uri)
            if name not in found:
                load_suite(args.suite)  # an unknown name: said as for any suite
            description = found[name]
        tracker = Tracker(name, args.tracking_uri, create=False)
        frame = records_frame(tracker.records())  # with predictions: test-row intervals
        if frame.empty:
            raise TreelineError(
                f"no recorded cells for suite '{name}': run `treeline run {args.suite}` first"
            )
        replays = replays_frame(tracker.replays())
    path = write_report(name, description, frame, out, replays)
    if tracker is not None:
        tracker.log_report(out, digest)
    console = _console()
    console.print(decision_table(frame))
    where = f"experiment '{name} (reports)'"
    logged = f" (also in MLflow, {where})" if tracker is not None else ""
    console.print(f"report: {path} and {out / 'index.html'}{logged}", soft_wrap=True)
    return 0


def _make_folder(out: Path, what: str) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TreelineError(
            f"{what} folder {out} cannot be made: {exc.strerror or exc} ({exc.filename or out})"
        ) from None


def _from_exports(suite: str | None, paths: list[Path]) -> tuple[str, str, pd.DataFrame]:
    """The suite's cells from exported files, as one result set: (name, description, frame)."""
    from treeline.analysis.frame import records_frame
    from treeline.record import results_file
    from treeline.record.transfer import suite_name

    data = results_file.read(paths)
    suites = sorted({r.result.cell.suite for r in data.records})
    if suite is None:
        if len(suites) != 1:
            raise TreelineError(
                f"the files hold {len(suites)} suites ({', '.join(suites) or 'none'}): name one"
            )
        name = suites[0]
    else:
        name = suite_name(suite)
    records = [r for r in data.records if r.result.cell.suite == name]
    if not records:
        raise TreelineError(
            f"no cells of suite '{name}' in {', '.join(map(str, paths))} "
            f"(they hold: {', '.join(suites) or 'no cells'})"
        )
    return name, data.suites.get(name, ""), records_frame(records)


def cmd_atlas(args: argparse.Namespace) -> int:
    """One page across every modality of the named suites' stores, or of exported files."""
    import pandas as pd

    from treeline.analysis.atlas import provenance, write_atlas
    from treeline.analysis.frame import records_frame
    from treeline.locate import results_dir

    if not args.suites and not args.sources:
        raise TreelineError("name suites (treeline atlas SUITE…) or exports (--from FILE…)")
    out = Path(args.out) if args.out else results_dir() / "reports" / "atlas"
    _make_folder(out, "atlas")
    frames, sources, records = [], [], []
    if args.sources:
        from treeline.record import results_file

        data = results_file.read([Path(p) for p in args.sources])
        records += data.records
        for suite in sorted({r.result.cell.suite for r in data.records}):
            frames.append(records_frame([r for r in data.records if r.result.cell.suite == suite]))
        sources += [Path(p).name for p in args.sources]
    for ref in args.suites or []:
        from treeline.record.store import Tracker
        from treeline.record.transfer import suite_name

        name = suite_name(ref)
        recorded = Tracker(name, args.tracking_uri, create=False).records()
        records += recorded
        frames.append(records_frame(recorded))
        sources.append(f"suite {name}")
    frames = [f for f in frames if not f.empty]
    if not frames:
        raise TreelineError(f"no recorded cells in {', '.join(sources)}")
    frame = pd.concat(frames, ignore_index=True)
    path = write_atlas(frame, out, sources, provenance(records))
    logged = ""
    if args.suites:  # read from a store: the page goes beside the suites' reports
        from mlflow import MlflowClient

        from treeline.record.schema import NOTE, reports_experiment
        from treeline.record.store import log_page, tracking_uri

        client = MlflowClient(tracking_uri(args.tracking_uri))
        where = reports_experiment("atlas")
        log_page(client, where, "atlas", out, {NOTE: f"The atlas of {', '.join(sources)}."})
        logged = f" (also in MLflow, experiment '{where}')"
    _console().print(f"atlas: {path} and {out / 'index.html'}{logged}", soft_wrap=True)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import time

    from treeline.locate import results_dir
    from treeline.record.transfer import export, suite_name

    name = suite_name(args.suite)
    path = Path(args.output) if args.output else results_dir() / "exports" / f"{name}.parquet"
    started = time.perf_counter()
    data = export(name, path, args.tracking_uri)
    took = time.perf_counter() - started
    size = path.stat().st_size
    with_predictions = sum(r.predictions is not None for r in data.records)
    _console().print(
        f"exported {len(data.records):,} cells of '{name}' ({with_predictions:,} with test "
        f"predictions) from {data.sources[0]} to {path}: {size / 2**20:.2f} MiB in {took:.1f} s",
        soft_wrap=True,
    )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from treeline.locate import redact
    from treeline.record.store import tracking_uri
    from treeline.record.transfer import import_files

    done = import_files([Path(p) for p in args.files], args.tracking_uri)
    console = _console()
    console.print(
        f"imported into {redact(tracking_uri(args.tracking_uri))}: {done.written:,} cells "
        f"written, {done.present:,} already there",
        soft_wrap=True,
    )
    if done.conflicts:
        for cell in done.conflicts[:MAX_PRINTED]:
            error(f"not imported: {cell}: the store holds another record of this cell")
        if len(done.conflicts) > MAX_PRINTED:
            error(f"... and {len(done.conflicts) - MAX_PRINTED:,} more")
        error(
            f"{len(done.conflicts):,} conflicting cells kept as the store has them "
            "(import into another store to see both)"
        )
        return 1
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from treeline.analysis.compare import blocks, compare, parse_rules
    from treeline.analysis.render import render_html, render_markdown
    from treeline.locate import results_dir
    from treeline.record.transfer import results_of

    rules = parse_rules(args.fail_on or [])
    base = results_of(args.base, args.tracking_uri)
    new = results_of(args.new, args.tracking_uri)
    c = compare(base, new, rules, (_short(args.base), _short(args.new)))
    if not c.cells and not c.only_base:
        raise TreelineError(f"{args.base} and {args.new} have no cells to compare")
    out = Path(args.out) if args.out else results_dir() / "compare"
    _make_folder(out, "comparison")
    content = blocks(c)
    (out / "compare.md").write_text(render_markdown(content, out))
    (out / "compare.html").write_text(render_html(content, "Treeline comparison"))
    _print_comparison(c)
    _console().print(f"comparison: {out / 'compare.md'} and {out / 'compare.html'}")
    return 1 if c.rules and c.regressions else 0


def _short(ref: str) -> str:
    from treeline.locate import redact

    return Path(ref).name if ref.endswith(".parquet") else redact(ref)


def _print_comparison(c: Comparison) -> None:
    from rich.markup import escape

    from treeline.console import Listing

    console = _console()
    console.print(
        f"{len(c.cells)} cells matched; {len(c.only_base)} only in {c.base}, "
        f"{len(c.only_new)} only in {c.new}",
        soft_wrap=True,
    )
    for line in c.environment or ["libraries, commit, machine and setup: the same"]:
        console.print(f"  differs: {line}" if c.environment else f"  {line}", soft_wrap=True)
    from treeline.analysis.compare import MODALITY_HEADER, modality_rows

    table = Listing("per modality", list(MODALITY_HEADER))
    for row in modality_rows(c):
        table.add_row(*row)
    table.show(console)
    if c.rules:
        regressions = c.regressions
        for line in regressions[:MAX_PRINTED]:
            console.print(f"[red]regression[/] {escape(line)}", soft_wrap=True)
        if not regressions:
            console.print(f"no regressions ({', '.join(map(str, c.rules))})")


def cmd_replay(args: argparse.Namespace) -> int:
    from treeline.console import replay_table, replay_verdict
    from treeline.replay import replay

    run = replay(
        args.cell_id,
        suite=args.suite,
        runner=args.runner,
        tracking_uri=args.tracking_uri,
        tolerance=args.tolerance,
    )
    console = _console()
    if run.replay.replayed.status != "skipped":
        console.print(replay_table(run))
    console.print(replay_verdict(run), soft_wrap=True)
    return 0 if run.passed else 1


def cmd_ui(args: argparse.Namespace) -> int:
    """The MLflow UI on the results store, as a child we own: ready when it answers, stopped
    (with everything it started) on Ctrl-C or a signal, its own output in a log file."""
    import os
    import signal
    import socket
    import subprocess
    import time

    from treeline.execute.process import launch
    from treeline.locate import redact, results_dir
    from treeline.record.store import check_store, default_tracking_uri, tracking_uri

    uri = tracking_uri(args.tracking_uri)
    check_store(uri, create=uri == default_tracking_uri())  # a bad URI: one line, not the UI's
    log_path = results_dir() / "logs" / "ui.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri]
    cmd += ["--host", args.host, "--port", str(args.port)]
    console = _console()

    # SIGTERM and SIGHUP arrive as KeyboardInterrupt (main's handlers): the server is stopped.
    with open(log_path, "w") as log:
        server = launch(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{args.host}:{args.port}"
    try:
        console.print(f"starting the MLflow UI for {redact(uri)} …", soft_wrap=True)
        while server.poll() is None:
            try:
                socket.create_connection((args.host, args.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        if server.poll() is not None:
            raise TreelineError(f"the MLflow UI did not start; its output is in {log_path}")
        console.print(f"MLflow UI ready on {url} — Ctrl-C stops it", soft_wrap=True)
        server.wait()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
            console.print("MLflow UI stopped", soft_wrap=True)


def build_parser() -> argparse.ArgumentParser:
    from treeline.config.options import add_run_options

    parser = argparse.ArgumentParser(
        prog="treeline",
        description="Measure where deep learning beats gradient-boosted trees: by modality, "
        "data size, hardware and budget.",
    )
    parser.add_argument("--version", action="version", version=f"treeline {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ls", help="list datasets, featurizers, contenders, suites or runners")
    p.add_argument(
        "what",
        nargs="?",
        choices=LISTABLE,
        help="what to list; without it, what can be listed",
    )
    p.set_defaults(func=cmd_ls)

    p = sub.add_parser("validate", help="validate suite files (names or paths)")
    p.add_argument("suites", nargs="+", metavar="SUITE", help="suite names or YAML paths")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("run", help="run a suite: every cell tuned under the same budget")
    p.add_argument("suite", metavar="SUITE", help="a suite name from suites/ or a YAML path")
    add_run_options(p.add_argument)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "plan",
        help="before a run: cells, expected wall-clock and dollars per runner, and the cells "
        "that cannot train in their budget",
    )
    p.add_argument("suite", metavar="SUITE", help="a suite name from suites/ or a YAML path")
    add_run_options(p.add_argument)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser(
        "advise",
        help="your data in, an answer out: trees or a network, how sure, at what cost",
        description="Infers the modality and task of DATA (a CSV/Parquet file, perhaps with "
        "text columns or a column of image or clip paths; a folder of class folders of images "
        "or recordings; series, long-format with --columns or an .npy array with --labels), "
        "runs the atlas's strongest tree and network routes at nested sizes within --time, "
        "and answers for this data. The suite it ran and its report are kept in "
        "results/advise/.",
    )
    p.add_argument(
        "data",
        metavar="DATA",
        help="a CSV or Parquet file, a folder of class folders, or series (.npy, or --columns)",
    )
    p.add_argument("--target", metavar="COLUMN", help="the column to predict (a table)")
    p.add_argument("--time", default="30m", metavar="T", help="the time to spend (30m, 1h, 600s)")
    p.add_argument("--runner", default="cpu", metavar="R", help="runner profile (default cpu)")
    p.add_argument(
        "--task", choices=("binary", "multiclass", "regression"), help="instead of inferred"
    )
    p.add_argument(
        "--text",
        action="append",
        metavar="COLUMN",
        help="a text column (repeatable), instead of inferred",
    )
    p.add_argument("--no-text", action="store_true", help="treat every column as a table's")
    p.add_argument(
        "--image",
        nargs="?",
        const="",
        metavar="COLUMN",
        help="the file's column of image paths, instead of inferred; alone: DATA is a folder "
        "of class folders of images",
    )
    p.add_argument(
        "--audio",
        nargs="?",
        const="",
        metavar="COLUMN",
        help="the file's column of clip paths, instead of inferred; alone: DATA is a folder "
        "of class folders of recordings",
    )
    p.add_argument(
        "--columns",
        metavar="ID,TIME,VALUE[,CHANNEL]",
        help="DATA is long-format series: its id, time, value (and channel) columns",
    )
    p.add_argument("--labels", metavar="FILE", help="series: the file of their labels")
    p.add_argument(
        "--drop",
        action="append",
        metavar="COLUMN",
        help="a column to leave out: an id, or one that gives the answer away (repeatable)",
    )
    p.add_argument("--tracking-uri", metavar="URI", help=TRACKING_HELP)
    p.set_defaults(func=cmd_advise)

    p = sub.add_parser("report", help="write the boundary report of a suite's recorded cells")
    p.add_argument(
        "suite",
        metavar="SUITE",
        nargs="?",
        help="a suite name from suites/ or a YAML path (optional with --from: the files' suite)",
    )
    p.add_argument("--out", metavar="DIR", help="default: results/reports/<suite>/")
    p.add_argument("--tracking-uri", metavar="URI", help=TRACKING_HELP)
    p.add_argument(
        "--from",
        dest="sources",
        nargs="+",
        metavar="FILE",
        help="exported files (treeline export) instead of the store, read as one result set",
    )
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "atlas",
        help="one page across every modality: who leads by size, and the chapter's claims",
        description="Compare the best tree with the best network for every dataset, runner and "
        "budget the suites (or exports) hold, on one page: a modality × n grid with intervals "
        "and what binds them, the crossovers, the four questions, time to target, and the "
        "chapter's claims judged confirmed, refuted, mixed or not measured here.",
    )
    p.add_argument("suites", nargs="*", metavar="SUITE", help="suites recorded in the store")
    p.add_argument(
        "--from", dest="sources", nargs="+", metavar="FILE", help="exported files instead"
    )
    p.add_argument("--out", metavar="DIR", help="default: results/reports/atlas/")
    p.add_argument("--tracking-uri", metavar="URI", help=TRACKING_HELP)
    p.set_defaults(func=cmd_atlas)

    p = sub.add_parser(
        "export",
        help="write a suite's recorded cells to one Parquet file (see results/README.md)",
    )
    p.add_argument("suite", metavar="SUITE", help="a suite name, YAML path or recorded suite name")
    p.add_argument(
        "-o", "--output", metavar="FILE", help="default: results/exports/<suite>.parquet"
    )
    p.add_argument("--tracking-uri", metavar="URI", help=TRACKING_HELP)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "import",
        help="put exported cells into a store: each once; a conflicting record is named, not "
        "overwritten (exit 1)",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="exported .parquet files")
    p.add_argument("--tracking-uri", metavar="URI", help=TRACKING_HELP)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "compare",
        help="compare two result sets cell by cell; exit 1 on a regression (--fail-on)",
        description="BASE and NEW are each an export (.parquet), a store URI (every suite), "
        "URI#SUITE, or a suite name or file in the store of --tracking-uri. Writes compare.md "
        "and compare.html.",
    )
    p.add_argument("base", metavar="BASE", help="what to compare against (e.g. last night)")
    p.add_argument("new", metavar="NEW", help="what changed (e.g. tonight)")
    p.add_argument("--fail-on", action="append", metavar="RULES", help=RULE_HELP)
    p.add_argument("--out", metavar="DIR", help="default: results/compare/")
    p.add_argument("--tracking-uri", metavar="URI", help=TRACKING_HELP)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "replay",
        help="run a recorded cell again on its recorded work: the same trials, rounds and steps",
        description="Re-run a recorded cell's trial schedule with the clock replaced by the "
        "recorded work, print recorded and replayed figures side by side, record the replay in "
        "MLflow, and exit 1 when the test scores differ beyond the tolerance (0 where "
        "bit-equality is expected: same device, threads and library versions; "
        "otherwise 0.01).",
    )
    p.add_argument("cell_id", metavar="CELL_ID", help="e.g. adult/n=1000/xgboost/cpu/s0")
    p.add_argument("--suite", metavar="SUITE", help="the suite (name or file) it belongs to")
    p.add_argument(
        "--runner", metavar="RUNNER", help="replay on another runner (default: the recorded one)"
    )
    p.add_argument("--tolerance", type=float, metavar="T", help="|Δ test score| allowed")
    p.add_argument("--tracking-uri", metavar="URI", help=TRACKING_HELP)
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("ui", help="start the MLflow UI on the results store")
    p.add_argument("--tracking-uri", metavar="URI", help=TRACKING_HELP)
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    p.add_argument("--port", type=int, default=5000, help="port (default: %(default)s)")
    p.set_defaults(func=cmd_ui)

    p = sub.add_parser("data", help="list or prepare datasets in the cache")
    dsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    dsub.add_parser("list", help="what is prepared, and where")
    pp = dsub.add_parser("prepare", help="prepare datasets into the cache")
    pp.add_argument("names", nargs="+", metavar="NAME", help="built-in dataset names")
    p.set_defaults(func=cmd_data)
    return parser


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP (a closed terminal, `kill`, a scheduler ending a job): stopped as
    Ctrl-C stops, the cell in flight and its claim given up, exit 128 + the signal."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


_stopping = False


def _stop(signum: int, frame: object) -> None:
    """The first Ctrl-C or signal stops the run (its worker killed, its claim released); a
    second one while it stops — or at exit — ends the process at once, without a traceback."""
    import os
    import signal

    global _stopping
    if _stopping:
        os.write(2, b"stopped at once\n")
        os._exit(128 + signum)
    _stopping = True
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Stopped(signum)


def _redeliver(unraisable: object) -> None:
    """sys.unraisablehook: a stop raised inside a callback Python cannot raise from (a garbage
    collection callback) is swallowed there, with an "Exception ignored" message; deliver its
    signal again so that it stops the run, silently. Anything else: Python's default."""
    import os
    import signal
    import sys

    global _stopping
    exc = getattr(unraisable, "exc_value", None)
    if isinstance(exc, (KeyboardInterrupt, Stopped)):
        _stopping = False  # it never reached the run
        os.kill(os.getpid(), getattr(exc, "signum", signal.SIGINT))
        return
    sys.__unraisablehook__(unraisable)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    import signal
    import threading

    global _stopping
    parser = build_parser()
    args = parser.parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        _stopping = False
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _stop)
        sys.unraisablehook = _redeliver
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print_problems(exc.problems)
        return EXIT_USAGE
    except TreelineError as exc:
        error(exc)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        # The worker in flight is already gone (supervise kills it); nothing half-written stays.
        # What is left is exit: a signal now would land in interpreter shutdown (exit -2).
        # (Only when this is the program: a caller of main([...]) keeps its Ctrl-C.)
        import signal

        if argv is None:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, signal.SIG_IGN)

        signum = exc.signum if isinstance(exc, Stopped) else signal.SIGINT
        how = (
            "interrupted"
            if signum == signal.SIGINT
            else f"stopped by {signal.Signals(signum).name}"
        )
        if args.command == "run":
            print(
                f"{how}: the cell in flight was not recorded; the recorded ones are kept. "
                "Run the same command again to resume.",
                file=sys.stderr,
            )
        else:
            print(how, file=sys.stderr)
        return 128 + signum


if __name__ == "__main__":
    raise SystemExit(main())
