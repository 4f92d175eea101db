"""The direct SQLite read of a store gives what MLflow's `search_runs` gives: the same live runs,
newest first, with the same tags, params and latest metrics (NaN included)."""

from __future__ import annotations

import math
from pathlib import Path

from treeline.record import sqlite_runs
from treeline.record.store import Tracker


def _as_dict(run) -> dict:
    metrics = {k: ("nan" if math.isnan(v) else v) for k, v in run.data.metrics.items()}
    i = run.info
    return {
        "info": (i.run_id, i.status, i.start_time, i.end_time, i.artifact_uri, i.experiment_id),
        "tags": dict(run.data.tags),
        "params": dict(run.data.params),
        "metrics": metrics,
    }


def test_the_direct_read_matches_mlflow_search_runs(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/store.db"
    tracker = Tracker("direct", uri)
    client = tracker.client
    other = Tracker("elsewhere", uri)  # runs of another experiment stay out
    other.client.create_run(other.experiment_id)
    ids = []
    for i in range(4):
        run = client.create_run(tracker.experiment_id, start_time=1_000 + i, tags={"k": f"v{i}"})
        rid = run.info.run_id
        client.log_param(rid, "p", str(i))
        client.log_metric(rid, "m", 1.0, step=0)
        client.log_metric(rid, "m", 2.0 + i, step=1)  # the latest value is read
        client.log_metric(rid, "gap", math.nan)
        if i % 2:
            client.set_terminated(rid, "FINISHED", end_time=2_000 + i)
        ids.append(rid)
    client.delete_run(ids[0])  # deleted runs stay out

    direct = sqlite_runs.runs(uri, tracker.experiment_id)
    assert direct is not None and len(direct) == 3
    mlflow = client.search_runs([tracker.experiment_id])
    assert [_as_dict(r) for r in direct] == [_as_dict(r) for r in mlflow]
    assert direct[0].data.metrics["m"] == 5.0 and math.isnan(direct[0].data.metrics["gap"])


def test_a_store_it_cannot_read_is_left_to_mlflow(tmp_path: Path) -> None:
    assert sqlite_runs.runs("http://localhost:5000", "1") is None
    (tmp_path / "odd.db").write_bytes(b"not a database at all")
    assert sqlite_runs.runs(f"sqlite:///{tmp_path}/odd.db", "1") is None
