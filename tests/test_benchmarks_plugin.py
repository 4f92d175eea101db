"""`pytest benchmarks/ --suite NAME` driven for real (pytester), including the smoke suite."""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        str(BENCHMARKS / "test_cells.py"), "-p", "no:cacheprovider", "-ra", *args, timeout=900
    )


def test_smoke_suite_passes_through_pytest(pytester: pytest.Pytester) -> None:
    # Two trials a cell: the plugin is under test here, not the contenders.
    result = _run(pytester, "--suite", "smoke", "--max-trials", "2")
    result.assert_outcomes(passed=6)
    out = result.stdout.str()
    assert "test_cell[adult/n=1000/xgboost/cpu/s0]" in out or "adult/n=1000/xgboost" in out
    assert "summary (mean over seeds" in out  # the terminal summary table


def test_skips_show_their_reason_and_expectations_are_checked(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    suite = tmp_path / "mixed.yaml"
    suite.write_text(
        textwrap.dedent("""\
        name: mixed
        description: one real cell, one absent GPU, one impossible expectation
        budget: 8
        seeds: [0]
        max_trials: 2
        datasets:
          - name: adult
            n: [2000]
        contenders: [xgboost, mlp]
        runners: [cpu, t4]
        expectations:
          - dataset: adult
            contender: mlp
            runner: cpu
            test_score: [0.99, 1.0]
    """)
    )
    # 8 s: the MLP must beat the majority class before its expectation is checked, and with
    # the tests in two processes a 3-s cell got 9 steps and tied it (two trials end it sooner).
    result = _run(pytester, "--suite", str(suite))
    out = result.stdout.str()
    result.assert_outcomes(passed=1, failed=1, skipped=2)
    assert "needs a CUDA GPU" in out or "this machine has" in out
    assert "outside the expected [0.99, 1]" in out
    assert "decision table" in out  # trees and networks both ran: the boundary is printed


def test_without_a_suite_the_cell_test_is_skipped_with_a_reason(
    pytester: pytest.Pytester,
) -> None:
    result = _run(pytester)
    result.assert_outcomes(skipped=1)
    assert "pass --suite NAME" in result.stdout.str()


def test_a_bad_suite_exits_2(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--suite", "quickstrat")
    assert result.ret == 2
    assert "did you mean 'quickstart'" in result.stdout.str() + result.stderr.str()


def test_the_plugin_and_treeline_run_share_one_set_of_run_options(
    pytester: pytest.Pytester,
) -> None:
    from treeline.cli import build_parser
    from treeline.config.options import OPTIONS

    run_help = build_parser()._subparsers._group_actions[0].choices["run"].format_help()
    plugin_help = _run(pytester, "--help").stdout.str()
    for flag, _ in OPTIONS:
        assert flag in run_help and flag in plugin_help, flag
    assert "--rerun-failed" in plugin_help


def test_the_plugin_resumes_like_treeline_run(pytester: pytest.Pytester, tmp_path: Path) -> None:
    suite = tmp_path / "pair.yaml"
    suite.write_text(
        textwrap.dedent("""\
        name: pair
        description: two quick cells
        budget: 2
        seeds: [0]
        max_trials: 2
        datasets:
          - name: adult
            n: [300]
        contenders: [xgboost, lightgbm]
    """)
    )
    db = tmp_path / "m.db"
    uri = f"sqlite:///{db}"

    def live_runs() -> set[str]:
        # sqlite3, not MlflowClient: pytester unloads the modules a test imports, and SQLAlchemy's
        # compiled parts do not survive being imported twice in one process.
        with sqlite3.connect(db) as con:
            rows = con.execute("SELECT run_uuid FROM runs WHERE lifecycle_stage = 'active'")
            return {r[0] for r in rows}

    _run(pytester, "--suite", str(suite), "--tracking-uri", uri).assert_outcomes(passed=2)
    first = live_runs()
    assert len(first) == 2
    _run(pytester, "--suite", str(suite), "--tracking-uri", uri).assert_outcomes(passed=2)
    assert live_runs() == first  # checked as recorded, not run again
    again = _run(pytester, "--suite", str(suite), "--tracking-uri", uri, "--rerun-all")
    again.assert_outcomes(passed=2)
    rerun = live_runs()
    assert len(rerun) == 2 and not rerun & first


def test_the_cells_that_ran_are_compared_with_the_reference(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """With a reference export the check after the cells compares them with it, under the
    --fail-on rules; without one it is skipped with where a reference would be."""
    import subprocess

    suite = tmp_path / "pair.yaml"
    suite.write_text(
        "name: pair\ndescription: two quick cells\nbudget: 2\nseeds: [0]\nmax_trials: 2\n"
        "datasets:\n  - name: adult\n    n: [300]\ncontenders: [xgboost, lightgbm]\n"
    )
    uri = f"sqlite:///{tmp_path / 'm.db'}"

    def run(*args: str) -> pytest.RunResult:
        files = [str(BENCHMARKS / "test_cells.py"), str(BENCHMARKS / "test_reference.py")]
        return pytester.runpytest_subprocess(
            *files, "-p", "no:cacheprovider", "-ra", "--suite", str(suite),
            "--tracking-uri", uri, *args, timeout=900,
        )  # fmt: skip

    first = run()
    first.assert_outcomes(passed=2, skipped=1)
    assert "has no reference export here" in first.stdout.str()
    export = tmp_path / "pair-cpu.parquet"
    subprocess.run(
        ["treeline", "export", str(suite), "-o", str(export), "--tracking-uri", uri], check=True
    )
    run("--reference", str(export)).assert_outcomes(passed=3)  # the same records: no change
    slower = run("--reference", str(export), "--fail-on", "time:0.5")  # ×1 > ×0.5: fails
    slower.assert_outcomes(passed=2, failed=1)
    assert "2 regressions against pair-cpu.parquet (time:0.5)" in slower.stdout.str()
    bad = run("--reference", str(tmp_path / "none.parquet"))
    assert bad.ret == 2 and "--reference: no file" in bad.stdout.str() + bad.stderr.str()


def test_jobs_runs_the_selected_cells_side_by_side(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """`--jobs 2` is not accepted and then ignored: the two one-thread cells left after `-k` run
    at the same time, each test checks its own, and the deselected cell does not run."""
    from treeline.execute.executors import usable_cores

    if usable_cores() < 2:
        pytest.skip("one usable core: two one-thread cells cannot run side by side here")
    suite = tmp_path / "side.yaml"
    suite.write_text(
        textwrap.dedent("""\
        name: side
        description: three quick cells, two selected
        budget: 3
        seeds: [0]
        datasets:
          - name: adult
            n: [300]
        contenders: [xgboost, lightgbm, catboost]
        runners: [cpu-1thread]
    """)
    )
    db = tmp_path / "m.db"
    args = ("--suite", str(suite), "--tracking-uri", f"sqlite:///{db}", "--jobs", "2")
    _run(pytester, *args, "-k", "not catboost").assert_outcomes(passed=2, deselected=1)
    with sqlite3.connect(db) as con:
        spans = con.execute(
            "SELECT name, start_time, end_time FROM runs WHERE lifecycle_stage = 'active'"
        ).fetchall()
    assert sorted(name for name, _, _ in spans) == [
        "adult/n=300/lightgbm/cpu-1thread/s0",
        "adult/n=300/xgboost/cpu-1thread/s0",
    ]
    (_, start_a, end_a), (_, start_b, end_b) = spans
    assert min(end_a, end_b) - max(start_a, start_b) > 2000, f"not side by side: {spans}"


def test_with_a_suite_only_its_cells_run_not_the_benchmarks_beside_them(
    pytester: pytest.Pytester,
) -> None:
    """`pytest benchmarks/ --suite smoke` collects the whole folder; the throughput benchmarks
    beside the cells are deselected, not run (a new user saw seven of them take 155 s)."""
    result = pytester.runpytest_subprocess(
        str(BENCHMARKS), "-p", "no:cacheprovider", "--suite", "smoke", "--collect-only", "-q"
    )
    lines = [ln for ln in result.stdout.lines if "::" in ln]
    cells = [ln for ln in lines if "test_cells.py::test_cell[" in ln]
    check = "test_reference.py::test_the_cells_that_ran_match_the_reference"
    assert len(cells) == 6 and lines == [*cells, *[ln for ln in lines if check in ln]], lines
    assert len(lines) == 7  # the check against a reference comes last
    assert "deselected" in result.stdout.str()


def test_the_plugin_leaves_other_projects_tests_alone(pytester: pytest.Pytester) -> None:
    """Installed, the plugin loads in every pytest run: a test of another project with a `cell`
    or `results` fixture of its own is not parametrized or overridden by it."""
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def cell():
            return "mine"

        @pytest.fixture
        def results():
            return [1, 2]
        """
    )
    pytester.makepyfile(
        "def test_mine(cell, results):\n    assert (cell, results) == ('mine', [1, 2])\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
