"""Runs one cell in a fresh worker process under a deadline: where the budget is enforced.

The worker starts its budget clock once its data is loaded (it tells us); from then on it has
`budget + grace` seconds to finish tuning, else it is killed (SIGKILL to its process group) and
the cell is recorded as `timeout`. Contenders stop themselves at the budget; the grace only
catches one that does not. A worker that dies without a result is `failed` (or `oom` when the
kernel killed it).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from treeline.cell import Cell
from treeline.measure import cost_usd
from treeline.runner_profile import RunnerProfile

LOAD_TIMEOUT = 1800.0  # data loading is not budgeted, but a hung load must still end
STATUSES = ("ok", "failed", "timeout", "oom", "skipped")


def grace_seconds(budget: float) -> float:
    """How far past its budget a worker may run before it is killed."""
    return max(5.0, 0.2 * budget)


def scoring_timeout(budget: float) -> float:
    return max(120.0, budget)


@dataclass
class CellResult:
    status: str
    error: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    anytime: list[dict[str, float]] = field(default_factory=list)
    trial_errors: list[str] = field(default_factory=list)
    metric: str = ""
    wall_seconds: float = 0.0
    log_path: Path | None = None


def skip_reason(cell: Cell, profile: RunnerProfile) -> str | None:
    """Why this cell cannot run here (absent device, unsupported device), or None."""
    from treeline.contenders import get_info

    info = get_info(cell.contender)
    if profile.device not in info.devices:
        note = f": {info.device_note}" if info.device_note else ""
        return f"contender '{cell.contender}' does not run on {profile.device}{note}"
    return profile.unavailable_reason()


def worker_env(profile: RunnerProfile) -> dict[str, str]:
    threads = str(profile.resolved_threads())
    env = dict(os.environ)
    for var in (
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
    ):
        env[var] = threads
    if profile.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # a CPU runner must not quietly use a GPU
    env["PYTHONUNBUFFERED"] = "1"
    return env


def execute(cell: Cell, profile: RunnerProfile, log_path: Path) -> CellResult:
    """Run `cell` on `profile` in a worker process; never raises for the cell's own failures."""
    reason = skip_reason(cell, profile)
    if reason:
        return CellResult("skipped", error=reason)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    from treeline.contenders import get_info

    info = get_info(cell.contender)
    spec = {
        "cell": cell.to_json(),
        "device": profile.device,
        "threads": profile.resolved_threads(),
        "contender_module": info.module,
        "family": info.family,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
        spec_path = f.name
    read_fd, write_fd = os.pipe()
    started = time.perf_counter()
    try:
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "treeline.worker", spec_path, str(write_fd)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=worker_env(profile),
                pass_fds=(write_fd,),
                start_new_session=True,
            )
            os.close(write_fd)
            result = _supervise(proc, read_fd, cell)
    finally:
        os.close(read_fd)
        Path(spec_path).unlink(missing_ok=True)
    result.wall_seconds = time.perf_counter() - started
    result.log_path = log_path
    result.metrics["cost_usd"] = cost_usd(result.wall_seconds, profile.price_per_hour)
    result.metrics["wall_seconds"] = result.wall_seconds
    if result.status in ("failed", "oom") and not result.error:
        result.error = _log_tail(log_path)
    return result


def _supervise(proc: subprocess.Popen, read_fd: int, cell: Cell) -> CellResult:
    buffer = b""
    phase, deadline = "loading", time.monotonic() + LOAD_TIMEOUT
    loaded_at = 0.0
    data_seconds = 0.0
    final: dict[str, Any] | None = None
    while True:
        timeout = max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([read_fd], [], [], min(timeout, 1.0))
        if ready:
            chunk = os.read(read_fd, 65536)
            if not chunk:  # the worker closed its end: it has exited or is exiting
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                msg = json.loads(line)
                if msg["event"] == "loaded":
                    phase, loaded_at = "tuning", time.monotonic()
                    data_seconds = float(msg["data_seconds"])
                    deadline = loaded_at + cell.budget + grace_seconds(cell.budget)
                elif msg["event"] == "tuned":
                    phase = "scoring"
                    deadline = time.monotonic() + scoring_timeout(cell.budget)
                elif msg["event"] in ("result", "error"):
                    final = msg
        elif time.monotonic() >= deadline:
            _kill(proc)
            elapsed = time.monotonic() - loaded_at if loaded_at else 0.0
            metrics = {"data_seconds": data_seconds}
            if phase == "tuning":
                metrics.update(fit_seconds=elapsed, overrun_seconds=elapsed - cell.budget)
                error = (
                    f"killed: tuning ran {elapsed:.1f} s, past its budget of "
                    f"{cell.budget:g} s plus {grace_seconds(cell.budget):g} s grace"
                )
            else:
                error = f"killed: {phase} did not finish in time"
            return CellResult("timeout", error=error, metrics=metrics)
    code = proc.wait()
    if final is not None and final["event"] == "result":
        r = final["result"]
        return CellResult(
            "ok",
            metrics=r["metrics"],
            params=r["params"],
            anytime=r["anytime"],
            trial_errors=r["trial_errors"],
            metric=r["metric"],
        )
    if final is not None:
        status = "oom" if final.get("reason") == "oom" else "failed"
        return CellResult(status, error=final["error"])
    if code == -signal.SIGKILL:
        return CellResult(
            "oom", error="worker killed by SIGKILL (most likely the kernel's out-of-memory killer)"
        )
    return CellResult("failed", error=f"worker exited with code {code} and no result")


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL it when the parent dies (Linux), so a killed
    `treeline run` leaves no orphan worker competing for the cores."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
