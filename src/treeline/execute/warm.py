"""Warm workers: a process that has imported the heavy libraries once and forks one child per cell.

A fresh interpreter per cell paid 2 s (trees) to 6 s (networks) of imports and start-up on two
cores. A fork keeps what a process per cell gives — isolation, its own peak memory (measured from
the fork point, `measure.fork_baseline`), a hard kill of its process group — without the imports.

The warm process (`python -m treeline.execute.warm`) is started once per worker environment
(thread count, device: libraries read those when they load) with the environment `supervise`
gives a worker, and stops, killing its children, when the runner's end of its socket closes.
It takes requests on that Unix socket — the spec's read end and the progress pipe's write end
travel as file descriptors — and reports each child's pid and, once reaped, its exit status.
The parent never runs a parallel region or touches CUDA, so a fork is safe for OpenMP and torch.
`TREELINE_WARM_WORKERS=0` starts a fresh interpreter per cell.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

_MAX_PACKET = 65536


def enabled() -> bool:
    return os.environ.get("TREELINE_WARM_WORKERS", "1") != "0"


def start_timeout() -> float:
    """How long a cell waits for the warm process to fork it (its imports included):
    TREELINE_WARM_START_SECONDS, default 600 s."""
    try:
        value = float(os.environ.get("TREELINE_WARM_START_SECONDS", "600"))
    except ValueError:
        return 600.0
    return value if value > 0 else 600.0


class Child:
    """A forked worker as `supervise` uses a Popen: pid, wait(), its own process group."""

    def __init__(self, pid: int, server: WarmServer):
        self.pid, self._server = pid, server
        self.returncode: int | None = None
        self._exited = threading.Event()

    def _set(self, code: int) -> None:
        self.returncode = code
        self._exited.set()

    def wait(self, timeout: float | None = None) -> int:
        if not self._exited.wait(timeout):
            raise subprocess.TimeoutExpired("warm worker child", timeout or 0)
        assert self.returncode is not None
        return self.returncode


class WarmServer:
    """The runner's end of one warm process."""

    def __init__(self, env: dict[str, str], preload: list[str], log_path: Path):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        from treeline.execute.process import launch

        with open(log_path, "a") as log:
            # Killed with the runner at any stage, even stuck importing (launch); a runner
            # that closes its end of the socket stops it and its children too.
            self.proc = launch(
                [sys.executable, "-m", "treeline.execute.warm", str(theirs.fileno())],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                pass_fds=(theirs.fileno(),),
            )
        theirs.close()
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(preload).encode())
        self.proc.stdin.close()
        self.sock = ours
        self.preload = set(preload)
        self.lock = threading.Lock()  # one request at a time; answers come in order
        self.children: dict[int, Child] = {}
        self.spawned: list[int] = []
        self.cond = threading.Condition()
        self.dead = False
        threading.Thread(target=self._read, daemon=True, name="warm-worker-reader").start()

    def _read(self) -> None:
        while True:
            try:
                packet = self.sock.recv(_MAX_PACKET)
            except OSError:
                packet = b""
            if not packet:  # the warm process is gone: so are its children
                with self.cond:
                    self.dead = True
                    for child in self.children.values():
                        if child.returncode is None:
                            child._set(-signal.SIGKILL)
                    self.cond.notify_all()
                return
            msg = json.loads(packet)
            with self.cond:
                if "spawned" in msg:
                    pid = msg["spawned"]
                    self.children.setdefault(pid, Child(pid, self))
                    self.spawned.append(pid)
                else:
                    pid, code = msg["exited"], msg["code"]
                    child = self.children.setdefault(pid, Child(pid, self))
                    child._set(code)
                self.cond.notify_all()

    def alive(self) -> bool:
        return not self.dead and self.proc.poll() is None

    def idle(self) -> bool:
        with self.cond:
            return all(c.returncode is not None for c in self.children.values())

    def spawn(self, spec_fd: int, progress_fd: int, log_path: Path, env: dict[str, str]) -> Child:
        request = json.dumps({"log": str(log_path), "env": env}).encode()
        with self.lock:
            with self.cond:
                before = len(self.spawned)
            socket.send_fds(self.sock, [request], [spec_fd, progress_fd])
            with self.cond:
                # It answers once its imports are done: seconds, unless one of them hangs.
                answered = self.cond.wait_for(
                    lambda: len(self.spawned) > before or self.dead, timeout=start_timeout()
                )
                if not answered:
                    self.close()  # a stuck warm process is no use to the cells after this one
                    raise OSError(
                        f"the warm worker did not answer in {start_timeout():g} s (stuck "
                        f"importing a library? its log: {self.log_path})"
                    )
                if self.dead:
                    raise OSError(f"the warm worker process died (its log: {self.log_path})")
                pid = self.spawned[before]
                child = self.children[pid]
        return child

    def close(self, now: bool = False) -> None:
        """Stop the warm process; `now`: kill it at once (a run being stopped does not wait
        for a process stuck in its imports, and its children die with it)."""
        with contextlib.suppress(OSError):
            self.sock.close()
        if self.proc.poll() is None:
            if now:
                self.proc.kill()
                self.proc.wait()
                return
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


_SERVERS: dict[tuple[tuple[str, str], ...], WarmServer] = {}
_LOCK = threading.Lock()
MAX_SERVERS = 4  # thread counts and devices in one run; idle ones beyond are stopped
# What libraries read once, when they load: a warm process serves one set of these. The rest of
# the environment is the child's own, set exactly at the fork.
_LOAD_TIME = ("OMP_", "MKL_", "OPENBLAS_", "NUMEXPR_", "VECLIB_", "KMP_", "GOMP_", "CUDA_")
_LOAD_TIME += ("CUBLAS_", "PYTHON", "LD_", "TORCH")


def spawn(
    env: dict[str, str],
    spec_fd: int,
    progress_fd: int,
    log_path: Path,
    preload: list[str],
    child_env: dict[str, str] | None = None,
) -> Child:
    """Fork a worker from the warm process for `env` (started on first use, with `preload`;
    started again with more when idle and a cell needs modules it has not imported)."""
    from treeline.locate import results_dir

    key = tuple(sorted((k, v) for k, v in env.items() if k.startswith(_LOAD_TIME)))
    with _LOCK:
        server = _SERVERS.get(key)
        if server is not None and (
            not server.alive() or (not set(preload) <= server.preload and server.idle())
        ):
            preload = list(dict.fromkeys([*server.preload, *preload]))
            server.close()
            server = None
        if server is None:
            if not _SERVERS:
                import atexit

                atexit.register(shutdown)
            surplus = max(0, len(_SERVERS) + 1 - MAX_SERVERS)
            for old in [k for k, s in _SERVERS.items() if s.idle()][:surplus]:
                _SERVERS.pop(old).close()
            log = results_dir() / "logs" / f"warm-worker-{os.getpid()}-{len(_SERVERS)}.log"
            server = _SERVERS[key] = WarmServer(env, preload, log)
    return server.spawn(spec_fd, progress_fd, log_path, {**env, **(child_env or {})})


def shutdown(now: bool = False) -> None:
    """Stop every warm process this runner started (also at exit); `now`: kill them, which
    also frees a cell waiting for one stuck in its imports."""
    with _LOCK:
        for server in _SERVERS.values():
            server.close(now)
        _SERVERS.clear()


def preload_modules(contender_paths: list[str], featurizer_paths: list[str]) -> list[str]:
    """What a warm process imports: the worker, and each contender's and featurizer's module
    and libraries."""
    from treeline.catalogue import import_path

    mods = ["numpy", "pandas", "optuna", "treeline.execute.worker", "treeline.execute.tuning"]
    for path in [*contender_paths, *featurizer_paths]:
        mods.append(path.partition(":")[0])
        with contextlib.suppress(Exception):  # a broken module fails its cell, not the server
            mods.extend(getattr(import_path(path), "libraries", ()))
    return list(dict.fromkeys(mods))


def preload_for(cells: list[Any]) -> list[str]:
    """The modules every cell of a run needs: one warm process serves them all."""
    from treeline.contenders import contender_class
    from treeline.featurize import featurizer_class

    contenders = sorted({contender_class(c.contender.name).path() for c in cells})
    featurizers = sorted(
        {featurizer_class(c.contender.featurizer).path() for c in cells if c.contender.featurizer}
    )
    return preload_modules(contenders, featurizers)


# ---- the warm process --------------------------------------------------------------------------


def _serve(sock_fd: int) -> None:
    # Ctrl-C in a terminal reaches the whole foreground group: the runner decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    preload = json.load(sys.stdin)
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception as exc:  # the cell that needs it fails with the real error
            print(f"warm worker: could not preload {name}: {exc}", flush=True)
    sock = socket.socket(fileno=sock_fd)
    children: set[int] = set()
    while True:
        ready, _, _ = select.select([sock], [], [], 0.05 if children else None)
        if ready:
            try:
                packet, fds, _, _ = socket.recv_fds(sock, _MAX_PACKET, 2)
            except OSError:
                packet, fds = b"", []
            if not packet:  # the runner closed its end: stop, children go with us
                for pid in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pid, signal.SIGKILL)
                return
            request = json.loads(packet)
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                _child(sock, fds[0], fds[1], request)  # never returns
            for fd in fds:
                os.close(fd)
            children.add(pid)
            sock.send(json.dumps({"spawned": pid}).encode())
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            children.discard(pid)
            sock.send(json.dumps({"exited": pid, "code": _code(status)}).encode())


def _code(status: int) -> int:
    """As Popen.returncode: the exit code, or minus the signal that killed it."""
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _child(sock: socket.socket, spec_fd: int, progress_fd: int, request: dict[str, Any]) -> None:
    code = 1
    try:
        sock.close()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.setsid()  # its own process group: the runner kills the cell with everything it started
        from treeline.execute.process import die_with_parent

        die_with_parent()  # the warm process is the parent now
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.environ.clear()  # the cell's environment exactly, not the warm process's
        os.environ.update(request["env"])
        from treeline.execute import measure, worker

        measure.fork_baseline()
        code = worker.serve(os.fdopen(spec_fd), progress_fd)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
