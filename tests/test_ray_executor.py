"""`--executor ray` on a real local cluster (`ray start --head`), skipped where Ray is not
installed (`pip install -e ".[ray]"`): every cell once in the store, a GPU runner skipped with
the reason on a GPU-less cluster, and a cell whose worker or whose Ray task dies recorded as
failed, never retried."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")

SUITE = """\
name: {name}
description: cells through a Ray cluster
budget: {budget}
seeds: [0]
datasets:
  - name: adult
    n: [300]
contenders: [{contenders}]
runners: [{runners}]
"""
RUNNERS = "cpu-1thread, t4"
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}  # one machine: keep Ray on 127.0.0.1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process."""
    out = {}
    for p in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        out[int(p.name)] = (ppid, cmd)
    return out


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    with _head_node() as address:
        yield address


@contextlib.contextmanager
def _head_node() -> Iterator[str]:
    """A head node of its own (port and temp folder), stopped by killing exactly its
    processes: `ray stop` would stop every Ray cluster of this user on the machine."""
    ray_bin = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    port = _free_port()
    tmp = tempfile.mkdtemp(prefix="rt-", dir="/tmp")  # short: Ray's socket paths are limited
    env = {**os.environ, **LOOPBACK}
    start = subprocess.run(
        [
            ray_bin,
            "start",
            "--head",
            f"--port={port}",
            "--num-cpus=2",
            f"--temp-dir={tmp}",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        if start.returncode != 0:
            pytest.skip(f"`ray start --head` failed here: {start.stderr.strip()[-300:]}")
        yield f"127.0.0.1:{port}"
    finally:
        _kill_cluster(tmp, port)
        shutil.rmtree(tmp, ignore_errors=True)


def _kill_cluster(tmp: str, port: int, spare: int | None = None) -> None:
    """Every process of the cluster: its head's services and the Ray workers they started;
    not `spare` (a driver, whose command line names the cluster's address too)."""
    procs = _processes()
    procs.pop(spare or -1, None)
    mine = {pid for pid, (_, cmd) in procs.items() if tmp in cmd or f":{port}" in cmd}
    grown = True
    while grown:  # and their descendants (Ray workers, the tasks' warm workers)
        more = {pid for pid, (ppid, _) in procs.items() if ppid in mine} - mine
        grown = bool(more)
        mine |= more
    for pid in mine:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _run(tmp_path: Path, address: str | None, name: str, **fmt: str) -> subprocess.Popen[str]:
    """`treeline run` of a one-size suite, on the Ray cluster at `address` (None: locally)."""
    suite = tmp_path / f"{name}.yaml"
    suite.write_text(SUITE.format(name=name, **fmt))
    on_ray = ["--executor", "ray", "--address", address] if address else []
    return subprocess.Popen(
        [sys.executable, "-m", "treeline", "run", str(suite), *on_ray, "--allow-skipped"],
        env={**os.environ, **LOOPBACK, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # As from a terminal: a test run started in the background inherits SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _cells(name: str) -> dict[str, object]:
    from mlflow import MlflowClient

    from treeline.record.store import default_tracking_uri

    client = MlflowClient(default_tracking_uri())
    exp = client.get_experiment_by_name(name)
    assert exp is not None
    runs = [
        r for r in client.search_runs([exp.experiment_id]) if "treeline.kind" not in r.data.tags
    ]
    assert len({r.info.run_name for r in runs}) == len(runs), "a cell recorded twice"
    return {r.info.run_name: r for r in runs}


def test_cells_run_as_ray_tasks_once_and_a_gpu_runner_is_skipped(
    ray_cluster: str, tmp_path: Path
) -> None:
    run = _run(
        tmp_path,
        ray_cluster,
        "ray-smoke",
        budget="2",
        contenders="xgboost, lightgbm",
        runners=RUNNERS,
    )
    out = run.communicate(timeout=300)[0]
    assert run.returncode == 0, out
    runs = _cells("ray-smoke")
    status = {cell: r.data.tags["treeline.status"] for cell, r in runs.items()}
    assert status == {
        "adult/n=300/xgboost/cpu-1thread/s0": "ok",
        "adult/n=300/lightgbm/cpu-1thread/s0": "ok",
        "adult/n=300/xgboost/t4/s0": "skipped",
        "adult/n=300/lightgbm/t4/s0": "skipped",
    }
    error = runs["adult/n=300/xgboost/t4/s0"].data.tags["treeline.error"]
    assert "no node of the Ray cluster" in error and "1 GPU" in error
    # The cell's log came back from the task and is kept beside the others.
    logs = Path(os.environ["TREELINE_RESULTS"]) / "logs" / "ray-smoke"
    assert "trial 0:" in (logs / "adult__n=300__xgboost__cpu-1thread__s0.log").read_text()
    # Resume does not care which executor ran a cell: a local run keeps the two the Ray
    # executor recorded, and tries again only the skipped ones (as after any run).
    again = _run(
        tmp_path, None, "ray-smoke", budget="2", contenders="xgboost, lightgbm", runners=RUNNERS
    )
    out = again.communicate(timeout=300)[0]
    assert again.returncode == 0, out
    rerun = _cells("ray-smoke")
    for cell, was in status.items():
        now = rerun[cell]
        assert now.data.tags["treeline.status"] == was, (cell, out)
        if was == "ok":
            assert now.info.run_id == runs[cell].info.run_id, f"{cell} ran again locally"


def test_a_killed_worker_or_ray_task_fails_its_cell_and_is_not_retried(
    ray_cluster: str, tmp_path: Path
) -> None:
    run = _run(
        tmp_path,
        ray_cluster,
        "ray-kill",
        budget="30",
        contenders="xgboost, lightgbm",
        runners="cpu-1thread",
    )
    try:
        # Two cells in flight, each a Ray task, the warm worker it started and its fork.
        cells: list[tuple[int, int, int]] = []
        for _ in range(600):
            cells = _cell_processes()
            if len(cells) == 2:
                break
            time.sleep(0.1)
        assert len(cells) == 2, "two cells never started"
        time.sleep(2)
        os.kill(cells[0][2], signal.SIGKILL)  # one cell's worker
        os.kill(cells[1][0], signal.SIGKILL)  # the other's Ray task
        out = run.communicate(timeout=120)[0]
    finally:
        run.kill()
    assert run.returncode == 1, out
    runs = _cells("ray-kill")
    assert len(runs) == 2
    errors = sorted(r.data.tags["treeline.error"] for r in runs.values())
    assert [r.data.tags["treeline.status"] for r in runs.values()] == ["failed", "failed"]
    assert any("worker killed by SIGKILL from outside" in e for e in errors), errors
    assert any("Ray task running the cell ended without a result" in e for e in errors), errors


def _cell_processes() -> list[tuple[int, int, int]]:
    """(Ray task, its warm worker, the warm worker's fork) of each cell in flight."""
    procs = _processes()
    # A Ray task's process is titled ray::<task name>, the cell's id here.
    tasks = {p for p, (_, cmd) in procs.items() if cmd.startswith("ray::adult/n=300/")}
    warm = {p: pp for p, (pp, cmd) in procs.items() if pp in tasks and "execute.warm" in cmd}
    return [(warm[pp], pp, p) for p, (pp, _) in procs.items() if pp in warm]


def test_ctrl_c_cancels_the_ray_tasks_and_their_processes(ray_cluster: str, tmp_path: Path) -> None:
    """Ctrl-C in the driver cancels the task in flight with force: the task, the warm worker it
    started and the cell's worker are gone; the cell is not recorded, and no claim is left."""
    run = _run(
        tmp_path, ray_cluster, "ray-cancel", budget="60", contenders="xgboost", runners="cpu"
    )
    try:
        cells: list[tuple[int, int, int]] = []
        for _ in range(600):
            cells = _cell_processes()
            if cells:
                break
            time.sleep(0.1)
        assert cells, "the cell never started"
        time.sleep(2)
        run.send_signal(signal.SIGINT)
        out = run.communicate(timeout=60)[0]
    finally:
        run.kill()
    assert run.returncode == 130, out
    assert "interrupted" in out, out
    left: list[int] = []
    for _ in range(100):  # Ray kills a cancelled task's process within moments
        left = [pid for pid in cells[0] if pid in _processes()]
        if not left:
            break
        time.sleep(0.1)
    assert not left, f"still running after Ctrl-C: {[_processes()[p][1][:80] for p in left]}"
    assert _cells("ray-cancel") == {}, "the cancelled cell was recorded"
    from mlflow import MlflowClient

    from treeline.record.store import default_tracking_uri

    claims = MlflowClient(default_tracking_uri()).search_registered_models()
    assert [m.name for m in claims] == []


def test_a_killed_task_s_folder_is_removed_by_the_next_task(tmp_path: Path) -> None:
    """A Ray task killed mid-cell leaves its temporary folder; the next task on the node
    removes the folders of processes that are gone, and only those."""
    from treeline.execute.ray_executor import _remove_orphaned_folders

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = tmp_path / f"treeline-cell-{gone.pid}-abc"
    alive = tmp_path / f"treeline-cell-{os.getpid()}-def"
    other = tmp_path / "treeline-cell-xyz"  # not named by a process: not ours to judge
    for folder in (dead, alive, other):
        folder.mkdir()
        (folder / "cell.log").write_text("trial 0: …")
    _remove_orphaned_folders(tmp_path)
    assert not dead.exists() and alive.exists() and other.exists()


def test_a_lost_cluster_stops_the_run_with_one_message_and_records_nothing(
    tmp_path: Path,
) -> None:
    """The whole cluster dies mid-cell: the cell in flight was recorded `failed` (a rerun then
    skipped it), the driver claimed the next cell and Ray ended it a minute later without a
    word. Now: one message in seconds, exit 2, nothing recorded, no claim and no cell folder
    left; the same command with a cluster back runs both cells."""
    from mlflow import MlflowClient

    from treeline.record.store import default_tracking_uri

    folders_before = set(Path(tempfile.gettempdir()).glob("treeline-cell-*"))
    with _head_node() as address:
        run = _run(tmp_path, address, "ray-lost", budget="60", contenders="xgboost, lightgbm",
                   runners="cpu")  # fmt: skip
        try:
            for _ in range(600):
                if _cell_processes():
                    break
                time.sleep(0.1)
            assert _cell_processes(), "the cell never started"
            time.sleep(2)
            port = int(address.rpartition(":")[2])
            lost_at = time.monotonic()
            _kill_cluster(_temp_dir_of(port), port, spare=run.pid)
            out = run.communicate(timeout=120)[0]
            took = time.monotonic() - lost_at
        finally:
            run.kill()
    assert run.returncode == 2, out
    assert "the Ray cluster" in out and "was lost while" in out and "Traceback" not in out, out
    assert took < 30, f"{took:.0f} s to stop"
    exp = MlflowClient(default_tracking_uri()).get_experiment_by_name("ray-lost")
    recorded = MlflowClient(default_tracking_uri()).search_runs([exp.experiment_id]) if exp else []
    assert not recorded, "a cell of the lost cluster was recorded"
    claims = MlflowClient(default_tracking_uri()).search_registered_models()
    assert [m.name for m in claims] == []
    left = set(Path(tempfile.gettempdir()).glob("treeline-cell-*")) - folders_before
    assert not left, left


def _temp_dir_of(port: int) -> str:
    """The --temp-dir of the head node on `port` (its processes' command lines name it)."""
    for _, cmd in _processes().values():
        if f"--port={port}" in cmd:
            for part in cmd.split():
                if "/rt-" in part:
                    return "/tmp/rt-" + part.split("/rt-", 1)[1].split("/", 1)[0]
    return f":{port}"
