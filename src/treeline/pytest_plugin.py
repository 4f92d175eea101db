"""The pytest plugin (entry point `pytest11`, so it comes with the package): `pytest
benchmarks/ --suite NAME` runs one test per cell, id = cell id, timed by pytest-benchmark.

A cell passes when it ended `ok` within budget + grace, beat the trivial baseline (majority
class / mean) and, where the suite declares one, landed in its expected score range. The options
are `treeline run`'s (config/options.py), and so is resuming: a cell already recorded with the
same resume key is checked as recorded, not run again; `--rerun-all` measures every cell anew.
With `--jobs N` (N > 1) or `--executor ray` the selected cells run together, side by side, before
the first test checks its own; otherwise each test runs its cell, one after another. With
`--suite`, only the suite's cells run: other tests collected beside them (the throughput
benchmarks) are deselected, except the check against the reference: where the suite has a
committed export (`results/reference/SUITE-RUNNER.parquet`, or `--reference FILE`), the cells
that ran are compared with it cell by cell (`treeline compare`) under `--fail-on` rules.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

RUN_KEY = pytest.StashKey["object"]()
RESULTS_KEY = pytest.StashKey[list]()
SELECTED_KEY = pytest.StashKey[list]()  # the cells of the tests left after -k / deselection
# A rerun on another day draws other trials: a score within 5 % of the reference's holds.
REFERENCE_RULES = "status,score:5%"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("treeline", "Treeline suites")
    group.addoption("--suite", metavar="NAME", help="suite name (suites/) or YAML path")
    from treeline.config.options import add_run_options

    add_run_options(group.addoption)
    group.addoption(
        "--reference",
        metavar="FILE",
        help="an export to compare the cells that ran with (default: "
        "results/reference/SUITE-RUNNER.parquet where one exists)",
    )
    group.addoption(
        "--fail-on",
        metavar="RULES",
        action="append",
        help=f"what fails the reference check, as `treeline compare --fail-on` "
        f"(default: {REFERENCE_RULES.replace('%', '%%')})",  # argparse formats %
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[RESULTS_KEY] = []
    name = config.getoption("--suite", default=None)
    if not name:
        return
    from treeline.config.options import RunOptions
    from treeline.errors import TreelineError
    from treeline.execute.resolve import resolve
    from treeline.run import SuiteRun

    try:
        config.stash[RUN_KEY] = SuiteRun(resolve(name, RunOptions.read(config.getoption)))
        from treeline.analysis.compare import parse_rules

        parse_rules(config.getoption("--fail-on") or [REFERENCE_RULES])
    except TreelineError as exc:
        pytest.exit(f"error {exc}", returncode=2)
    given = config.getoption("--reference")
    if given and not Path(given).is_file():
        pytest.exit(f"error command line: --reference: no file {given}", returncode=2)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "treeline_cell" not in metafunc.fixturenames:
        return
    run = metafunc.config.stash.get(RUN_KEY, None)
    if run is None:
        skip = pytest.mark.skip(reason="no suite: pass --suite NAME (see `treeline ls suites`)")
        metafunc.parametrize("treeline_cell", [pytest.param(None, marks=skip)], ids=["no-suite"])
        return
    metafunc.parametrize("treeline_cell", run.cells, ids=[c.id for c in run.cells])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --suite, the suite's cells are what was asked for: nothing else runs beside them."""
    if config.stash.get(RUN_KEY, None) is None:
        return
    ours = ("treeline_cell", "treeline_reference")
    keep = [i for i in items if any(f in getattr(i, "fixturenames", ()) for f in ours)]
    dropped = [i for i in items if i not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_collection_finish(session: pytest.Session) -> None:
    cells = []
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("treeline_cell") is not None:
            cells.append(callspec.params["treeline_cell"])
    session.config.stash[SELECTED_KEY] = cells


@pytest.fixture(scope="session")
def treeline_run(pytestconfig: pytest.Config):
    return pytestconfig.stash[RUN_KEY]


@pytest.fixture(scope="session")
def treeline_ran_together(treeline_run, treeline_recorded, pytestconfig: pytest.Config) -> dict:
    """With --jobs N > 1 or --executor ray: every selected cell not recorded yet, run at once
    on that executor (claimed and recorded as `treeline run` does), by cell id. Empty when each
    test runs its own cell."""
    opts = treeline_run.options
    if opts.jobs == 1 and opts.executor == "local":
        return {}
    todo = [c for c in pytestconfig.stash[SELECTED_KEY] if c.resume_key not in treeline_recorded]
    return {r.cell.id: r for r in treeline_run.execute(todo)}


@pytest.fixture(scope="session")
def treeline_recorded(treeline_run) -> dict:
    """Cells recorded earlier with the same resume key (empty with --rerun-all)."""
    return treeline_run.prepare()


def reference_file(config: pytest.Config, run: Any) -> Path | None:
    """`--reference`, else the suite's committed export for the one runner its cells use."""
    from treeline.locate import project_dirs

    given = config.getoption("--reference", default=None)
    if given:
        return Path(given)
    runners = sorted({c.runner for c in run.cells})
    if len(runners) != 1:
        return None
    for folder in project_dirs("results/reference"):
        if (path := folder / f"{run.suite.name}-{runners[0]}.parquet").is_file():
            return path
    return None


@pytest.fixture(scope="session")
def treeline_reference(pytestconfig: pytest.Config) -> Callable[[], Any]:
    """A check of the cells that ran against the reference export: call it after them (its
    test comes last); it returns `treeline compare`'s Comparison under the --fail-on rules.
    Skips where the suite has no reference."""
    run = pytestconfig.stash.get(RUN_KEY, None)
    if run is None:
        pytest.skip("no suite: pass --suite NAME")
    path = reference_file(pytestconfig, run)
    if path is None:
        pytest.skip(
            f"suite '{run.suite.name}' has no reference export here "
            f"(results/reference/{run.suite.name}-RUNNER.parquet); name one with --reference"
        )

    def check() -> Any:
        from treeline.analysis.compare import compare, parse_rules
        from treeline.record.results_file import ResultSet
        from treeline.record.results_file import read as read_exports
        from treeline.record.transfer import from_store

        ids = {c.id for c in pytestconfig.stash[SELECTED_KEY]}
        base, new = read_exports([path]), from_store([run.suite.name], run.tracking_uri)
        only = [ResultSet([r for r in x.records if r.result.cell.id in ids]) for x in (base, new)]
        rules = parse_rules(pytestconfig.getoption("--fail-on") or [REFERENCE_RULES])
        return compare(*only, rules, (path.name, "this run"))

    return check


@pytest.fixture(scope="session")
def treeline_results(pytestconfig: pytest.Config) -> list:
    return pytestconfig.stash[RESULTS_KEY]


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    results = config.stash.get(RESULTS_KEY, [])
    if not results:
        return
    from rich.console import Console

    from treeline.console import recorded_decision_table, summary_table

    tables = [summary_table(results)]
    run = config.stash.get(RUN_KEY, None)
    if run is not None:
        decision = recorded_decision_table(run.suite.name, run.tracking_uri)
        tables += [decision] if decision is not None else []
    buf = io.StringIO()
    console = Console(file=buf, width=terminalreporter._tw.fullwidth, force_terminal=False)
    for table in tables:
        console.print(table)
    terminalreporter.section("treeline")
    terminalreporter.write(buf.getvalue())
