"""Runs one cell in a fresh worker process and kills it at the limits budget.py sets.

The worker starts its budget clock once its data is loaded (it tells us); from then on it has
`budget + grace` seconds to finish tuning, else it is killed (SIGKILL to its process group) and
the cell is recorded as `timeout`. Contenders stop themselves at the budget; the grace only
catches one that does not. A worker that dies without a result is `failed` (or `oom` when the
kernel killed it).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from treeline.config.runner_profile import RunnerProfile
from treeline.errors import TreelineError
from treeline.execute import warm
from treeline.execute.budget import CPU_CLOCK_SLACK, SCORE_CHUNK_ROWS
from treeline.execute.cell import Cell
from treeline.execute.events import Event
from treeline.execute.measure import OomCounts, cost_usd, oom_counts, oom_killed
from treeline.execute.predictions import path_beside
from treeline.execute.process import launch
from treeline.execute.result import AnytimePoint, CellResult, Measurements
from treeline.execute.schedule import TrialRecord


def skip_reason(cell: Cell, profile: RunnerProfile) -> str | None:
    """Why this cell cannot run here (absent device, unsupported device), or None."""
    from treeline.contenders import contender_class

    cls = contender_class(cell.contender.name)
    if profile.device not in cls.devices:
        note = f": {cls.device_note}" if cls.device_note else ""
        return f"contender '{cell.contender.name}' does not run on {profile.device}{note}"
    if cell.contender.featurizer:
        from treeline.featurize import featurizer_class

        f = featurizer_class(cell.contender.featurizer)
        if (why := f.unsupported(cell.contender.featurize, profile.device)) is not None:
            return f"featurizer '{f.name}': {why}"
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


def execute(
    cell: Cell,
    profile: RunnerProfile,
    log_path: Path,
    replay: list[TrialRecord] | None = None,
    preload: list[str] | None = None,
    gpu: str | None = None,
    cancel: threading.Event | None = None,
) -> CellResult:
    """Run `cell` on `profile` in a worker process; never raises for the cell's own failures.
    With `replay`, the worker runs that recorded schedule instead of tuning to the clock.
    `preload`: the modules a warm worker imports once (default: this cell's). `gpu`: the one
    GPU the worker sees. `cancel`: once set, the worker is killed and `Cancelled` raised."""
    reason = skip_reason(cell, profile)
    if reason:
        return CellResult(cell, "skipped", error=reason)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    from treeline.contenders import contender_class
    from treeline.featurize import featurizer_class

    spec = {
        "cell": cell.to_json(),
        "contender": contender_class(cell.contender.name).path(),
        "featurizer": featurizer_class(cell.contender.featurizer).path()
        if cell.contender.featurizer
        else None,
        "replay": None if replay is None else [asdict(t) for t in replay],
        "predictions": str(path_beside(log_path)),
    }
    path_beside(log_path).unlink(missing_ok=True)  # never an earlier attempt's
    read_fd, write_fd = os.pipe()
    started = time.perf_counter()
    started_at = time.time()
    oom_before = oom_counts()
    proc: subprocess.Popen | warm.Child | None = None
    try:
        with open(log_path, "w") as log:
            own_env = {"CUDA_VISIBLE_DEVICES": gpu} if gpu is not None else {}
            result: CellResult | None = None
            if warm.enabled():
                try:
                    proc = _fork_warm(spec, profile, log_path, write_fd, preload, own_env)
                except OSError as exc:  # the cell never started: it fails, the suite goes on
                    result = CellResult(cell, "failed", error=f"could not start the cell: {exc}")
            else:
                # The spec goes through stdin: no temporary file to leak when we are killed.
                proc = launch(
                    [sys.executable, "-m", "treeline.execute.worker", "-", str(write_fd)],
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**worker_env(profile), **own_env},
                    pass_fds=(write_fd,),
                    start_new_session=True,
                )
                os.close(write_fd)
                assert proc.stdin is not None
                with contextlib.suppress(BrokenPipeError):  # a worker dead at start says why below
                    proc.stdin.write(json.dumps(spec).encode())
                    proc.stdin.close()
            if result is None:
                result = _supervise(proc, read_fd, cell, replay is not None, oom_before, cancel)
    except BaseException:  # Ctrl-C, a kill of ours: the worker in flight goes with us
        if proc is not None:
            _kill(proc)
        raise
    finally:
        os.close(read_fd)
    m = result.measurements
    m.wall_seconds = time.perf_counter() - started
    result.started_at, result.ended_at = started_at, time.time()
    if result.status == "ok":
        # What a practitioner pays for: training (featurizing included) and predicting, in
        # wall seconds whatever the budget's clock counted.
        fit = m.fit_seconds if math.isnan(m.fit_wall_seconds) else m.fit_wall_seconds
        paid = fit + m.predict_seconds
        m.overhead_seconds = max(0.0, m.wall_seconds - paid)
    else:  # no model came out: the whole worker's time was spent for nothing
        paid = m.wall_seconds
    m.cost_usd = cost_usd(paid, profile.price_per_hour)
    result.log_path = log_path
    if result.status == "ok" and path_beside(log_path).exists():
        result.predictions = path_beside(log_path)
    if result.status in ("failed", "oom") and not result.error:
        result.error = _log_tail(log_path)
    if result.status == "failed":
        full = full_disk(result.error, log_path)
        if full:
            raise DiskFull(
                f"{full} while {cell.id} ran: the cell was not recorded (a full disk is not the "
                "contender's failure). Free some space and run the same command again."
            )
    return result


class DiskFull(TreelineError):
    """A cell failed because a disk it writes to filled up: the run stops, nothing recorded."""


FULL_BELOW = 16 * 2**20  # free bytes under which a worker's unexplained death is the disk's


def full_disk(error: str, log_path: Path) -> str | None:
    """'the disk of FOLDER is full (… free)' when a cell's failure is a full disk: the error
    says so (ENOSPC), or the worker died with the results or cache disk all but full."""
    from treeline.locate import cache_dir, results_dir

    said = "Errno 28" in error or "No space left on device" in error
    for folder in (log_path.parent, results_dir(), cache_dir()):
        for p in (folder, *folder.parents):
            try:
                st = os.statvfs(p)
            except OSError:
                continue
            free = st.f_bavail * st.f_frsize
            if free < FULL_BELOW or said:
                return f"the disk of {folder} is full ({free / 2**20:.1f} MiB free)"
            break
    return None


def _fork_warm(
    spec: dict[str, Any],
    profile: RunnerProfile,
    log_path: Path,
    write_fd: int,
    preload: list[str] | None,
    own_env: dict[str, str],
) -> warm.Child:
    """A child of the warm worker for this runner's environment; the spec through a pipe."""
    spec_r, spec_w = os.pipe()
    try:
        modules = preload or warm.preload_modules(
            [spec["contender"]], [spec["featurizer"]] if spec["featurizer"] else []
        )
        child = warm.spawn(worker_env(profile), spec_r, write_fd, log_path, modules, own_env)
    except BaseException:
        os.close(spec_w)
        raise
    finally:
        os.close(spec_r)
        os.close(write_fd)
    with open(spec_w, "w") as pipe, contextlib.suppress(BrokenPipeError):
        pipe.write(json.dumps(spec))
    return child


class Cancelled(Exception):
    """The run was cancelled while this cell was in flight; its worker is gone."""


def _supervise(
    proc: subprocess.Popen | warm.Child,
    read_fd: int,
    cell: Cell,
    replay: bool,
    oom_before: OomCounts,
    cancel: threading.Event | None = None,
) -> CellResult:
    buffer = b""
    budget = cell.budget
    phase, deadline = "loading", time.monotonic() + budget.kill_after("loading")
    loaded_at = 0.0
    paused = 0.0  # seconds the budget clock stood still (anytime test scoring)
    tuning_deadline, in_pause = deadline, False
    data_seconds = 0.0
    final: dict[str, Any] | None = None
    while True:
        if cancel is not None and cancel.is_set():
            raise Cancelled(cell.id)  # execute() kills the worker on the way out
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
                if msg["event"] == Event.LOADED:
                    phase, loaded_at = "tuning", time.monotonic()
                    data_seconds = float(msg["data_seconds"])
                    deadline = loaded_at + budget.kill_after("tuning", replay, cell.clock)
                elif msg["event"] == Event.PAUSE and phase == "tuning":
                    # Scoring a new best on test (the budget clock stands still): the tuning
                    # deadline waits, and the scoring has the scoring phase's own limit.
                    tuning_deadline, in_pause = deadline, True
                    deadline = time.monotonic() + budget.kill_after("scoring")
                elif msg["event"] == Event.RESUME and phase == "tuning":
                    paused, in_pause = paused + float(msg["seconds"]), False
                    deadline = tuning_deadline + float(msg["seconds"])
                elif msg["event"] == Event.SCORED and (in_pause or phase == "scoring"):
                    # A chunk of test rows is done: the scoring limit starts again for the next.
                    deadline = time.monotonic() + budget.kill_after("scoring")
                elif msg["event"] == Event.TUNED:
                    phase = "scoring"
                    deadline = time.monotonic() + budget.kill_after("scoring")
                elif msg["event"] in (Event.RESULT, Event.ERROR):
                    final = msg
        elif time.monotonic() >= deadline:
            _kill(proc)
            elapsed = time.monotonic() - loaded_at - paused if loaded_at else 0.0
            m = Measurements(data_seconds=data_seconds)
            stalled = (
                f"predicting a chunk of {SCORE_CHUNK_ROWS:,} test rows took over "
                f"{budget.scoring_timeout:g} s"
            )
            if in_pause:
                error = f"killed: scoring a new best model on test, {stalled}"
            elif phase == "tuning" and replay:
                error = f"killed: the replay ran past {budget.replay_timeout:g} s"
            elif phase == "tuning":
                if cell.clock == "cpu":  # its budget clock is not this one: no fit seconds
                    error = (
                        f"killed: tuning ran {elapsed:.1f} wall seconds, "
                        f"{CPU_CLOCK_SLACK:g} × its budget of {budget.seconds:g} CPU seconds "
                        f"per thread plus {budget.grace:g} s grace (clock: cpu)"
                    )
                else:
                    m.update(fit_seconds=elapsed, overrun_seconds=elapsed - budget.seconds)
                    error = (
                        f"killed: tuning ran {elapsed:.1f} s, past its budget of "
                        f"{budget.seconds:g} s plus {budget.grace:g} s grace"
                    )
            elif phase == "scoring":
                error = f"killed: test scoring, {stalled}"
            else:
                error = f"killed: {phase} did not finish in time"
            return CellResult(cell, "timeout", error=error, measurements=m)
    code = proc.wait()
    if final is not None and final["event"] == Event.RESULT:
        r = final["result"]
        return CellResult(
            cell,
            "ok",
            metric=r["metric"],
            measurements=Measurements(**{**r["measurements"], "curve_scoring_seconds": paused}),
            params=r["params"],
            anytime=[AnytimePoint(**p) for p in r["anytime"]],
            trial_errors=r["trial_errors"],
            schedule=[TrialRecord(**t) for t in r["schedule"]],
            data_notes=r.get("data_notes", []),
        )
    if final is not None and final.get("reason") == "cache":
        from treeline.data.cache_check import CacheDamaged

        raise CacheDamaged(f"{final['error']}; {cell.id} was not recorded")
    if final is not None:
        reason = final.get("reason")
        status = reason if reason in ("oom", "skipped") else "failed"
        return CellResult(cell, status, error=final["error"])
    if code == -signal.SIGKILL:
        return _killed(cell, proc.pid, oom_before)
    if code < 0:
        name = signal.Signals(-code).name
        return CellResult(cell, "failed", error=f"worker killed by {name} from outside")
    return CellResult(cell, "failed", error=f"worker exited with code {code} and no result")


def _killed(cell: Cell, pid: int, before: OomCounts) -> CellResult:
    """A SIGKILL is an out-of-memory kill only if the kernel's OOM killer killed this worker
    (its log names the pid, or its memory cgroup counted one) — not any process elsewhere."""
    oom, how = oom_killed(pid, before)
    if oom:
        return CellResult(cell, "oom", error=f"worker killed for memory by the kernel ({how})")
    if oom is None:
        return CellResult(
            cell, "failed", error=f"worker killed by SIGKILL; whether for memory is unknown ({how})"
        )
    return CellResult(cell, "failed", error=f"worker killed by SIGKILL from outside ({how})")


def _kill(proc: subprocess.Popen | warm.Child) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):  # a forked child not yet in its own group
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _log_tail(path: Path) -> str:
    """The log's last meaningful line: a reason on one line, the whole log beside it."""
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines()]
    except OSError:
        return ""
    lines = [ln for ln in lines if ln and not ln.startswith(("[bt]", "File ", "^"))]
    return lines[-1][:500] if lines else ""
