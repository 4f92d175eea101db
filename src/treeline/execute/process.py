"""Processes Treeline starts (workers, warm workers, the MLflow UI) die with the process that
started them: a killed `treeline run` leaves nothing behind competing for the cores."""

from __future__ import annotations

import signal
import sys


def die_with_parent() -> None:
    """In the child, before exec: SIGKILL it when the parent dies (Linux), so a killed
    `treeline run` leaves no orphan worker competing for the cores."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
