"""A tracking store that cannot be used, or fails mid-suite: found at start with one message,
or the finished cell kept in the local spool and written on the next run — never lost, never
recorded twice. Real stores: SQLite files, a real `mlflow server`, a full tmpfs."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from store_servers import tmpfs_disk

SUITE = """\
name: faults
description: three quick cells for store faults
budget: 1
seeds: [0]
datasets:
  - name: adult
    n: [200, 300, 400]
contenders: [xgboost]
"""
CELLS = [f"adult/n={n}/xgboost/cpu/s0" for n in (200, 300, 400)]


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"},
        "TREELINE_RESULTS": str(tmp_path / "results"),
        "COLUMNS": "200",
    }


def _run(tmp_path: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    suite = tmp_path / "faults.yaml"
    suite.write_text(SUITE)
    return subprocess.run(
        [sys.executable, "-m", "treeline", "run", str(suite), *args],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _main(tmp_path: Path, *args: str) -> int:
    """`treeline run` of the fault suite, in this process: error paths need no interpreter of
    their own (the tests that kill, spool or mount still run it as a subprocess)."""
    from treeline.cli import main

    suite = tmp_path / "faults.yaml"
    suite.write_text(SUITE)
    return main(["run", str(suite), *args])


@pytest.mark.parametrize(
    ("store", "message"),
    [
        ("results-is-a-file", "is a file, not a folder"),
        ("db-is-a-folder", "is a folder, not a database file"),
        ("db-is-not-a-database", "is not a usable database"),
        ("server-that-does-not-answer", "does not answer"),
    ],
)
def test_an_unusable_store_is_found_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], store: str, message: str
) -> None:
    if store == "results-is-a-file":
        (tmp_path / "blocker").write_text("a file")
        uri = f"sqlite:///{tmp_path}/blocker/sub/mlflow.db"
    elif store == "db-is-a-folder":
        (tmp_path / "m.db").mkdir()
        uri = f"sqlite:///{tmp_path}/m.db"
    elif store == "db-is-not-a-database":
        (tmp_path / "m.db").write_text("hello, not sqlite\n" * 100)
        uri = f"sqlite:///{tmp_path}/m.db"
    else:
        uri = f"http://127.0.0.1:{_free_port()}"
    t0 = time.monotonic()
    code = _main(tmp_path, "--tracking-uri", uri)
    took = time.monotonic() - t0
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and uri in err, err
    assert "Traceback" not in err and len(err.splitlines()) <= 3
    assert took < 15, f"{store}: {took:.1f} s to the error"
    print(f"{store}: exit 2 after {took:.2f} s")  # the figures in the closing note


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("ftp://x", "unknown scheme 'ftp'"),
        ("file:///{tmp}/fs", "MLflow's file store"),
        ("not a uri at all", "is not a tracking URI"),
        ("sqlite://x.db", "three slashes before a relative path"),
        ("mysql://u:secret@127.0.0.1:9/db", "database driver MySQLdb is not installed"),
        ("postgresql+psycopg2://u:secret@127.0.0.1:{port}/db", "does not answer"),
        ("sqlite:////proc/nonexistent/x.db", "the folder /proc/nonexistent does not exist"),
        ("sqlite:///{tmp}/no/such/dir/x.db", "does not exist; create it"),
    ],
)
def test_a_bad_tracking_uri_is_one_line_and_makes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], uri: str, message: str
) -> None:
    """Each was a traceback from MLflow's store registry or SQLAlchemy (or, for a folder that
    does not exist, a store quietly made there): now exit 2, one line, the password masked."""
    pytest.importorskip("psycopg2")
    uri = uri.format(tmp=tmp_path, port=_free_port())
    code = _main(tmp_path, "--tracking-uri", uri)
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err and len(err.splitlines()) <= 2, err
    assert "secret" not in err
    assert not (tmp_path / "no").exists() and not (tmp_path / "fs").exists()


@pytest.mark.parametrize("command", ["report", "replay"])
def test_readers_never_make_an_empty_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """`report` and `replay` on a mistyped SQLite path made an empty database there and then
    said there was nothing in it: now they say the file does not exist."""
    from treeline.cli import main

    suite = tmp_path / "faults.yaml"
    suite.write_text(SUITE)
    db = tmp_path / "typo.db"
    args = [str(suite)] if command == "report" else [CELLS[0]]
    assert main([command, *args, "--tracking-uri", f"sqlite:///{db}"]) == 2
    assert f"{db} does not exist" in capsys.readouterr().err
    assert not db.exists()


def test_a_report_folder_that_cannot_be_made_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from treeline.cli import main

    suite = tmp_path / "faults.yaml"
    suite.write_text(SUITE)
    (tmp_path / "taken").write_text("a file")
    assert main(["report", str(suite), "--out", str(tmp_path / "taken" / "r")]) == 2
    err = capsys.readouterr().err
    assert "report folder" in err and "cannot be made" in err and "Traceback" not in err, err


def test_a_long_store_error_keeps_its_cause() -> None:
    """urllib3 puts the reason at the end of a 300+ character line; cutting at 300 characters
    printed "Failed to establish a new conn" and lost it."""
    from treeline.errors import first_line

    line = (
        "API request to endpoint /api/2.0/mlflow/runs/create failed with exception "
        "HTTPConnectionPool(host='127.0.0.1', port=5999): Max retries exceeded with url: "
        "/api/2.0/mlflow/runs/create (Caused by NewConnectionError('<urllib3.connection."
        "HTTPConnection object at 0x7f2>: Failed to establish a new connection: [Errno 111] "
        "Connection refused'))"
    )
    short = first_line(RuntimeError(line))
    assert short.endswith("… ([Errno 111] Connection refused)"), short
    assert len(short) < 340 and first_line(RuntimeError("short")) == "short"


def _start_server(tmp_path: Path, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path}/server.db",
         "--default-artifact-root", str(tmp_path / "art"), "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.3)
    os.killpg(server.pid, signal.SIGKILL)
    pytest.fail("mlflow server did not start in 90 s")


def _stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=30)


def _recorded(db: Path) -> list[str]:
    """Cell ids of complete runs, from the store's own database."""
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT t.value FROM tags t JOIN tags c ON c.run_uuid = t.run_uuid "
            "JOIN runs r ON r.run_uuid = t.run_uuid WHERE t.key = 'treeline.cell_id' "
            "AND c.key = 'treeline.complete' AND r.lifecycle_stage = 'active'"
        ).fetchall()
    return sorted(v for (v,) in rows)


def test_a_server_that_dies_mid_suite_loses_no_cell(tmp_path: Path) -> None:
    """The server is killed once the first cell is recorded: the cell in flight is spooled and
    the run stops with one message; with the server back, the next run writes it and goes on."""
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    server = _start_server(tmp_path, port)
    suite = tmp_path / "faults.yaml"
    suite.write_text(SUITE)
    # MLflow's own retries of a dead server (3, with backoff: ~30 s) are MLflow's behaviour,
    # not ours: the store is down for good here, and its first refusal is what is tested.
    run = subprocess.Popen(
        [sys.executable, "-m", "treeline", "run", str(suite), "--tracking-uri", uri],
        env={**_env(tmp_path), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Stopped once the first cell is recorded and the second is running: the second was
        # claimed, so it is the cell in flight that must not be lost.
        logs = tmp_path / "results" / "logs" / "faults"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (
            _recorded(tmp_path / "server.db") and len(list(logs.glob("*.log"))) >= 2
        ):
            time.sleep(0.2)
        _stop(server)
        out, err = run.communicate(timeout=240)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 2, out + err
    assert (
        "failed while recording" in err
        and "written to the store when you run this suite again" in err
    )
    assert "Traceback" not in err
    spooled = list((tmp_path / "results" / "spool" / "faults").glob("*.json"))
    assert len(spooled) == 1
    first = _recorded(tmp_path / "server.db")
    assert len(first) == 1

    server = _start_server(tmp_path, port)
    try:
        again = _run(tmp_path, "--tracking-uri", uri)
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        _stop(server)
    assert "recorded 1 cell(s) that an earlier run spooled" in again.stdout  # said, not silent
    with sqlite3.connect(tmp_path / "server.db") as con:  # the spooled cell's claim is gone too
        assert not con.execute("SELECT name FROM registered_models").fetchall()
    assert _recorded(tmp_path / "server.db") == CELLS  # each cell once: 0 lost, 0 twice
    assert not list((tmp_path / "results" / "spool" / "faults").glob("*.json"))


def test_a_full_disk_loses_no_cell(tmp_path: Path) -> None:
    """The store's disk fills up after the first cell: the next cell cannot even be claimed, so
    nothing runs and nothing is lost; with space again, the next run records the rest."""
    with tmpfs_disk(tmp_path / "disk", "8m") as disk:
        uri = f"sqlite:///{disk}/mlflow.db"
        assert _run(tmp_path, "--tracking-uri", uri, "--only", CELLS[0]).returncode == 0
        filler = disk / "filler"
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
        full = _run(tmp_path, "--tracking-uri", uri)
        assert full.returncode == 2, full.stdout + full.stderr
        assert "failed while claiming" in full.stderr and "Traceback" not in full.stderr
        assert "nothing of that cell ran" in full.stderr
        filler.unlink()
        again = _run(tmp_path, "--tracking-uri", uri)
        assert again.returncode == 0, again.stdout + again.stderr
        assert _recorded(disk / "mlflow.db") == CELLS


def test_a_disk_that_fills_while_a_cell_runs_loses_nothing(tmp_path: Path) -> None:
    """The default layout: the store and results/ on one disk, filled while a cell runs. The
    cell was in neither the store nor the spool, after a 60-line traceback and with a 0-byte
    .tmp left. Now the room reserved at start takes it, the run stops with one message saying
    the disk is full, and the next run (with space again) records it: each cell once."""
    with tmpfs_disk(tmp_path / "disk", "24m") as disk:
        env = {**_env(tmp_path), "TREELINE_RESULTS": str(disk / "results")}
        suite = tmp_path / "faults.yaml"
        suite.write_text(SUITE.replace("budget: 1", "budget: 2"))
        cmd = [sys.executable, "-m", "treeline", "run", str(suite)]
        run = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        log = disk / "results" / "logs" / "faults" / "adult__n=300__xgboost__cpu__s0.log"
        deadline = time.monotonic() + 60
        while not log.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        filler = disk / "filler"
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
        out, err = (b.decode() for b in run.communicate(timeout=120))
        assert run.returncode == 2, out + err
        # Which depends on when the disk filled: the worker's own writes failed (not recorded,
        # run again), or recording did (spooled, written next time). Never a failed cell.
        spooled = "its disk is full" in err and "The cell is kept in" in err
        assert spooled or ("is full" in err and "the cell was not recorded" in err), err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert not list(disk.rglob("*.tmp*")), "a half-written spool file"
        filler.unlink()
        again = subprocess.run(cmd, env=env, capture_output=True, text=True)
        assert again.returncode == 0, again.stdout + again.stderr
        assert spooled == ("recorded 1 cell(s) that an earlier run spooled" in again.stdout)
        assert _recorded(disk / "results" / "mlflow.db") == CELLS
        assert "failed" not in again.stdout


def test_a_full_disk_at_recording_spools_into_the_reserved_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The moment a finished cell is written, the store's disk (also the spool's) is full:
    the room reserved at start takes the cell, and the error says the disk is full."""
    from cells import a_cell

    from treeline.execute.result import CellResult
    from treeline.record import spool
    from treeline.record.store import StoreError, Tracker
    from treeline.run import StoreRecorder

    with tmpfs_disk(tmp_path / "disk", "16m") as disk:
        monkeypatch.setenv("TREELINE_RESULTS", str(disk / "results"))
        (disk / "results").mkdir()
        recorder = StoreRecorder(Tracker("t", f"sqlite:///{disk}/results/m.db"), {})
        assert spool.reserve("t") is None
        subprocess.run(["dd", "if=/dev/zero", f"of={disk}/filler", "bs=64k"], capture_output=True)
        result = CellResult(a_cell(), "failed", error="x" * 200_000)  # a big one
        with pytest.raises(StoreError, match=r"its disk is full\. The cell is kept in"):
            recorder.record(result, "me")
        [(path, kept, _)] = spool.pending("t")
        assert kept.cell.id == result.cell.id and path.parent == spool.folder("t")
        assert not list(disk.rglob("*.tmp*"))


@pytest.mark.parametrize("broken", ["TREELINE_CACHE", "TREELINE_RESULTS"])
def test_a_broken_environment_stops_the_run_before_any_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    """A cache or results folder that is a file: one message, exit 2, no cell recorded as
    failed (which a rerun would then show as the contenders' fault)."""
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv(broken, str(tmp_path / "a-file" / "sub"))
    (tmp_path / "store").mkdir()  # a store named on the command line is not made for you
    uri = f"sqlite:///{tmp_path}/store/mlflow.db"
    code = _main(tmp_path, "--tracking-uri", uri)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "is a file, not a folder" in err and broken in err
    assert "Traceback" not in err
    assert not (tmp_path / "store" / "mlflow.db").exists() or not _recorded(
        tmp_path / "store" / "mlflow.db"
    )


def test_a_lost_race_for_a_dataset_row_is_tried_again(tmp_path: Path) -> None:
    """Seen with two runners on an mlflow server on PostgreSQL: both recorded cells of the same
    data at once, and one stopped on 'duplicate key value violates unique constraint
    "dataset_pk"'. The race is inside MLflow (it looks, then inserts), so the loser's first try
    is stood in for here; its second try links the row the winner inserted, in a real store.
    Any other failure is not tried again."""
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput
    from mlflow.exceptions import MlflowException

    from treeline.record.store import log_inputs

    client = MlflowClient(f"sqlite:///{tmp_path / 'm.db'}")
    exp = client.create_experiment("race", artifact_location=(tmp_path / "a").as_uri())
    data = [DatasetInput(Dataset("adult", "abc", "treeline", "{}"), [])]
    winner, loser = (client.create_run(exp).info.run_id for _ in range(2))
    client.log_inputs(winner, data)

    class Racing:
        def __init__(self, error: str):
            self.error, self.calls = error, 0

        def log_inputs(self, run_id: str, inputs: list) -> None:
            self.calls += 1
            if self.calls == 1 or "unique" not in self.error:
                raise MlflowException(self.error)
            client.log_inputs(run_id, inputs)

    lost = Racing('(psycopg2.errors.UniqueViolation) duplicate key value violates unique "x"')
    log_inputs(lost, loser, data)
    assert lost.calls == 2
    assert [i.dataset.digest for i in client.get_run(loser).inputs.dataset_inputs] == ["abc"]
    broken = Racing("(sqlite3.OperationalError) disk I/O error")
    with pytest.raises(MlflowException, match="disk I/O"):
        log_inputs(broken, loser, data)
    assert broken.calls == 1


def test_a_tracking_uri_s_password_is_never_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run against a server that does not answer quotes the URI in its error: without the
    password (it printed `http://mlflow:S3cret…@…` before)."""
    from treeline.locate import redact

    uri = f"http://mlflow:S3cret-pw@127.0.0.1:{_free_port()}"
    assert _main(tmp_path, "--tracking-uri", uri) == 2
    err = capsys.readouterr().err
    assert "does not answer" in err and "mlflow:***@127.0.0.1" in err
    assert "S3cret" not in err
    assert redact("postgresql+psycopg2://u:p@ss@db:5432/x and sqlite:///a/b.db") == (
        "postgresql+psycopg2://u:***@db:5432/x and sqlite:///a/b.db"
    )


@pytest.mark.parametrize("damage", ["truncated", "not-a-cell", "empty"])
def test_a_damaged_spool_file_is_named_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    """A damaged results/spool/<suite>/*.json gave a traceback at every start: now exit 2, one
    line naming the file, and the file left where it is (it may be a finished cell's only copy)."""
    monkeypatch.setenv("TREELINE_RESULTS", str(tmp_path / "results"))
    spooled = tmp_path / "results" / "spool" / "faults" / "abc.json"
    spooled.parent.mkdir(parents=True)
    spooled.write_text(
        {"truncated": '{"result": {"cell": ', "not-a-cell": "[1, 2]", "empty": ""}[damage]
    )
    code = _main(tmp_path, "--tracking-uri", f"sqlite:///{tmp_path}/m.db")
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{spooled}: a spooled cell that cannot be read" in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert spooled.exists()
