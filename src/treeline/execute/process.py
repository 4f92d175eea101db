"""Processes Treeline starts (workers, warm workers, the MLflow UI) die with the process that
started them: a killed `treeline run` leaves nothing behind competing for the cores."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
from concurrent.futures import Future
from typing import Any


def die_with_parent() -> None:
    """In the child, before exec: SIGKILL it when the parent dies (Linux), so a killed
    `treeline run` leaves no orphan worker competing for the cores."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


_requests: queue.SimpleQueue[tuple[list[str], dict[str, Any], Future[subprocess.Popen]]]
_requests = queue.SimpleQueue()
_launcher: threading.Thread | None = None
_lock = threading.Lock()


def launch(args: list[str], **popen: Any) -> subprocess.Popen:
    """`subprocess.Popen(args, **popen)`, the child killed when this process dies — at any
    stage, even stuck in its imports or stopped. Linux sends the parent-death signal when the
    *thread* that forked the child ends, so every child is forked by one thread that lives as
    long as the process, never by a pool thread the pool may retire."""
    global _launcher
    with _lock:
        if _launcher is None:
            _launcher = threading.Thread(target=_launch_forever, daemon=True, name="launcher")
            _launcher.start()
    done: Future[subprocess.Popen] = Future()
    _requests.put((args, popen, done))
    return done.result()


def _launch_forever() -> None:
    while True:
        args, popen, done = _requests.get()
        try:
            done.set_result(subprocess.Popen(args, preexec_fn=die_with_parent, **popen))
        except BaseException as exc:  # the caller's error, raised in the caller's thread
            done.set_exception(exc)
