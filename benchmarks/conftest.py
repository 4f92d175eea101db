"""`pytest benchmarks/ --suite NAME`: one test per cell, id = cell id, timed by pytest-benchmark.

A cell passes when it ended `ok` within budget + grace, beat the trivial baseline (majority
class / mean) and, where the suite declares one, landed in its expected score range. Results go
to MLflow too (replacing an earlier run of the same cell).
"""

from __future__ import annotations

import io

import pytest

RUN_KEY = pytest.StashKey["object"]()
OUTCOMES_KEY = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("treeline", "Treeline suites")
    group.addoption("--suite", metavar="NAME", help="suite name (suites/) or YAML path")
    group.addoption(
        "--runner",
        action="append",
        metavar="R",
        help="runner profile(s) instead of the suite's (repeatable)",
    )
    group.addoption(
        "--budget-scale",
        type=float,
        default=1.0,
        metavar="F",
        help="multiply every cell's budget by F",
    )
    group.addoption("--tracking-uri", metavar="URI", help="MLflow tracking URI")
    group.addoption("--only", action="append", metavar="GLOB", help="cell id glob(s)")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[OUTCOMES_KEY] = []
    name = config.getoption("--suite", default=None)
    if not name:
        return
    from treeline.errors import TreelineError
    from treeline.run import SuiteRun
    from treeline.suite import load_suite

    try:
        suite = load_suite(name)
        config.stash[RUN_KEY] = SuiteRun(
            suite,
            runners=config.getoption("--runner"),
            budget_scale=config.getoption("--budget-scale"),
            tracking_uri=config.getoption("--tracking-uri"),
            only=config.getoption("--only"),
        )
    except TreelineError as exc:
        pytest.exit(f"error {exc}", returncode=2)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "cell" not in metafunc.fixturenames:
        return
    run = metafunc.config.stash.get(RUN_KEY, None)
    if run is None:
        skip = pytest.mark.skip(reason="no suite: pass --suite NAME (see `treeline ls suites`)")
        metafunc.parametrize("cell", [pytest.param(None, marks=skip)], ids=["no-suite"])
        return
    metafunc.parametrize("cell", run.cells, ids=[c.id for c in run.cells])


@pytest.fixture(scope="session")
def suite_run(pytestconfig: pytest.Config):
    return pytestconfig.stash[RUN_KEY]


@pytest.fixture(scope="session")
def outcomes(pytestconfig: pytest.Config) -> list:
    return pytestconfig.stash[OUTCOMES_KEY]


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    outcomes = config.stash.get(OUTCOMES_KEY, [])
    if not outcomes:
        return
    from rich.console import Console

    from treeline.run import recorded_decision_table, summary_table

    tables = [summary_table(outcomes)]
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
