"""Cells in real worker processes: ok, timeout (killed), crash, killed from outside, no trial,
skipped."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import fault_contenders
import pytest
from design_names import METRICS

from treeline.config.runner_profile import get_runner
from treeline.contenders import catalogue, contender_class
from treeline.data import DatasetRef
from treeline.execute.budget import Budget
from treeline.execute.cell import Cell, ContenderSpec
from treeline.execute.supervise import execute
from treeline.record.schema import metrics

HERE = Path(__file__).parent


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the misbehaving contenders; workers find their module on PYTHONPATH."""
    for cls in (
        fault_contenders.Hang,
        fault_contenders.Crash,
        fault_contenders.Killed,
        fault_contenders.AlwaysRaises,
        fault_contenders.SlowTestScoring,
        fault_contenders.SlowTestRows,
        fault_contenders.HungTestScoring,
        fault_contenders.Hog,
        fault_contenders.AddressSpace,
        fault_contenders.KilledLater,
    ):
        monkeypatch.setitem(catalogue(), cls.name, cls)
    path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", path)


def cell(
    contender: str,
    budget: float = 1.0,
    runner: str = "cpu",
    n: int = 300,
    max_trials: int | None = None,
) -> Cell:
    p = get_runner(runner)
    return Cell(
        suite="t",
        dataset=DatasetRef(label="adult", name="adult"),
        modality="tabular",
        task="binary",
        n=n,
        contender=ContenderSpec(contender),
        family=contender_class(contender).family,
        runner=runner,
        device=p.device,
        threads=p.resolved_threads(),
        gpu=p.gpu,
        price_per_hour=p.price_per_hour,
        price_source="test",
        seed=0,
        budget=Budget(budget),
        max_trials=max_trials,
    )


def test_ok_cell_reports_every_design_metric(tmp_path: Path) -> None:
    r = execute(cell("xgboost"), get_runner("cpu"), tmp_path / "c.log")
    assert r.status == "ok", r.error
    assert {*METRICS, "test_accuracy"} <= set(metrics(r))
    assert r.measurements.test_score > r.measurements.baseline_test_score
    assert r.measurements.peak_rss_mb > 50 and r.measurements.peak_vram_mb == 0
    assert r.measurements.cost_usd > 0 and r.measurements.overhead_seconds > 0
    assert r.measurements.overrun_seconds < 0.05 * 1.0 + 1
    assert r.anytime and r.params and r.metric == "accuracy"
    # The log is the worker's account: data, a line per trial, the tuning, the test score.
    log = (tmp_path / "c.log").read_text().splitlines()
    assert log[0].startswith("data: adult, n=")
    trials = [ln for ln in log if ln.startswith("trial ")]
    assert len(trials) == r.measurements.n_trials and "rounds" in trials[0]
    assert any(ln.startswith("tuned: ") for ln in log) and log[-1].startswith("test: accuracy")


def test_test_scoring_with_the_clock_paused_moves_the_kill_deadline(
    tmp_path: Path, faults: None
) -> None:
    """Every new best is scored on test with the budget clock paused (the anytime curve); a slow
    test set (5.5 s a time, past the 5 s grace) must not get the worker killed for it."""
    r = execute(cell("slow-test-scoring", budget=1.0), get_runner("cpu"), tmp_path / "c.log")
    assert r.status == "ok", r.error
    assert len(r.anytime) >= 1 and r.measurements.fit_seconds < Budget(1.0).limit


def test_a_large_test_set_is_scored_in_chunks_each_under_the_scoring_limit(
    tmp_path: Path, faults: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scoring limit bounds one chunk of test rows, not the whole test set: 3.3 s of test
    predictions in chunks of 2,048 rows (1 s each) pass a 1.6 s limit; one call did not."""
    monkeypatch.setattr(Budget, "scoring_timeout", property(lambda self: 1.6))
    r = execute(cell("slow-test-rows", budget=0.5), get_runner("cpu"), tmp_path / "c.log")
    assert r.status == "ok", r.error
    assert r.measurements.predict_seconds > 3.0
    # A chunk that never returns is still killed at the limit, and the error says what hung.
    r = execute(cell("hung-test-scoring", budget=0.5), get_runner("cpu"), tmp_path / "h.log")
    assert r.status == "timeout"
    assert "predicting a chunk of 2,048 test rows took over 1.6 s" in r.error


def test_a_worker_that_ignores_its_deadline_is_killed(tmp_path: Path, faults: None) -> None:
    r = execute(cell("hang", budget=1.0), get_runner("cpu"), tmp_path / "c.log")
    assert r.status == "timeout"
    assert "past its budget of 1 s plus 5 s grace" in r.error
    assert Budget(1.0).limit <= r.measurements.fit_seconds < Budget(1.0).limit + 2


def test_a_crashed_worker_is_a_failed_cell(tmp_path: Path, faults: None) -> None:
    r = execute(cell("crash"), get_runner("cpu"), tmp_path / "c.log")
    assert r.status == "failed" and "exited with code 3" in r.error


def test_a_worker_killed_from_outside_is_not_called_an_oom_kill(
    tmp_path: Path, faults: None
) -> None:
    r = execute(cell("killed"), get_runner("cpu"), tmp_path / "c.log")
    assert r.status == "failed", r
    assert "SIGKILL from outside" in r.error


def test_memory_error_under_an_address_space_limit_is_oom(tmp_path: Path, faults: None) -> None:
    """`ulimit -v` makes an allocation raise MemoryError: that is running out of memory, and
    was recorded `failed`."""
    r = execute(cell("address-space"), get_runner("cpu"), tmp_path / "c.log")
    assert r.status == "oom", r


class MemoryCgroup:
    """A real memory cgroup (v1 or v2) under this process's own, with a limit: processes put
    in it are OOM-killed by the kernel when they pass it."""

    def __init__(self, limit: int):
        import uuid

        self.path: Path | None = None
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, rel = line.split(":", 2)
            if "memory" in controllers.split(","):
                base = Path("/sys/fs/cgroup/memory") / rel.lstrip("/")
                limit_file = "memory.limit_in_bytes"
            elif controllers == "" and (Path("/sys/fs/cgroup") / rel.lstrip("/")).is_dir():
                base, limit_file = Path("/sys/fs/cgroup") / rel.lstrip("/"), "memory.max"
            else:
                continue
            path = base / f"treeline-test-{uuid.uuid4().hex[:8]}"
            try:
                path.mkdir()
                (path / limit_file).write_text(str(limit))
                for swap in ("memory.memsw.limit_in_bytes", "memory.swap.max"):
                    if (path / swap).exists():
                        with contextlib.suppress(OSError):
                            (path / swap).write_text(str(limit) if "memsw" in swap else "0")
            except OSError as exc:
                with contextlib.suppress(OSError):
                    path.rmdir()
                pytest.skip(f"cannot make a memory cgroup here: {exc}")
            self.path = path
            return
        pytest.skip("no memory cgroup controller here")

    def preexec(self) -> None:
        assert self.path is not None
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def remove(self) -> None:
        if self.path is not None:
            for _ in range(50):
                try:
                    self.path.rmdir()
                    return
                except OSError:
                    time.sleep(0.1)


def test_an_oom_kill_elsewhere_does_not_make_a_killed_cell_oom(
    tmp_path: Path, faults: None
) -> None:
    """A cell killed from outside was recorded `oom` whenever any process on the machine was
    OOM-killed meanwhile (the machine-wide /proc/vmstat count): here another process is, in a
    memory cgroup of its own, while the cell's worker is killed by SIGKILL."""
    import subprocess
    import sys

    group = MemoryCgroup(200 * 2**20)
    try:
        hog = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(1.5); x = bytearray(2**30)"],
            preexec_fn=group.preexec,
        )
        r = execute(cell("killed-later"), get_runner("cpu"), tmp_path / "c.log")
        hog.wait(timeout=60)
    finally:
        group.remove()
    assert hog.returncode == -9, "the other process was not OOM-killed"
    assert r.status == "failed" and "SIGKILL from outside" in r.error, r


def test_an_oom_kill_of_the_worker_is_oom(tmp_path: Path, faults: None) -> None:
    """The cell's own worker passes its memory limit and the kernel kills it: `oom`, known
    from the kernel log's pid (or the cgroup's count)."""
    import subprocess
    import sys

    script = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
        "import test_execute as t, fault_contenders as f; "
        "from treeline.contenders import catalogue; catalogue()['hog'] = f.Hog; "
        "from treeline.config.runner_profile import get_runner; "
        "r = t.execute(t.cell('hog'), get_runner('cpu'), Path(sys.argv[2])); "
        "print(r.status, '|', r.error)"
    )
    group = MemoryCgroup(1536 * 2**20)
    try:
        out = subprocess.run(
            [sys.executable, "-c", script, str(HERE), str(tmp_path / "c.log")],
            preexec_fn=group.preexec,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        group.remove()
    assert out.stdout.startswith("oom |"), out.stdout + out.stderr[-2000:]


def test_no_successful_trial_fails_the_cell_with_the_reason(tmp_path: Path, faults: None) -> None:
    r = execute(cell("always-raises"), get_runner("cpu"), tmp_path / "c.log")
    assert r.status == "failed" and "bad configuration" in r.error


def test_a_warm_worker_stuck_in_an_import_fails_the_cell_not_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The warm process answers once its imports are done; one that never does fails the cell
    in flight with the reason after TREELINE_WARM_START_SECONDS, and is stopped."""
    import time

    from treeline.execute import warm

    (tmp_path / "hangs_on_import.py").write_text("import time\ntime.sleep(3600)\n")
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", path)  # also a warm worker of its own: a load-time variable
    monkeypatch.setenv("TREELINE_WARM_START_SECONDS", "3")
    started = time.monotonic()
    try:
        r = execute(
            cell("xgboost"), get_runner("cpu"), tmp_path / "c.log", preload=["hangs_on_import"]
        )
        stuck = [s for s in warm._SERVERS.values() if "hangs_on_import" in s.preload]
        assert stuck and all(s.proc.poll() is not None for s in stuck), "left running"
    finally:
        warm.shutdown()
    assert r.status == "failed", r
    assert "the warm worker did not answer in 3 s" in r.error, r.error
    assert time.monotonic() - started < 30


def test_absent_device_and_unsupported_device_are_skipped(tmp_path: Path) -> None:
    t4 = get_runner("t4")
    if t4.unavailable_reason() is None:
        pytest.skip("this machine has a T4")
    r = execute(cell("xgboost", runner="t4"), t4, tmp_path / "c.log")
    assert r.status == "skipped" and "needs a CUDA GPU" in r.error
    r = execute(cell("lightgbm", runner="t4"), t4, tmp_path / "c.log")
    assert r.status == "skipped" and "does not run on cuda" in r.error


_ORPHAN = """
import sys
sys.path.insert(0, {here!r})
import fault_contenders
from pathlib import Path
from test_execute import cell
from treeline.config.runner_profile import get_runner
from treeline.contenders import catalogue
from treeline.execute.supervise import execute

catalogue()["hang"] = fault_contenders.Hang
try:
    execute(cell("hang", budget=600.0), get_runner("cpu"), Path({log!r}))
except KeyboardInterrupt:  # a caller that lives on (a pytest session, a notebook)
    import time

    time.sleep(60)
"""


def _descendants(pid: int) -> list[int]:
    """The warm worker a parent started and the cell's worker it forked (children first)."""
    out = []
    for p in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            out.append(int(p.name))
    return out + [d for child in out for d in _descendants(child)]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state


@pytest.mark.parametrize(
    ("how", "signame"),
    [("parent", "SIGKILL"), ("parent", "SIGINT"), ("group", "SIGINT"), ("parent", "SIGTERM")],
)
def test_a_worker_dies_with_its_parent(tmp_path: Path, how: str, signame: str) -> None:
    """However the parent ends (killed, interrupted alone or with its process group,
    terminated), the worker in flight — here a hung one — is gone within 2 s: nothing is left
    competing for the cores. The warm worker it was forked from goes with the parent."""
    import signal
    import subprocess
    import sys
    import time

    script = _ORPHAN.format(here=str(HERE), log=str(tmp_path / "c.log"))
    path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": path},
        start_new_session=True,  # its own process group, as a shell gives a command
        stderr=subprocess.DEVNULL,
        # As from a terminal: a test run started in the background inherits SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        workers: list[int] = []
        for _ in range(600):  # up to 60 s for the warm worker and the cell's child to start
            workers = _descendants(parent.pid)
            if len(workers) == 2:
                break
            time.sleep(0.1)
        assert len(workers) == 2, "the warm worker and the cell's worker never started"
        time.sleep(2)  # into its endless fit
        assert all(_alive(w) for w in workers)
        sig = getattr(signal, signame)
        if how == "group":
            os.killpg(parent.pid, sig)
        else:
            parent.send_signal(sig)
        time.sleep(2)  # the parent may live on (SIGINT): the cell's worker must not
        warm, worker = workers
        assert not _alive(worker), f"worker alive 2 s after {signame} to the {how}"
        if parent.poll() is not None:  # and with its parent gone, the warm worker is gone too
            assert not _alive(warm), f"warm worker alive 2 s after {signame} to the {how}"
        else:  # a caller that lives on keeps its warm worker, idle
            assert not _descendants(warm)
    finally:
        parent.kill()


def test_a_trial_cap_ends_the_cell_before_its_budget(tmp_path: Path) -> None:
    r = execute(cell("xgboost", budget=60.0, max_trials=2), get_runner("cpu"), tmp_path / "c.log")
    assert r.status == "ok", r.error
    assert r.measurements.n_trials == 2 and len(r.schedule) == 2
    assert r.measurements.fit_seconds < 30
