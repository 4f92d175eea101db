"""Real tracking stores for tests: a throwaway PostgreSQL cluster, and an `mlflow server` on any
backend with served artifacts. Each starts its processes in their own session and, pass or fail,
kills them and removes every folder it made. Where PostgreSQL, its `postgres` user or psycopg2
is missing the test is skipped with the reason, never failed.

Context managers, so that one cluster and server can back a whole module:

    @pytest.fixture(scope="module")
    def pg_server() -> Iterator[str]:
        with postgres_database() as db, mlflow_server(db) as uri:
            yield uri
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PG_USER = "treeline"  # the cluster's superuser; trust auth on 127.0.0.1 only
PG_DATABASE = "mlflow"
PG_VERSIONS = Path("/usr/lib/postgresql")  # Debian/Ubuntu: one <version>/bin per server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin() -> Path:
    """The folder holding `initdb` and `postgres`; Debian keeps them off PATH, per version."""
    candidates = [os.environ.get("TREELINE_PG_BIN", "")]
    if initdb := shutil.which("initdb"):
        candidates.append(str(Path(initdb).resolve().parent))  # /usr/local/bin links into it
    candidates += sorted((str(p) for p in PG_VERSIONS.glob("*/bin")), key=_version, reverse=True)
    for folder in filter(None, candidates):
        if all((Path(folder) / name).is_file() for name in ("initdb", "postgres")):
            return Path(folder)
    pytest.skip(
        "PostgreSQL server binaries (initdb, postgres) not found: install postgresql, or set "
        "TREELINE_PG_BIN to their folder"
    )


def _version(folder: str) -> int:
    name = Path(folder).parent.name
    return int(name) if name.isdigit() else 0


def _pg_account() -> pwd.struct_passwd | None:
    """Whom PostgreSQL runs as: None for ourselves; `postgres` when we are root, because
    initdb and postgres refuse to run as root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no `postgres` user to run PostgreSQL as")


def _require_psycopg2() -> None:
    pytest.importorskip(
        "psycopg2",
        reason="psycopg2 is not installed (pip install psycopg2-binary): MLflow needs it for a "
        "postgresql+psycopg2:// store",
    )


def _tail(log: Path, lines: int = 25) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen[bytes], first: signal.Signals, grace: float = 10) -> None:
    """Ask the process's session to stop, then kill whatever of it is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, first)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    # Always, even after a clean exit: helpers it forked may outlive it in the same group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)


@contextlib.contextmanager
def postgres_database(timeout: float = 60) -> Iterator[str]:
    """A fresh PostgreSQL cluster on a free 127.0.0.1 port with one empty database; yields its
    SQLAlchemy URI (postgresql+psycopg2://...). Cluster and folder are gone afterwards."""
    _require_psycopg2()
    import psycopg2

    bin_dir = _pg_bin()
    account = _pg_account()
    as_pg: dict[str, Any] = {}
    if account is not None:
        as_pg = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    # Not pytest's tmp_path: its parents are root-only, and `postgres` must reach the folder.
    root = Path(tempfile.mkdtemp(prefix="treeline-pg-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        if account is not None:
            os.chown(root, account.pw_uid, account.pw_gid)
        data, sockets, log = root / "data", root / "sock", root / "postgres.log"
        init = subprocess.run(
            # --no-sync, like fsync=off below: a throwaway cluster needs no durability.
            [bin_dir / "initdb", "-D", data, "-U", PG_USER, "--auth=trust", "-E", "UTF8",
             "--no-locale", "--no-sync"],
            cwd=root, capture_output=True, text=True, timeout=timeout, **as_pg,
        )  # fmt: skip
        if init.returncode != 0:
            pytest.fail(f"initdb failed ({init.returncode}):\n{init.stdout}{init.stderr}")
        sockets.mkdir()
        if account is not None:
            os.chown(sockets, account.pw_uid, account.pw_gid)
        port = free_port()
        with log.open("wb") as out:
            # `postgres` itself, not pg_ctl: then it is our child, its session ours to kill.
            server = subprocess.Popen(
                [bin_dir / "postgres", "-D", data, "-h", "127.0.0.1", "-p", str(port),
                 "-k", sockets, "-F", "-c", "full_page_writes=off"],
                cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **as_pg,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            try:
                con = psycopg2.connect(
                    host="127.0.0.1", port=port, user=PG_USER, dbname="postgres", connect_timeout=2
                )
                break
            except psycopg2.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"PostgreSQL did not start:\n{_tail(log)}")
                time.sleep(0.1)
        try:
            con.autocommit = True  # CREATE DATABASE cannot run inside a transaction
            with con.cursor() as cur:
                cur.execute(f"CREATE DATABASE {PG_DATABASE}")
        finally:
            con.close()
        yield f"postgresql+psycopg2://{PG_USER}@127.0.0.1:{port}/{PG_DATABASE}"
    finally:
        if server is not None:
            # SIGINT is PostgreSQL's "fast" shutdown: backends are ended, nothing is waited on.
            _stop(server, signal.SIGINT)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def mlflow_server(
    backend_uri: str, timeout: float = 120, extra: tuple[str, ...] = (), env: dict | None = None
) -> Iterator[str]:
    """`mlflow server` on `backend_uri`, serving artifacts from a temporary folder (artifact
    URIs are mlflow-artifacts:/...); yields its http URI once /health answers. `extra`: more
    arguments (`--app-name basic-auth`); `env`: more environment."""
    if backend_uri.startswith("postgresql"):
        _require_psycopg2()
    root = Path(tempfile.mkdtemp(prefix="treeline-mlflow-"))
    port = free_port()
    log = root / "server.log"
    env = {
        **os.environ,
        # Its job runner (GenAI jobs: seven huey consumers, ~1.4 GB) is of no use to Treeline
        # and slows a 2-core machine down.
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        **(env or {}),
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    server: subprocess.Popen[bytes] | None = None
    try:
        with log.open("wb") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_uri,
                 "--serve-artifacts", "--artifacts-destination", str(root / "artifacts"),
                 "--host", "127.0.0.1", "--port", str(port), "--workers", "1", *extra],
                cwd=root,  # anything it writes to its working folder is removed with it
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        uri = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while not _healthy(uri):
            if server.poll() is not None:
                pytest.fail(f"mlflow server exited ({server.returncode}):\n{_tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server gave no /health in {timeout:.0f} s:\n{_tail(log)}")
            time.sleep(0.2)
        yield uri
    finally:
        if server is not None:
            _stop(server, signal.SIGTERM)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def tmpfs_disk(path: Path, size: str) -> Iterator[Path]:
    """A small disk of its own at `path` (a tmpfs of `size`, e.g. "16m") to fill up; the test
    is skipped where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _healthy(uri: str) -> bool:
    try:
        with urllib.request.urlopen(uri + "/health", timeout=2) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False
