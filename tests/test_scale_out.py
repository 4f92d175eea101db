"""Scale-out on one machine: several runners on one suite and one store (claims), cells in
parallel (`--jobs`), and a dead runner's claim expiring. Real `treeline run` processes on a real
SQLite store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

SUITE = """\
name: {name}
description: small cells for several runners at once
budget: {budget}
seeds: [0]
datasets:
  - name: adult
    n: {sizes}
contenders: [{contenders}]
runners: [cpu-1thread]
"""


def write_suite(
    tmp_path: Path,
    name: str,
    sizes: str = "[200, 300, 400]",
    contenders: str = "xgboost, lightgbm",
    budget: float = 1,
) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(SUITE.format(name=name, sizes=sizes, contenders=contenders, budget=budget))
    return path


def treeline(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "treeline", *args],
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def cell_runs(name: str) -> list:
    from mlflow import MlflowClient

    from treeline.record.store import default_tracking_uri

    client = MlflowClient(default_tracking_uri())
    exp = client.get_experiment_by_name(name)
    assert exp is not None
    return [
        r for r in client.search_runs([exp.experiment_id]) if "treeline.kind" not in r.data.tags
    ]


def test_two_runners_on_one_fresh_store_run_each_cell_once(tmp_path: Path) -> None:
    """Started a moment apart on a store that does not exist yet: neither crashes in MLflow's
    schema migration, every cell runs once, and each runner's runs carry its claim."""
    suite = write_suite(tmp_path, "pair")
    first = treeline("run", str(suite))
    time.sleep(0.5)
    second = treeline("run", str(suite))
    outs = [p.communicate(timeout=300)[0] for p in (first, second)]
    for p, out in zip((first, second), outs, strict=True):
        assert p.returncode == 0, out
    runs = cell_runs("pair")
    per_cell = Counter(r.info.run_name for r in runs)
    assert len(per_cell) == 6 and set(per_cell.values()) == {1}, per_cell
    owners = Counter(r.data.tags["treeline.claimed_by"] for r in runs)
    assert len(owners) == 2, f"one runner ran every cell: {owners}"
    # No claim is left behind once both are done.
    from mlflow import MlflowClient

    from treeline.record.store import default_tracking_uri

    left = MlflowClient(default_tracking_uri()).search_registered_models()
    assert not [m.name for m in left if m.name.startswith("treeline-claim")]


def test_a_runner_killed_mid_cell_leaves_a_claim_the_next_run_takes_at_once(
    tmp_path: Path,
) -> None:
    """Killed mid-cell (SIGKILL, no clean-up), a runner leaves its claim in the store; the next
    run on this machine sees its holder's process is gone and takes the cell over without
    waiting out the lease, in a log of its own; the cell is recorded once."""
    suite = write_suite(tmp_path, "killed", sizes="[200]", contenders="xgboost", budget=3)
    dead = treeline("run", str(suite))
    logs = Path(os.environ["TREELINE_RESULTS"]) / "logs" / "killed"
    for _ in range(600):  # until its cell is in flight
        if list(logs.glob("*.log")):
            break
        time.sleep(0.1)
    time.sleep(1)
    os.killpg(dead.pid, signal.SIGKILL)
    dead.wait()
    from mlflow import MlflowClient

    from treeline.record.store import default_tracking_uri

    left = MlflowClient(default_tracking_uri()).search_registered_models()
    assert [m.name.rsplit("-", 1)[1] for m in left] == ["1"], "the killed run's claim"
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "treeline", "run", str(suite)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert time.monotonic() - started < 60, "waited out the 60 s lease"
    assert [r.data.tags["treeline.status"] for r in cell_runs("killed")] == ["ok"]
    assert sorted(p.name for p in logs.glob("*.log")) == [
        "adult__n=200__xgboost__cpu-1thread__s0.attempt-2.log",
        "adult__n=200__xgboost__cpu-1thread__s0.log",
    ]


def test_a_claim_whose_heartbeat_stands_still_expires_after_the_lease(tmp_path: Path) -> None:
    """A claim of a runner on another machine (as far as this one can tell) holds its cell
    until its heartbeat has not changed for the lease, measured on this runner's clock."""
    from mlflow import MlflowClient

    from treeline.config.runner_profile import get_runner
    from treeline.execute.plan import expand
    from treeline.execute.resolve import load_suite
    from treeline.record.store import Tracker

    suite = write_suite(tmp_path, "lease", sizes="[200]", contenders="xgboost", budget=1)
    (cell,) = expand(load_suite(suite), {"cpu-1thread": get_runner("cpu-1thread")})
    tracker = Tracker("lease")
    MlflowClient(tracker.uri).create_registered_model(
        f"treeline-claim-{tracker.experiment_id}-{cell.resume_key}-1",
        tags={"owner": "another-machine:4242:abcd", "heartbeat": "7"},
    )
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "treeline", "run", str(suite)],
        env={**os.environ, "TREELINE_LEASE_SECONDS": "4"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert time.monotonic() - started > 4, "did not wait for the lease"
    assert [r.data.tags["treeline.status"] for r in cell_runs("lease")] == ["ok"]
    logs = Path(os.environ["TREELINE_RESULTS"]) / "logs" / "lease"
    assert [p.name for p in logs.glob("*.log")] == [
        "adult__n=200__xgboost__cpu-1thread__s0.attempt-2.log"
    ]


def _spans(runs: list) -> dict[str, tuple[float, float]]:
    """Each cell's worker, start to end (the run's start and end times are the worker's)."""
    return {r.info.run_name: (r.info.start_time / 1000, r.info.end_time / 1000) for r in runs}


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return min(a[1], b[1]) - max(a[0], b[0])


def test_jobs_runs_one_thread_cells_side_by_side_and_never_more_threads_than_cores(
    tmp_path: Path,
) -> None:
    """`--jobs 2` on one- and all-core cells: the two one-thread cells run at the same time;
    a cell with every core (runner `cpu`) runs alone, and the run says so up front."""
    from treeline.execute.executors import usable_cores

    if usable_cores() < 2:
        pytest.skip("one usable core: two one-thread cells cannot run side by side here")
    path = tmp_path / "jobs.yaml"
    path.write_text(
        SUITE.format(name="jobs", sizes="[200, 300]", contenders="xgboost", budget=2).replace(
            "runners: [cpu-1thread]", "runners: [cpu-1thread, cpu]"
        )
    )
    out = subprocess.run(
        [sys.executable, "-m", "treeline", "run", str(path), "--jobs", "2"],
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    cores = usable_cores()
    assert f"cells run 1 at once with {cores} thread(s) each" in out.stdout, out.stdout
    spans = _spans(cell_runs("jobs"))
    one = [spans[f"adult/n={n}/xgboost/cpu-1thread/s0"] for n in (200, 300)]
    assert _overlap(*one) > 1, f"the one-thread cells did not run side by side: {spans}"
    for n in (200, 300):
        wide = spans[f"adult/n={n}/xgboost/cpu/s0"]
        others = [s for cell, s in spans.items() if s is not wide]
        assert all(_overlap(wide, s) <= 0 for s in others), f"an all-core cell shared: {spans}"


def test_a_cuda_cell_gets_a_gpu_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With two GPUs, two CUDA cells run at once, each told its own GPU; a third waits for one
    to be free. (No GPU here: the worker is stood in for by one that reports the GPU given.)"""
    import dataclasses

    from treeline.config.runner_profile import get_runner
    from treeline.execute import supervise
    from treeline.execute.executors import LocalExecutor
    from treeline.execute.plan import expand
    from treeline.execute.resolve import load_suite
    from treeline.execute.result import CellResult

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    given: dict[str, str | None] = {}

    def stand_in(cell, profile, log_path, *, gpu=None, **_):
        given[cell.id] = gpu
        return CellResult(cell, "skipped", error="stand-in")

    monkeypatch.setattr(supervise, "execute", stand_in)
    suite = write_suite(tmp_path, "gpus", sizes="[200, 300, 400]", contenders="xgboost")
    profile = get_runner("t4")
    # One thread each, so that only the GPUs limit how many run at once.
    cells = [dataclasses.replace(c, threads=1) for c in expand(load_suite(suite), {"t4": profile})]
    ex = LocalExecutor(4, cells)
    try:
        first, second, third = cells
        for cell in (first, second):
            assert ex.fits(cell)
            ex.submit(cell, profile, tmp_path / "log").result(timeout=30)
        assert not ex.fits(third), "a third CUDA cell started with both GPUs taken"
        ex.done(first)
        assert ex.fits(third)
        ex.submit(third, profile, tmp_path / "log").result(timeout=30)
    finally:
        ex.close()
    assert given == {first.id: "3", second.id: "5", third.id: "3"}


def _claims(client) -> dict[str, str]:
    """Claim name → holder, of every claim in the store."""
    return {
        m.name: m.tags.get("owner", "")
        for m in client.search_registered_models()
        if m.name.startswith("treeline-claim")
    }


def test_claims_of_recorded_cells_left_by_an_earlier_run_are_removed(tmp_path: Path) -> None:
    """A run killed just after recording a cell (or whose cell was spooled and written later)
    left the claim on the Models page as "in flight" for good. The next run removes a claim
    whose own holder recorded the cell, and leaves any other runner's claim alone."""
    from mlflow import MlflowClient

    from treeline.record.store import default_tracking_uri

    suite = write_suite(tmp_path, "leftover", sizes="[200]", contenders="xgboost")
    first = subprocess.run(
        [sys.executable, "-m", "treeline", "run", str(suite)], capture_output=True, text=True
    )
    assert first.returncode == 0, first.stdout + first.stderr
    client = MlflowClient(default_tracking_uri())
    [run] = cell_runs("leftover")
    assert not _claims(client)
    # The store as a kill between recording and unclaiming leaves it: the holder's claim;
    # and a later attempt's claim of another runner (a --rerun-all elsewhere), not ours to drop.
    exp, key = run.info.experiment_id, run.data.tags["treeline.resume_key"]
    for attempt, owner in ((1, run.data.tags["treeline.claimed_by"]), (2, "b:1:x")):
        client.create_registered_model(
            f"treeline-claim-{exp}-{key}-{attempt}",
            tags={"owner": owner, "heartbeat": "0", "cell_id": run.info.run_name},
        )
    again = subprocess.run(
        [sys.executable, "-m", "treeline", "run", str(suite)], capture_output=True, text=True
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "removed 1 claim(s) of recorded cells" in again.stdout
    assert list(_claims(client).values()) == ["b:1:x"]  # another runner's claim stays


class _FlakyDeletes:
    """A real MLflow client whose first `fails` claim deletions fail (a store that hiccups)."""

    def __init__(self, client, fails: int):
        self.client, self.fails = client, fails

    def delete_registered_model(self, name: str) -> None:
        if self.fails > 0:
            self.fails -= 1
            raise ConnectionError("Connection reset by peer")
        self.client.delete_registered_model(name)

    def __getattr__(self, name: str):
        return getattr(self.client, name)


@pytest.mark.parametrize("fails", [2, 10])
def test_a_claim_delete_that_fails_is_retried_or_said(tmp_path: Path, fails: int) -> None:
    """A failed delete was ignored, so the claim showed as in flight for good: now it is tried
    three times, and one that still fails is said (and swept by the next run)."""
    from mlflow import MlflowClient

    from treeline.record.claims import ClaimBook

    client = MlflowClient(f"sqlite:///{tmp_path / 'm.db'}")
    exp = client.create_experiment("flaky")
    book = ClaimBook(_FlakyDeletes(client, fails), exp)
    claim = book.take("key1", "adult/n=200/xgboost/cpu/s0")
    assert claim is not None
    book.release(claim)
    left = _claims(client)
    if fails < 3:
        assert not left and book.problem is None
    else:
        assert len(left) == 1 and "could not be removed" in (book.problem or "")
        assert book.sweep(lambda key: {book.owner} if key == "key1" else set()) == 0  # still fails
        book.client.fails = 0
        assert book.sweep(lambda key: {book.owner} if key == "key1" else set()) == 1
        assert not _claims(client)
