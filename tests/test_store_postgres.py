"""Treeline against the store a team shares: `mlflow server` on PostgreSQL with served
artifacts, reached only over http. Real processes throughout (store_servers.py); skipped where
PostgreSQL or psycopg2 is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_servers import mlflow_server, postgres_database

SUITE = """\
name: {name}
description: two quick cells recorded into an mlflow server on PostgreSQL
budget: 2
seeds: [0]
datasets:
  - name: adult
    n: [500]
contenders: [xgboost, lightgbm]
runners: [cpu]
"""
CELLS = {"adult/n=500/xgboost/cpu/s0", "adult/n=500/lightgbm/cpu/s0"}


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    """One PostgreSQL cluster and one server for the whole module (starting them is most of
    its time): tests that share it use a suite name of their own, so one experiment each."""
    with postgres_database() as db, mlflow_server(db) as uri:
        yield uri


def _run_suite(tmp_path: Path, uri: str, name: str) -> subprocess.CompletedProcess[str]:
    """`treeline run` as a team member would; TREELINE_RESULTS and TREELINE_CACHE come from
    conftest through the inherited environment."""
    suite = tmp_path / f"{name}.yaml"
    suite.write_text(SUITE.format(name=name))
    return subprocess.run(
        [sys.executable, "-m", "treeline", "run", str(suite), "--tracking-uri", uri],
        env={**os.environ, "COLUMNS": "200"},  # a wide table: cell ids whole in the output
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_suite_records_into_an_mlflow_server_on_postgresql(
    pg_server: str, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    out = _run_suite(tmp_path, pg_server, "pg-one-runner")
    assert out.returncode == 0, out.stdout + out.stderr
    # Everything went to the server: no local store appeared beside the results.
    results = Path(os.environ["TREELINE_RESULTS"])
    assert not (results / "mlflow.db").exists() and not (results / "mlruns").exists()

    client = MlflowClient(pg_server)
    exp = client.get_experiment_by_name("pg-one-runner")
    assert exp is not None
    runs = [
        r
        for r in client.search_runs([exp.experiment_id])
        if "treeline.kind" not in r.data.tags  # cells only
    ]
    assert sorted(r.info.run_name for r in runs) == sorted(CELLS)
    for run in runs:
        cell = run.info.run_name
        assert run.data.tags["treeline.status"] == "ok", (cell, run.data.tags["treeline.error"])
        assert run.data.tags["treeline.complete"] == "1", cell
        assert "test_score" in run.data.metrics, cell
        # Served artifacts: the client holds only a proxy URI; the bytes come through the server.
        assert run.info.artifact_uri.startswith("mlflow-artifacts:"), run.info.artifact_uri
        got = Path(client.download_artifacts(run.info.run_id, "cell.json", str(tmp_path)))
        detail = json.loads(got.read_text())
        assert detail["status"] == "ok", cell
        got.unlink()  # the next run's cell.json lands on the same path


def test_two_runners_share_the_server_and_run_each_cell_once(
    pg_server: str, tmp_path: Path
) -> None:
    """Two `treeline run` processes (two machines, as far as the store can tell) on one suite:
    the claims in the server's PostgreSQL split the cells, none runs twice."""
    from collections import Counter

    from mlflow import MlflowClient

    suite = tmp_path / "pg-two-runners.yaml"
    suite.write_text(SUITE.format(name="pg-two-runners").replace("n: [500]", "n: [300, 400, 500]"))
    cmd = [sys.executable, "-m", "treeline", "run", str(suite), "--tracking-uri", pg_server]
    runners = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    for p in runners:
        out = p.communicate(timeout=300)[0]
        assert p.returncode == 0, out
    client = MlflowClient(pg_server)
    exp = client.get_experiment_by_name("pg-two-runners")
    assert exp is not None
    runs = [
        r for r in client.search_runs([exp.experiment_id]) if "treeline.kind" not in r.data.tags
    ]
    per_cell = Counter(r.info.run_name for r in runs)
    assert len(per_cell) == 6 and set(per_cell.values()) == {1}, per_cell
    owners = Counter(r.data.tags["treeline.claimed_by"] for r in runs)
    assert len(owners) == 2, owners
