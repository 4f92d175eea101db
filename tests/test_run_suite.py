"""A suite run end to end: MLflow contents, resume, SIGKILL mid-suite, the HTTP tracking path."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from design_names import METRICS, PARAMS, TAGS
from mlflow import MlflowClient

from treeline.cli import main
from treeline.config.options import RunOptions
from treeline.config.runner_profile import get_runner
from treeline.execute.resolve import resolve
from treeline.run import SuiteRun, exit_code

TINY = """\
name: tiny
description: four quick cells
budget: 1
seeds: [0]{extra}
datasets:
  - name: adult
    n: {sizes}
contenders: [xgboost, lightgbm]
runners: [cpu]
"""


# Two trials a cell: what these tests check is the plumbing around a cell, not its tuning (the
# tests that kill a run mid-cell keep the whole budget, so a cell is in flight long enough).
QUICK = "\nmax_trials: 2"


def tiny_suite(tmp_path: Path, sizes: str = "[200, 400]", extra: str = "") -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(textwrap.dedent(TINY.format(sizes=sizes, extra=extra)))
    return path


def runs(uri: str, experiment: str = "tiny") -> list:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id]) if exp else []


def test_run_records_every_cell_once_with_the_design_names(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/m.db"
    run = SuiteRun(resolve(tiny_suite(tmp_path, extra=QUICK), RunOptions(tracking_uri=uri)))
    outcomes = run.run()
    assert [o.status for o in outcomes] == ["ok"] * 4 and exit_code(outcomes) == 0
    recorded = runs(uri)
    assert sorted(r.info.run_name for r in recorded) == sorted(c.id for c in run.cells)
    r = next(r for r in recorded if r.info.run_name == "adult/n=200/xgboost/cpu/s0")
    for metric in (*METRICS, "test_accuracy"):
        assert metric in r.data.metrics, metric
    for param in (*PARAMS, "hp.max_depth"):
        assert param in r.data.params, param
    assert r.data.params["n"] == "200" and r.data.params["price_per_hour"] == "0.1008"
    for tag in (
        *TAGS,
        "git_commit",
        "cpu",
        "gpu",
        "price_source",
        "version.xgboost",
        "version.python",
        "suite_hash",
    ):
        assert f"treeline.{tag}" in r.data.tags, tag
    assert r.data.tags["treeline.family"] == "tree" and r.data.tags["treeline.status"] == "ok"
    curve = MlflowClient(uri).get_metric_history(r.info.run_id, "anytime_test_score")
    assert curve and curve[0].step >= 0
    artifacts = {a.path for a in MlflowClient(uri).list_artifacts(r.info.run_id)}
    assert {"cell.json"} <= artifacts and any(p.endswith(".log") for p in artifacts)
    # The UI's Duration is the cell's wall-clock; its Dataset column and description are set.
    duration = (r.info.end_time - r.info.start_time) / 1000
    assert abs(duration - r.data.metrics["wall_seconds"]) < 0.5
    (data,) = r.inputs.dataset_inputs
    assert data.dataset.name == "adult" and '"n": 200' in data.dataset.source
    exp = MlflowClient(uri).get_experiment_by_name("tiny")
    assert exp.tags["mlflow.note.content"] == "four quick cells"

    again = SuiteRun(resolve(tiny_suite(tmp_path, extra=QUICK), RunOptions(tracking_uri=uri))).run()
    assert all(o.from_earlier_run for o in again)
    assert len(runs(uri)) == 4


def test_a_sqlite_store_keeps_its_artifacts_beside_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not in ./mlruns of whatever directory the user ran from (MLflow's default)."""
    from treeline.record.store import Tracker

    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    (tmp_path / "store").mkdir()
    tracker = Tracker("tiny", f"sqlite:///{tmp_path}/store/m.db")
    location = tracker.client.get_experiment(tracker.experiment_id).artifact_location
    assert location == (tmp_path / "store" / "mlruns").as_uri()
    assert not (elsewhere / "mlruns").exists()


def test_budget_scale_only_and_runner_override(tmp_path: Path) -> None:
    options = RunOptions(runners=["cpu-1thread", "t4"], budget_scale=2.0, only=["*/xgboost/*"])
    run = SuiteRun(resolve(tiny_suite(tmp_path), options))
    assert {c.runner for c in run.cells} == {"cpu-1thread", "t4"}
    assert {c.contender.label for c in run.cells} == {"xgboost"}
    assert {c.budget.seconds for c in run.cells} == {2.0}


def test_unknown_runner_on_the_command_line_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(tiny_suite(tmp_path)), "--runner", "h10"]) == 2
    assert "unknown runner 'h10'" in capsys.readouterr().err


def _treeline(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "treeline", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_sigkill_mid_suite_three_times_then_resume_records_each_cell_once(
    tmp_path: Path,
) -> None:
    suite = tiny_suite(tmp_path, "[200, 300, 400]")  # 6 cells
    uri = f"sqlite:///{tmp_path}/m.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "TREELINE_RESULTS": str(tmp_path / "res")}
    logs = tmp_path / "res" / "logs" / "tiny"
    # Kill while the 2nd new cell runs, 1.5 s into the 3rd (it may be recording), and right
    # as the 1st starts; finished cells are skipped on resume, so each run starts new logs.
    for kill_at, delay in ((2, 0.3), (3, 1.5), (1, 0.0)):
        proc = _treeline(["run", str(suite)], env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list(logs.glob("*.log"))) < kill_at:
            assert proc.poll() is None, "the suite ended before it could be killed"
            time.sleep(0.05)
        time.sleep(delay)
        assert proc.poll() is None, "the suite ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for log in logs.glob("*.log"):
            log.unlink()
        assert len(runs(uri)) < 6
    done = _treeline(["run", str(suite)], env)
    assert done.wait(timeout=300) == 0, done.stderr.read().decode()
    live = runs(uri)
    counts = Counter(r.info.run_name for r in live)
    assert len(counts) == 6 and set(counts.values()) == {1}, counts
    assert all(r.data.tags.get("treeline.complete") == "1" for r in live)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_http_tracking_server(tmp_path: Path) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{tmp_path}/server.db",
            "--default-artifact-root",
            str(tmp_path / "art"),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not start in 90 s")
        code = main(
            [
                "run",
                str(tiny_suite(tmp_path, "[200]", QUICK)),
                "--tracking-uri",
                uri,
                "--only",
                "*/xgboost/*",
            ]
        )
        assert code == 0
        (r,) = runs(uri)
        assert r.info.run_name == "adult/n=200/xgboost/cpu/s0"
        assert r.data.tags["treeline.status"] == "ok"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_report_from_a_real_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "mixed.yaml"
    suite.write_text(
        TINY.format(sizes="[200, 400]", extra=QUICK)
        .replace("tiny", "mixed")
        .replace("[xgboost, lightgbm]", "[xgboost, mlp]")
    )
    uri = f"sqlite:///{tmp_path}/m.db"
    assert main(["run", str(suite), "--tracking-uri", uri]) == 0
    assert "decision table" in capsys.readouterr().out
    out = tmp_path / "report"
    assert main(["report", str(suite), "--tracking-uri", uri, "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "## Decision table" in md and "| adult | cpu |" in md
    assert len(list(out.glob("*.png"))) == 4
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("mixed (reports)")  # apart from the cells in the UI
    (report,) = client.search_runs(
        [exp.experiment_id], filter_string="tags.`treeline.kind` = 'report'"
    )
    names = {a.path for a in client.list_artifacts(report.info.run_id, "report")}
    assert "report/index.html" in names and "report/report.md" in names
    assert len(runs(uri, "mixed")) == 4  # the cells alone
    from treeline.record.store import suites_in

    assert "mixed (reports)" not in suites_in(uri)


def test_report_without_results_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from treeline.record.store import Tracker

    uri = f"sqlite:///{tmp_path}/empty.db"
    Tracker("another-suite", uri)  # a store that exists, without this suite's cells
    code = main(["report", str(tiny_suite(tmp_path)), "--tracking-uri", uri])
    assert code == 2 and "no recorded cells" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("signame", "code", "said"),
    [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "stopped by SIGTERM"),
     ("SIGHUP", 129, "stopped by SIGHUP")],
)  # fmt: skip
def test_ctrl_c_stops_the_run_at_once_and_says_how_to_resume(
    tmp_path: Path, signame: str, code: int, said: str
) -> None:
    """SIGINT mid-cell (as Ctrl-C sends it), SIGTERM (kill, a job scheduler) or SIGHUP (a
    closed terminal): exit 128 + the signal, one line, no traceback, no worker left, the
    interrupted cell not recorded and its claim released; a rerun resumes. (SIGTERM and SIGHUP
    ended the run in 0.1 s without a word, leaving the claim.)"""
    import signal

    suite = tiny_suite(tmp_path, "[200]")
    env = {**os.environ, "TREELINE_RESULTS": str(tmp_path / "res")}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "treeline", "run", str(suite), "--budget-scale", "20"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal: a test run started in the background inherits SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )

    def children(pid: int) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    worker: list[int] = []
    deadline = time.monotonic() + 60
    while not worker and time.monotonic() < deadline:
        # The cell's worker: forked by the warm worker, the run's child.
        worker = [w for warm in children(proc.pid) for w in children(warm)]
        time.sleep(0.2)
    assert worker, "no worker started"
    time.sleep(1.5)
    proc.send_signal(getattr(signal, signame))
    err = proc.communicate(timeout=30)[1]
    assert proc.returncode == code, err
    assert f"{said}: the cell in flight was not recorded" in err and "Traceback" not in err
    assert not Path(f"/proc/{worker[0]}").exists()
    db = tmp_path / "res" / "mlflow.db"
    assert not db.exists() or not runs(f"sqlite:///{db}")
    claims = MlflowClient(f"sqlite:///{db}").search_registered_models()
    assert [m.name for m in claims] == []


def test_a_rerun_shows_why_a_recorded_cell_failed(tmp_path: Path) -> None:
    from treeline.console import _cell_line
    from treeline.execute.result import CellResult

    cell = SuiteRun(resolve(tiny_suite(tmp_path, "[200]"))).cells[0]
    line = _cell_line(
        CellResult(cell, "failed", error="ValueError: bad input", from_earlier_run=True)
    )
    assert "--rerun-failed runs it again" in line and "ValueError: bad input" in line


def test_a_run_that_measured_nothing_is_not_a_success(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every cell skipped (a GPU runner on a CPU machine): exit 1 and say so, unless
    --allow-skipped; the run ends with a tally either way."""
    if get_runner("t4").unavailable_reason() is None:
        pytest.skip("this machine has a T4")
    suite = str(tiny_suite(tmp_path, "[200]"))
    uri = f"sqlite:///{tmp_path}/m.db"
    assert main(["run", suite, "--runner", "t4", "--tracking-uri", uri]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "cells: 2 skipped" in out and "every cell was skipped" in out
    allowed = ["run", suite, "--runner", "t4", "--tracking-uri", uri, "--allow-skipped"]
    assert main(allowed) == 0


def test_a_chosen_metric_is_tuned_on_and_recorded(tmp_path: Path) -> None:
    """`metric: roc_auc` on a dataset: tuning selects on it, MLflow records test_roc_auc as the
    test score, and the trivial baseline is the chance level (class frequencies: AUC 0.5)."""
    suite = tmp_path / "tiny.yaml"
    suite.write_text(
        TINY.format(sizes="[300]", extra=QUICK)
        .replace("  - name: adult\n", "  - name: adult\n    metric: roc_auc\n")
        .replace("[xgboost, lightgbm]", "[xgboost]")
    )
    uri = f"sqlite:///{tmp_path}/m.db"
    assert main(["run", str(suite), "--tracking-uri", uri]) == 0
    (r,) = runs(uri)
    m = r.data.metrics
    assert r.data.tags["treeline.metric"] == "roc_auc"
    assert m["test_roc_auc"] == m["test_score"] > 0.8 and m["baseline_test_score"] == 0.5


def test_an_edited_data_file_runs_again_and_replaces_its_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A user shuffled their CSV's labels and reran: every cell was "recorded earlier" and the
    report still showed the old score. Now the cells run again on the new content, and the
    store keeps one record per cell, of the file as it is now."""
    import numpy as np

    from treeline.record.store import read_results

    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    labels = np.where(x > 0, "yes", "no")
    csv = tmp_path / "mine.csv"
    csv.write_text("a,y\n" + "".join(f"{v:.4f},{y}\n" for v, y in zip(x, labels, strict=True)))
    suite = tmp_path / "mine.yaml"
    suite.write_text(
        "name: mine\ndescription: x\nbudget: 1\nseeds: [0]\n"
        "datasets:\n  - file: mine.csv\n    target: y\n    task: binary\n    n: [150, 200]\n"
        "contenders: [xgboost]\n"
    )
    uri = f"sqlite:///{tmp_path}/m.db"
    assert main(["run", str(suite), "--tracking-uri", uri]) == 0
    before = {r.cell.id: r.measurements.test_score for r in read_results("mine", uri)}
    assert min(before.values()) > 0.9
    rng.shuffle(labels)
    csv.write_text("a,y\n" + "".join(f"{v:.4f},{y}\n" for v, y in zip(x, labels, strict=True)))
    capsys.readouterr()
    assert main(["run", str(suite), "--tracking-uri", uri]) == 0
    assert "recorded earlier" not in capsys.readouterr().out
    after = read_results("mine", uri)
    assert sorted(r.cell.id for r in after) == sorted(before)  # one record per cell
    assert max(r.measurements.test_score for r in after) < 0.8  # of the shuffled file


def test_data_this_machine_lacks_skips_its_cells_with_the_install_line(tmp_path: Path) -> None:
    """Without espeak-ng the audio cells are `skipped`, saying how to install it, and the rest of
    the suite runs and passes (they were `failed`, and the quickstart exited 1 for want of a
    Debian package)."""
    bin_dir = tmp_path / "bin"  # PATH without espeak-ng: Python and git only
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to("/usr/bin/git")
    suite = tmp_path / "mixed.yaml"
    suite.write_text(
        "name: mixed\ndescription: a table and audio\nbudget: 1\nseeds: [0]\nmax_trials: 2\n"
        "datasets:\n  - name: adult\n    n: [300]\n  - name: spoken-digits\n"
        "    options: {rows: 100, test_rows: 100}\n    n: [max]\n"
        "contenders: [xgboost, xgboost+mfcc]\n"
    )
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{bin_dir}",
        "TREELINE_CACHE": str(tmp_path / "cache"),
        "TREELINE_RESULTS": str(tmp_path / "results"),
    }
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    cmd = [sys.executable, "-m", "treeline.cli", "run", str(suite), "--tracking-uri", uri]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "skipped spoken-digits" in proc.stdout
    assert "install espeak-ng: sudo apt-get install espeak-ng" in proc.stdout
    assert "ok adult/n=300/xgboost/cpu/s0" in proc.stdout
