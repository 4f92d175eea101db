"""Stopping a run: Ctrl-C twice, a warm worker stuck in its imports, a runner killed with
`kill -9` at start-up. Whatever the worker is doing, the run ends within seconds, exits 128 +
the signal without a traceback, and leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from cells import a_cell

SUITE = """\
name: stops
description: one cell, long enough to be stopped in
budget: 20
seeds: [0]
datasets:
  - name: adult
    n: [300]
contenders: [xgboost]
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    kids = [int(p) for p in out.split()]
    return kids + [d for k in kids for d in _descendants(k)]


@pytest.mark.parametrize("after", [2.0, 5.0])  # starting the cell; mid-cell
def test_ctrl_c_twice_exits_130_without_a_traceback(tmp_path: Path, after: float) -> None:
    """Ctrl-C reaches the whole foreground group, and people press it twice: the second one
    landed in interpreter shutdown (`Exception ignored in atexit callback … KeyboardInterrupt`,
    exit -2). Now: exit 130, no traceback, no process left."""
    suite = tmp_path / "stops.yaml"
    suite.write_text(SUITE)
    env = {**os.environ, "TREELINE_RESULTS": str(tmp_path / "res")}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "treeline", "run", str(suite)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, as a terminal's foreground job
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(after)
    family = [proc.pid, *_descendants(proc.pid)]
    for gap in (0.0, 0.05, 0.3):  # three presses: the last lands while it stops or exits
        time.sleep(gap)
        try:
            os.killpg(proc.pid, signal.SIGINT)
        except ProcessLookupError:
            break
    err = proc.communicate(timeout=30)[1]
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    time.sleep(0.5)
    assert not [p for p in family + _descendants(proc.pid) if _alive(p)]


def _stuck_module(tmp_path: Path) -> dict[str, str]:
    """An environment whose PYTHONPATH has a module that never finishes importing."""
    (tmp_path / "stuck_import.py").write_text("import time\n\ntime.sleep(3600)\n")
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path}


def test_a_runner_killed_while_its_warm_worker_imports_leaves_no_process(tmp_path: Path) -> None:
    """`kill -9` of a runner whose warm worker is stuck importing left that worker alive for
    good (parent 1): it reads the runner's socket only once its imports are done. It is now
    started so that the kernel kills it with the runner, from a pool thread too."""
    runner = tmp_path / "runner.py"
    runner.write_text(
        textwrap.dedent(
            """
            import os, sys, threading, time
            from pathlib import Path
            from treeline.execute import warm

            env = {**os.environ, "PYTHONPATH": sys.argv[1]}
            r, w = os.pipe()
            log = Path(sys.argv[2])
            # From a short-lived thread, as an executor's pool thread starts it.
            t = threading.Thread(
                target=lambda: warm.spawn(env, r, w, log / "cell.log", ["stuck_import"])
            )
            t.start()
            time.sleep(3600)
            """
        )
    )
    env = {**os.environ, "TREELINE_RESULTS": str(tmp_path / "res")}
    proc = subprocess.Popen(
        [sys.executable, str(runner), _stuck_module(tmp_path)["PYTHONPATH"], str(tmp_path)],
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        workers: list[int] = []
        while not workers and time.monotonic() < deadline:
            workers = _descendants(proc.pid)
            time.sleep(0.2)
        assert workers, "the warm worker did not start"
        time.sleep(1.0)  # inside its imports now
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 5
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [w for w in workers if _alive(w)]
    finally:
        for w in _descendants(proc.pid):
            os.kill(w, signal.SIGKILL)
    if left:
        for w in left:
            os.kill(w, signal.SIGKILL)
    assert not left, "the warm worker outlived its runner"


def test_a_stop_does_not_wait_for_a_warm_worker_stuck_importing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cell waiting for a warm worker stuck in its imports made Ctrl-C wait up to 600 s:
    cancelling the executor now kills the warm worker, and the cell's wait ends with it."""
    from treeline.config.runner_profile import get_runner
    from treeline.execute.executors import LocalExecutor

    monkeypatch.setenv("TREELINE_RESULTS", str(tmp_path / "res"))
    monkeypatch.setenv("TREELINE_WARM_START_SECONDS", "60")
    for key, value in _stuck_module(tmp_path).items():
        monkeypatch.setenv(key, value)
    cell = a_cell()
    executor = LocalExecutor(1, [cell])
    executor.preload = [*(executor.preload or []), "stuck_import"]
    future = executor.submit(cell, get_runner("cpu"), tmp_path / "cell.log")
    time.sleep(2)  # the warm worker is importing stuck_import
    assert not future.done()
    started = time.monotonic()
    executor.close(cancel=True)
    took = time.monotonic() - started
    assert future.done() and took < 10, f"the stop waited {took:.0f} s"
