"""The fault corpus: a real `treeline run` of a small suite with one fault injected, then a
plain rerun with the fault gone, case after case; each case counts what a fault may cost.

    python -m pytest tests/fault_corpus.py -p no:xdist -q -s     (about 15 minutes on 2 cores)

Per case, after the rerun: cells lost (not recorded, or recorded with a status the fault made
up), cells recorded twice, claims left in the store, processes left behind, and tracebacks
printed by either run. Every count must be 0; the table is printed at the end and written to
$TREELINE_CORPUS_OUT (default: fault-corpus.json in the working folder). Not part of the
default test run (its file name is not test_*.py): name the file to run it.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from store_servers import tmpfs_disk

HERE = Path(__file__).parent
SUITE = """\
name: corpus
description: four small cells for the fault corpus
budget: 2
seeds: [0]
datasets:
  - name: adult
    n: [200, 300]
contenders: [xgboost, lightgbm]
"""
CELLS = sorted(f"adult/n={n}/{c}/cpu/s0" for n in (200, 300) for c in ("xgboost", "lightgbm"))
MARKS = ("treeline.execute", "-m treeline", "ray::adult")  # our processes' command lines


@dataclass
class Counts:
    case: str
    lost: int = 0
    duplicates: int = 0
    claims_left: int = 0
    orphans: int = 0
    tracebacks: int = 0
    faulted_exit: int | None = None
    rerun_exit: int | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


RESULTS: list[Counts] = []


@dataclass
class Setup:
    """Where a case's run records, and what the fault needs."""

    tmp: Path
    env: dict[str, str]
    uri: str

    @property
    def results(self) -> Path:
        return Path(self.env["TREELINE_RESULTS"])

    def cmd(self, *extra: str) -> list[str]:
        return [sys.executable, "-m", "treeline", "run", str(self.tmp / "corpus.yaml"),
                "--tracking-uri", self.uri, *extra]  # fmt: skip


def _processes() -> dict[int, str]:
    out = {}
    for p in Path("/proc").glob("[0-9]*"):
        try:
            state = (p / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X") and any(m in cmd for m in MARKS):
            out[int(p.name)] = cmd
    return out


def _complete(uri: str) -> Counter[str]:
    """Complete, live runs per cell id, with their status: what the store holds."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("corpus")
    if exp is None:
        return Counter()
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    return Counter(
        f"{r.data.tags['treeline.cell_id']}={r.data.tags.get('treeline.status')}"
        for r in runs
        if r.data.tags.get("treeline.complete") == "1" and "treeline.kind" not in r.data.tags
    )


def _claims(uri: str) -> int:
    from mlflow import MlflowClient

    models = MlflowClient(uri).search_registered_models()
    return sum(m.name.startswith("treeline-claim") for m in models)


def _wait_for(check: Callable[[], bool], timeout: float = 120, every: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return False


def _recorded_count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return con.execute(
                "SELECT count(*) FROM tags WHERE key = 'treeline.complete'"
            ).fetchone()[0]
    except sqlite3.Error:
        return 0


def _cell_log(setup: Setup, n: int, contender: str) -> Path:
    return setup.results / "logs" / "corpus" / f"adult__n={n}__{contender}__cpu__s0.log"


def trial(
    case: str,
    setup: Setup,
    fault: Callable[[subprocess.Popen[str], Setup], None],
    undo: Callable[[Setup], None] | None = None,
    expect_statuses: tuple[str, ...] = ("ok",),
) -> Counts:
    """One case: the faulted run, the fault undone, the plain rerun, then the counts."""
    counts = Counts(case)
    started = time.monotonic()
    before = set(_processes())
    (setup.tmp / "corpus.yaml").write_text(SUITE)
    run = subprocess.Popen(
        setup.cmd(),
        env=setup.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a terminal's foreground group
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        fault(run, setup)
        out = run.communicate(timeout=300)[0]
    finally:
        if run.poll() is None:
            run.kill()
            out = run.communicate()[0]
            counts.notes.append("the faulted run had to be killed")
    counts.faulted_exit = run.returncode
    time.sleep(1.0)
    mine = set(_processes()) - before
    if undo is not None:
        undo(setup)
    rerun = subprocess.run(setup.cmd(), env=setup.env, capture_output=True, text=True, timeout=600)
    counts.rerun_exit = rerun.returncode
    time.sleep(0.5)
    left = (mine | set(_processes())) - before
    counts.orphans = len([p for p in left if p in _processes()])
    texts = [out, rerun.stdout, rerun.stderr]
    counts.tracebacks = sum(t.count("Traceback") + t.count("Exception ignored") for t in texts)
    recorded = _complete(setup.uri)
    by_cell = Counter(k.rsplit("=", 1)[0] for k in recorded.elements())
    wrong = [k for k in recorded if k.rsplit("=", 1)[1] not in expect_statuses]
    counts.lost = sum(c not in by_cell for c in CELLS) + len(wrong)
    counts.duplicates = sum(n - 1 for n in by_cell.values() if n > 1)
    counts.claims_left = _claims(setup.uri)
    if wrong:
        counts.notes.append(f"recorded as {wrong}")
    if rerun.returncode != 0:
        counts.notes.append(f"rerun: {(rerun.stdout + rerun.stderr)[-400:]}")
    counts.notes.append(
        f"faulted run said: {out.strip().splitlines()[-1][:200] if out.strip() else ''}"
    )
    counts.seconds = round(time.monotonic() - started, 1)
    RESULTS.append(counts)
    return counts


# ---- setups -------------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> Setup:
    env = {**os.environ, "TREELINE_RESULTS": str(tmp_path / "results"), "COLUMNS": "200"}
    env.pop("MLFLOW_TRACKING_URI", None)
    (tmp_path / "results").mkdir()
    return Setup(tmp_path, env, f"sqlite:///{tmp_path}/results/mlflow.db")


def _fill(disk: Path) -> None:
    subprocess.run(["dd", "if=/dev/zero", f"of={disk}/filler", "bs=64k"], capture_output=True)


def _unfill(disk: Path) -> None:
    with contextlib.suppress(OSError):
        (disk / "filler").unlink()


# ---- faults -------------------------------------------------------------------------------


def _after(seconds: float, sig: int, group: bool = False, times: int = 1):
    def fault(run: subprocess.Popen[str], setup: Setup) -> None:
        time.sleep(seconds)
        for _ in range(times):
            with contextlib.suppress(ProcessLookupError):
                (os.killpg if group else os.kill)(run.pid, sig)
            time.sleep(0.05)

    return fault


def _at_recording(run: subprocess.Popen[str], setup: Setup) -> None:
    """SIGKILL the moment the first cell's run is tagged complete (before its claim goes)."""
    db = setup.results / "mlflow.db"
    _wait_for(lambda: _recorded_count(db) >= 1 or run.poll() is not None, every=0.005)
    with contextlib.suppress(ProcessLookupError):
        os.kill(run.pid, signal.SIGKILL)


KILLS = [
    ("kill -9 at random 1", _after(random.Random(1).uniform(1, 14), signal.SIGKILL)),
    ("kill -9 at random 2", _after(random.Random(2).uniform(1, 14), signal.SIGKILL)),
    ("kill -9 at random 3", _after(random.Random(3).uniform(1, 14), signal.SIGKILL)),
    ("kill -9 during start-up", _after(0.6, signal.SIGKILL)),
    ("kill -9 of the whole group", _after(6, signal.SIGKILL, group=True)),
    ("kill -9 at recording", _at_recording),
    ("Ctrl-C", _after(6, signal.SIGINT, group=True)),
    ("Ctrl-C twice", _after(6, signal.SIGINT, group=True, times=2)),
    ("SIGTERM", _after(6, signal.SIGTERM)),
    ("SIGHUP", _after(6, signal.SIGHUP)),
]


@pytest.mark.parametrize(("case", "fault"), KILLS, ids=[k[0] for k in KILLS])
def test_kills_and_signals(local: Setup, case: str, fault) -> None:
    trial(case, local, fault)


def test_two_runners_at_once(local: Setup) -> None:
    def fault(run: subprocess.Popen[str], setup: Setup) -> None:
        time.sleep(0.3)
        other = subprocess.run(setup.cmd(), env=setup.env, capture_output=True, text=True)
        assert "Traceback" not in other.stdout + other.stderr

    trial("two runners at once", local, fault)


def test_full_disk_default_layout(tmp_path: Path) -> None:
    """The store and results/ on one disk, filled while the second cell runs."""
    with tmpfs_disk(tmp_path / "disk", "48m") as disk:
        env = {**os.environ, "TREELINE_RESULTS": str(disk / "results"), "COLUMNS": "200"}
        (disk / "results").mkdir()
        setup = Setup(tmp_path, env, f"sqlite:///{disk}/results/mlflow.db")

        def fault(run: subprocess.Popen[str], s: Setup) -> None:
            _wait_for(lambda: len(list((s.results / "logs" / "corpus").glob("*.log"))) >= 2)
            _fill(disk)

        trial("full disk (store and results on one disk)", setup, fault, lambda s: _unfill(disk))


def test_full_disk_of_the_store_only(tmp_path: Path) -> None:
    with tmpfs_disk(tmp_path / "disk", "16m") as disk:
        env = {**os.environ, "TREELINE_RESULTS": str(tmp_path / "results"), "COLUMNS": "200"}
        setup = Setup(tmp_path, env, f"sqlite:///{disk}/mlflow.db")

        def fault(run: subprocess.Popen[str], s: Setup) -> None:
            _wait_for(lambda: _recorded_count(disk / "mlflow.db") >= 1)
            _fill(disk)

        trial("full disk (the store's own disk)", setup, fault, lambda s: _unfill(disk))


def _server_down_case(tmp_path: Path, backend: str, case: str, pg: bool) -> None:
    """A server (or its PostgreSQL) stopped once the first cell is recorded, then back."""
    sys.path.insert(0, str(HERE))
    from store_servers import mlflow_server, postgres_database

    env = {**os.environ, "TREELINE_RESULTS": str(tmp_path / "results"), "COLUMNS": "200",
           "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}  # fmt: skip
    with contextlib.ExitStack() as stack:
        db = backend
        if pg:
            db = stack.enter_context(postgres_database())
        uri = stack.enter_context(mlflow_server(db))
        port = uri.rpartition(":")[2]
        victim = f"-p {db.rpartition(':')[2].split('/')[0]}" if pg else f"--port {port}"
        saved: dict[str, object] = {}

        def fault(run: subprocess.Popen[str], s: Setup) -> None:
            _wait_for(lambda: len(_complete(uri)) >= 1 or run.poll() is not None, every=0.2)
            for pid, cmd in _all_processes().items():
                if victim in cmd and ("postgres" in cmd if pg else "mlflow" in cmd):
                    saved.update(cmd=Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1],
                                 cwd=os.readlink(f"/proc/{pid}/cwd"),
                                 uid=os.stat(f"/proc/{pid}").st_uid)  # fmt: skip
                    if pg:  # PostgreSQL's fast shutdown: down, its data kept
                        os.kill(pid, signal.SIGINT)
                    else:  # the server and its workers, at once
                        os.killpg(os.getpgid(pid), signal.SIGKILL)
                    break

        def undo(s: Setup) -> None:
            if pg:  # the same postmaster again, as the same user, on the same data
                restarted = subprocess.Popen(saved["cmd"], cwd=saved["cwd"], user=saved["uid"],
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                             start_new_session=True)  # fmt: skip
                stack.callback(lambda: (restarted.kill(), restarted.wait()))
                time.sleep(3)
            else:
                restarted = subprocess.Popen([c.decode() for c in saved["cmd"]], cwd=saved["cwd"],
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                             start_new_session=True)  # fmt: skip
                stack.callback(lambda: (os.killpg(restarted.pid, signal.SIGKILL), restarted.wait()))
                _wait_for(lambda: _healthy(uri), timeout=120, every=0.3)

        trial(case, Setup(tmp_path, env, uri), fault, undo)


def _all_processes() -> dict[int, str]:
    out = {}
    for p in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            out[int(p.name)] = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    return out


def _healthy(uri: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(uri + "/health", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


def test_server_down(tmp_path: Path) -> None:
    _server_down_case(tmp_path, f"sqlite:///{tmp_path}/server.db", "mlflow server down", False)


def test_postgresql_down(tmp_path: Path) -> None:
    _server_down_case(tmp_path, "", "PostgreSQL under the server down", True)


# ---- the data cache -----------------------------------------------------------------------


def _private_cache(tmp_path: Path, env: dict[str, str]) -> Path:
    """A cache of the corpus's data of its own, prepared, to damage."""
    cache = tmp_path / "cache"
    env["TREELINE_CACHE"] = str(cache)
    subprocess.run([sys.executable, "-m", "treeline", "data", "prepare", "adult"], env=env,
                   capture_output=True, check=True)  # fmt: skip
    return next(cache.glob("adult/*"))


def _damage(how: str) -> Callable[[Path], None]:
    def truncate(folder: Path) -> None:
        target = next(p for p in sorted(folder.iterdir()) if p.suffix in (".parquet", ".npy"))
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])

    def meta(folder: Path) -> None:
        (folder / "meta.json").write_text("{ not json")

    def flip(folder: Path) -> None:
        import numpy as np

        y = next(folder.glob("*.y.npy"))
        np.save(y, 1 - np.load(y))

    def swap(folder: Path) -> None:
        ys = sorted(folder.glob("*.y.npy"))
        a, b = ys[0].read_bytes(), ys[-1].read_bytes()
        ys[0].write_bytes(b)
        ys[-1].write_bytes(a)

    return {"truncated": truncate, "meta": meta, "flipped": flip, "swapped": swap}[how]


CACHE = [
    ("cache: a truncated data file", "truncated"),
    ("cache: a broken meta.json", "meta"),
    ("cache: labels flipped", "flipped"),
    ("cache: test and pool labels swapped", "swapped"),
]


@pytest.mark.parametrize(("case", "how"), CACHE, ids=[c[1] for c in CACHE])
def test_a_damaged_cache(local: Setup, case: str, how: str) -> None:
    folder = _private_cache(local.tmp, local.env)
    _damage(how)(folder)
    trial(case, local, lambda run, s: None)


def test_a_cache_deleted_mid_run(local: Setup) -> None:
    folder = _private_cache(local.tmp, local.env)

    def fault(run: subprocess.Popen[str], s: Setup) -> None:
        _wait_for(lambda: _cell_log(s, 200, "lightgbm").exists() or run.poll() is not None)
        shutil.rmtree(folder, ignore_errors=True)

    trial("cache: deleted mid-run", local, fault)


# ---- a lost Ray cluster -------------------------------------------------------------------


def test_a_lost_ray_cluster(local: Setup) -> None:
    pytest.importorskip("ray")
    sys.path.insert(0, str(HERE))
    from test_ray_executor import _cell_processes, _head_node, _kill_cluster, _temp_dir_of

    with _head_node() as address:
        port = int(address.rpartition(":")[2])
        ray_setup = Setup(local.tmp, {**local.env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"},
                          local.uri)  # fmt: skip
        plain = ray_setup.cmd
        ray_setup.cmd = lambda *extra: plain("--executor", "ray", "--address", address, *extra)

        def fault(run: subprocess.Popen[str], s: Setup) -> None:
            _wait_for(lambda: bool(_cell_processes()) or run.poll() is not None)
            time.sleep(2)
            _kill_cluster(_temp_dir_of(port), port, spare=run.pid)

        def undo(s: Setup) -> None:
            s.cmd = plain  # the rerun runs here: the cluster is gone

        trial("Ray cluster lost", ray_setup, fault, undo)


# ---- the table ----------------------------------------------------------------------------


def teardown_module() -> None:
    out = Path(os.environ.get("TREELINE_CORPUS_OUT", "fault-corpus.json"))
    out.write_text(json.dumps([asdict(c) for c in RESULTS], indent=2))
    keys = ("lost", "duplicates", "claims_left", "orphans", "tracebacks")
    print(f"\n{'case':44} " + " ".join(f"{k:>11}" for k in keys) + "  exits   seconds")
    for c in RESULTS:
        print(f"{c.case:44} " + " ".join(f"{getattr(c, k):>11}" for k in keys)
              + f"  {c.faulted_exit},{c.rerun_exit}  {c.seconds:>7}")  # fmt: skip
    totals = {k: sum(getattr(c, k) for c in RESULTS) for k in keys}
    print(f"{len(RESULTS)} cases; totals: {totals}; written to {out}")


def test_every_count_is_zero() -> None:
    """Last: the corpus passes when every case cost nothing."""
    bad = [c for c in RESULTS if any((c.lost, c.duplicates, c.claims_left, c.orphans,
                                      c.tracebacks)) or c.rerun_exit != 0]  # fmt: skip
    assert not bad, [asdict(c) for c in bad]
