"""MLflow: one experiment per suite, one run per cell, names fixed by ../DESIGN.md.

A run is written in full and then tagged `treeline.complete`; a run without that tag (a process
killed while writing it) is deleted before the cell is recorded again, so a resumed suite never
holds two runs for one cell.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from treeline.locate import results_dir

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.entities import Run

    from treeline.cell import Cell
    from treeline.execute import CellResult

DONE_STATUSES = ("ok", "failed", "timeout", "oom")  # outcomes a rerun does not repeat
COMPLETE_TAG = "treeline.complete"


def default_tracking_uri() -> str:
    return f"sqlite:///{(results_dir() / 'mlflow.db').resolve()}"


def tracking_uri(explicit: str | None = None) -> str:
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


class Tracker:
    def __init__(self, experiment: str, uri: str | None = None):
        import logging

        from mlflow import MlflowClient

        # mlflow sets its own logger to INFO on import; its schema chatter is not ours to show.
        for name in ("mlflow", "alembic"):
            logging.getLogger(name).setLevel(logging.WARNING)

        self.uri = tracking_uri(uri)
        if self.uri.startswith("sqlite:///"):
            Path(self.uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.client = MlflowClient(self.uri)
        exp = self.client.get_experiment_by_name(experiment)
        if exp is None:
            # MLflow would put a SQLite store's artifacts in ./mlruns of whatever the working
            # directory is; keep them beside the database (results/mlruns for the default).
            location = None
            if self.uri.startswith("sqlite:///"):
                db = Path(self.uri.removeprefix("sqlite:///"))
                location = (db.parent / "mlruns").resolve().as_uri()
            exp_id = self.client.create_experiment(experiment, artifact_location=location)
        else:
            if exp.lifecycle_stage == "deleted":
                self.client.restore_experiment(exp.experiment_id)
            exp_id = exp.experiment_id
        self.experiment_id = exp_id

    def runs(self) -> list[Run]:
        """Every live run of the experiment (paginated)."""
        out, token = [], None
        while True:
            page = self.client.search_runs([self.experiment_id], max_results=5000, page_token=token)
            out.extend(page)
            token = page.token
            if not token:
                return out

    def done(self, rerun_failed: bool = False) -> dict[str, Run]:
        """Complete runs whose outcome a rerun keeps, by resume key."""
        statuses = ("ok",) if rerun_failed else DONE_STATUSES
        return {
            r.data.tags["treeline.resume_key"]: r
            for r in self.runs()
            if r.data.tags.get(COMPLETE_TAG) == "1"
            and r.data.tags.get("treeline.status") in statuses
            and "treeline.resume_key" in r.data.tags
        }

    def _with_key(self, key: str) -> list[Run]:
        return self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.`treeline.resume_key` = '{key}'"
        )

    def record(
        self, cell: Cell, key: str, result: CellResult, tags: dict[str, str], params: dict[str, Any]
    ) -> str:
        """Write one cell's run; replaces any earlier run with the same resume key."""
        from mlflow.entities import Metric, Param

        for old in self._with_key(key):
            self.client.delete_run(old.info.run_id)
        all_tags = {
            **tags,
            "treeline.resume_key": key,
            "treeline.status": result.status,
            "treeline.error": result.error[-4900:],
        }
        run = self.client.create_run(self.experiment_id, run_name=cell.id, tags=all_tags)
        run_id = run.info.run_id
        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, 0) for k, v in result.metrics.items() if v is not None]
        for point in result.anytime:
            step = round(point["elapsed"] * 1000)
            metrics.append(Metric("anytime_val_score", point["val_score"], now, step))
            metrics.append(Metric("anytime_test_score", point["test_score"], now, step))
        all_params = {**params, **{f"hp.{k}": v for k, v in result.params.items()}}
        plist = [Param(k, str(v)[:6000]) for k, v in all_params.items()]
        # MLflow takes at most 100 params and 1000 metrics per batch.
        for i in range(0, len(plist), 100):
            self.client.log_batch(run_id, params=plist[i : i + 100])
        for i in range(0, len(metrics), 1000):
            self.client.log_batch(run_id, metrics=metrics[i : i + 1000])
        self._artifacts(run_id, result)
        self.client.set_tag(run_id, COMPLETE_TAG, "1")
        self.client.set_terminated(
            run_id, "FINISHED" if result.status in ("ok", "skipped") else "FAILED"
        )
        return run_id

    def log_report(self, folder: Path, suite_hash: str) -> str:
        """The report's files as artifacts of one suite-level run (replacing the last one)."""
        for old in self.client.search_runs(
            [self.experiment_id], filter_string="tags.`treeline.kind` = 'report'"
        ):
            self.client.delete_run(old.info.run_id)
        run = self.client.create_run(
            self.experiment_id,
            run_name="report",
            tags={"treeline.kind": "report", "treeline.suite_hash": suite_hash},
        )
        self.client.log_artifacts(run.info.run_id, str(folder), artifact_path="report")
        self.client.set_terminated(run.info.run_id, "FINISHED")
        return run.info.run_id

    def _artifacts(self, run_id: str, result: CellResult) -> None:
        if result.log_path is not None and result.log_path.exists():
            self.client.log_artifact(run_id, str(result.log_path))
        detail = {
            "anytime": result.anytime,
            "trial_errors": result.trial_errors,
            "params": result.params,
            "error": result.error,
        }
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "cell.json"
            path.write_text(json.dumps(detail, indent=2, default=str))
            self.client.log_artifact(run_id, str(path))


def read_results(experiment: str, uri: str | None = None) -> pd.DataFrame:
    """Every complete cell run of a suite as one row (the boundary analysis's input)."""
    import pandas as pd

    tracker = Tracker(experiment, uri)
    rows = []
    for run in tracker.runs():
        tags, metrics, params = run.data.tags, run.data.metrics, run.data.params
        if tags.get(COMPLETE_TAG) != "1":
            continue
        anytime: list[tuple[float, float]] = []
        if tags.get("treeline.status") == "ok":
            history = tracker.client.get_metric_history(run.info.run_id, "anytime_test_score")
            anytime = sorted((m.step / 1000.0, m.value) for m in history)
        fit = metrics.get("fit_seconds", math.nan)
        rows.append(
            {
                "cell_id": tags.get("treeline.cell_id", run.info.run_name),
                "dataset": tags.get("treeline.dataset"),
                "runner": tags.get("treeline.runner"),
                "device": tags.get("treeline.device"),
                "modality": tags.get("treeline.modality"),
                "contender": tags.get("treeline.contender"),
                "family": tags.get("treeline.family"),
                "task": tags.get("treeline.task"),
                "metric": tags.get("treeline.metric", ""),
                "status": tags.get("treeline.status"),
                "error": tags.get("treeline.error", ""),
                "n": int(params.get("n", 0)),
                "seed": int(params.get("seed", 0)),
                "budget": float(params.get("budget_seconds", math.nan)),
                "price_per_hour": float(params.get("price_per_hour", math.nan)),
                "test_score": metrics.get("test_score", math.nan),
                "fit_seconds": fit,
                "cost_usd": metrics.get("cost_usd", math.nan),
                "peak_rss_mb": metrics.get("peak_rss_mb", math.nan),
                "peak_vram_mb": metrics.get("peak_vram_mb", math.nan),
                "n_trials": metrics.get("n_trials", math.nan),
                "trials_per_second": metrics.get("n_trials", math.nan) / fit if fit else math.nan,
                "anytime": anytime,
            }
        )
    return pd.DataFrame(rows)
