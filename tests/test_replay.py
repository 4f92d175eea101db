"""`treeline replay`: a cell recorded under a wall-clock budget, run again on its recorded work,
through the real CLI, worker processes and MLflow store."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

SUITE = """\
name: replay-check
description: one tree and one network cell, recorded to be replayed
budget: 2
seeds: [0]
datasets:
  - name: adult
    n: [600]
contenders: [xgboost, mlp]
runners: [cpu]
"""
XGB, MLP = "adult/n=600/xgboost/cpu/s0", "adult/n=600/mlp/cpu/s0"


def _treeline(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "treeline", *args], env=env, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A suite run once for the module: its environment (results folder, suite file)."""
    root = tmp_path_factory.mktemp("replay")
    (root / "replay-check.yaml").write_text(SUITE)
    env = {
        **{k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"},
        "TREELINE_RESULTS": str(root / "results"),
        "TREELINE_CACHE": os.environ.get("TREELINE_TEST_CACHE", "/tmp/treeline-test-cache"),
        "COLUMNS": "200",
    }
    out = _treeline(["run", str(root / "replay-check.yaml")], env)
    assert out.returncode == 0, out.stdout + out.stderr
    return {**env, "SUITE": str(root / "replay-check.yaml")}


def _db(env: dict[str, str]) -> Path:
    return Path(env["TREELINE_RESULTS"]) / "mlflow.db"


def _tags(env: dict[str, str], key: str) -> list[tuple[str, str]]:
    """(run id, value) of a tag over every run (sqlite3: no MLflow needed to read it back)."""
    with sqlite3.connect(_db(env)) as db:
        return db.execute(
            "SELECT run_uuid, value FROM tags WHERE key = ? ORDER BY run_uuid", (key,)
        ).fetchall()


@pytest.mark.parametrize("cell", [XGB, MLP])
def test_a_replay_reproduces_the_recorded_test_score_bit_for_bit(
    recorded: dict[str, str], cell: str
) -> None:
    out = _treeline(["replay", cell, "--suite", "replay-check"], recorded)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "bit-equal test score; the same work in every trial" in out.stdout
    assert "recorded (cpu)" in out.stdout and "replayed (cpu)" in out.stdout


def test_a_replay_is_recorded_beside_the_cell_and_never_counted_as_one(
    recorded: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from treeline.record.store import Tracker, read_results

    out = _treeline(["replay", XGB], recorded)  # no --suite: found in any suite
    assert out.returncode == 0, out.stdout + out.stderr
    monkeypatch.setenv("TREELINE_RESULTS", recorded["TREELINE_RESULTS"])
    replays = Tracker("replay-check").replays()
    assert replays and {r.replayed.cell.id for r in replays} <= {XGB, MLP}
    r = next(r for r in replays if r.replayed.cell.id == XGB)
    assert r.bit_equal and r.same_work and r.exact_expected and r.tolerance == 0.0
    cells = read_results("replay-check")
    assert sorted(c.cell.id for c in cells) == sorted([XGB, MLP])  # replays are not cells
    resumed = _treeline(["run", recorded["SUITE"]], recorded)  # nothing left to run
    assert resumed.returncode == 0 and resumed.stdout.count("(recorded earlier)") == 2


def test_the_schedule_artifact_holds_the_work_the_metrics_count(
    recorded: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from treeline.execute.schedule import totals
    from treeline.record.store import Tracker, read_results

    monkeypatch.setenv("TREELINE_RESULTS", recorded["TREELINE_RESULTS"])
    by_id = {r.cell.id: r for r in read_results("replay-check")}
    tracker = Tracker("replay-check")
    for run_id, cell_id in _tags(recorded, "treeline.cell_id"):
        if (run_id, "replay") in _tags(recorded, "treeline.kind"):
            continue
        schedule = tracker.schedule(run_id)
        m = by_id[cell_id].measurements
        assert len(schedule) == m.n_trials
        units = totals(schedule)
        assert units and all(getattr(m, f"work_{u}") == v for u, v in units.items())


def test_a_replay_that_differs_from_the_record_exits_1(
    recorded: dict[str, str], tmp_path: Path
) -> None:
    """The recorded test score changed behind Treeline's back: the replay cannot match it."""
    results = tmp_path / "results"
    shutil.copytree(recorded["TREELINE_RESULTS"], results)
    env = {**recorded, "TREELINE_RESULTS": str(results)}
    replays = {r for r, _ in _tags(env, "treeline.kind")}  # earlier tests' replays share the id
    (run_id,) = [r for r, v in _tags(env, "treeline.cell_id") if v == XGB and r not in replays]
    with sqlite3.connect(_db(env)) as db:
        for table in ("metrics", "latest_metrics"):
            sql = f"UPDATE {table} SET value = value - 0.01 WHERE key = ? AND run_uuid = ?"
            db.execute(sql, ("test_score", run_id))
    out = _treeline(["replay", XGB, "--suite", "replay-check"], env)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "test score differs by +0.01" in out.stdout
    loose = _treeline(["replay", XGB, "--suite", "replay-check", "--tolerance", "0.02"], env)
    assert loose.returncode == 0, loose.stdout + loose.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["nope/n=1/x/cpu/s0"], 2, "no recorded cell 'nope/n=1/x/cpu/s0' in any suite"),
        ([XGB, "--suite", "other"], 2, f"no recorded cell '{XGB}' in suite 'other'"),
        ([XGB, "--runner", "nosuch"], 2, "unknown runner 'nosuch'"),
        ([XGB, "--tolerance", "-1"], 2, "--tolerance must be a number >= 0"),
        ([XGB, "--runner", "t4"], 1, "replay skipped: runner 't4' needs a CUDA GPU"),
    ],
)
def test_replay_input_errors(
    recorded: dict[str, str], args: list[str], code: int, message: str
) -> None:
    if args[-1] == "t4" and shutil.which("nvidia-smi"):
        pytest.skip("this machine has a GPU: the t4 replay would run")
    out = _treeline(["replay", *args], recorded)
    assert out.returncode == code, out.stdout + out.stderr
    assert message in out.stdout + out.stderr
    assert "Traceback" not in out.stderr


def test_replay_from_python(recorded: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from treeline.replay import replay

    monkeypatch.setenv("TREELINE_RESULTS", recorded["TREELINE_RESULTS"])
    run = replay(MLP, suite=recorded["SUITE"], record=False)
    assert run.passed and run.replay.bit_equal
    assert [t.number for t in run.replay.replayed.schedule] == [
        t.number for t in run.recorded_schedule
    ]
