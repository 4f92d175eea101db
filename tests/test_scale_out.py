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


def test_a_dead_runners_claim_expires_and_its_cell_runs_again(tmp_path: Path) -> None:
    """A runner killed mid-cell leaves its claim; another runner waits for the lease to run out
    (unchanged heartbeat), takes the cell over and records it once, in a log of its own."""
    suite = write_suite(tmp_path, "lease", sizes="[200]", contenders="xgboost", budget=3)
    lease = {"TREELINE_LEASE_SECONDS": "3"}
    dead = treeline("run", str(suite), env=lease)
    logs = Path(os.environ["TREELINE_RESULTS"]) / "logs" / "lease"
    for _ in range(600):  # until its cell is in flight
        if list(logs.glob("*.log")):
            break
        time.sleep(0.1)
    time.sleep(1)
    os.killpg(dead.pid, signal.SIGKILL)
    dead.wait()
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "treeline", "run", str(suite)],
        env={**os.environ, **lease},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # Not at once: the claim held until its heartbeat stood still for the lease.
    assert time.monotonic() - started > 3
    runs = cell_runs("lease")
    assert [r.data.tags["treeline.status"] for r in runs] == ["ok"]
    assert sorted(p.name for p in logs.glob("*.log")) == [
        "adult__n=200__xgboost__cpu-1thread__s0.attempt-2.log",
        "adult__n=200__xgboost__cpu-1thread__s0.log",
    ]
