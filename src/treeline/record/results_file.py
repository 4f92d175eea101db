"""Results as data: a suite's recorded cells as one Parquet file (`treeline export`), read back
for `treeline import`, `report --from` and `compare`.

One row per cell, every field of its record — its resolved cell (what an import rebuilds it
from), outcome, measurements, anytime curve, trial schedule, test-set predictions and the
machine it ran on. COLUMNS is the format's one definition: the writer, the reader and the
column table of results/README.md (`tests/test_results_file.py` keeps them equal) follow it.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from treeline.errors import TreelineError, first_line
from treeline.execute.cell import Cell
from treeline.execute.result import (
    METRIC_FIELDS,
    STATUSES,
    AnytimePoint,
    CellResult,
    Measurements,
    cell_flags,
)
from treeline.execute.schedule import dumps
from treeline.record.store import Recorded

if TYPE_CHECKING:
    import pyarrow as pa

SCHEMA_VERSION = 3  # 2: convergence and contention columns; 3: a network's device settings
META = "treeline"  # the file's key-value metadata: {"schema_version", "suites", ...} as JSON

# The measurements' columns: Measurements' fields, described once here.
_MEASUREMENTS = {
    "test_score": "the primary metric on test, oriented so that higher is better (RMSE negated)",
    "test_metric": "the primary metric on test as usually reported (accuracy, RMSE)",
    "val_score": "the best trial's validation score (higher is better)",
    "baseline_test_score": "the trivial model's test score (majority class / training mean)",
    "fit_seconds": "budget clock: tuning + training (+ featurizing charged)",
    "fit_wall_seconds": "the same in wall seconds (differs with `clock: cpu`)",
    "overrun_seconds": "fit seconds past the budget",
    "time_to_best_seconds": "budget clock when the best trial finished",
    "data_seconds": "loading the data (not charged)",
    "featurize_seconds": "the featurizer's cost for this cell's rows (charged)",
    "predict_seconds": "the best model on the test set, its featurizing included",
    "predict_rows_per_second": "test rows ÷ predict seconds",
    "peak_rss_mb": "the worker's peak resident memory (MiB)",
    "peak_vram_mb": "peak GPU memory (MiB); 0 on a CPU runner, NaN where unknown",
    "wall_seconds": "the worker process, start to end",
    "overhead_seconds": "wall − fit − predict: start-up, loading, scoring the curve",
    "curve_scoring_seconds": "scoring new bests on test (the budget clock stood still)",
    "cost_usd": "(fit wall + predict seconds) × the runner's price per hour",
    "n_trials": "trials run",
    "n_trials_pruned": "trials pruned",
    "n_trials_failed": "trials failed",
    "n_trials_oom": "trials out of memory",
    "work_rounds": "boosting rounds done, all trials",
    "work_trees": "trees grown, all trials",
    "work_steps": "optimizer steps done, all trials",
    "work_epochs": "epochs done, all trials",
    "n_train": "training rows",
    "n_val": "validation rows",
    "n_test": "test rows",
    "converged": "1: the best model had stopped improving (early stopping, or a plateau); "
    "0: still improving when the budget ended (budget-bound)",
    "steps_done": "the best trial's last reported step (boosting rounds or epochs)",
    "best_step": "the step of its best validation score",
    "cpu_share": "the worker's CPU seconds ÷ (tuning wall seconds × threads)",
    "machine_load": "cores other processes kept busy during tuning (steal included)",
    "contended": "1: the cell had under 0.8 of its threads' time while other processes took "
    "cores it needed (a loaded machine); 0: it had the machine",
    "bf16_autocast": "1: a network trained under bf16 autocast (read off torch); NaN: no network",
    "channels_last": "1: its convolutions' weights were channels-last; NaN: no convolutions",
}
# Columns a version added: a file of an earlier version reads them as NaN (not measured then).
_ADDED_IN = {
    **{
        name: 2
        for name in (
            "fit_wall_seconds",
            "converged",
            "steps_done",
            "best_step",
            "cpu_share",
            "machine_load",
            "contended",
        )
    },
    "bf16_autocast": 3,
    "channels_last": 3,
}

# (name, type, description), in the file's order. Types: see _arrow_type.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("cell_id", "string", "`dataset/n=…/contender/runner/s<seed>`: what `compare` matches on"),
    ("resume_key", "string", "hash of what defines the outcome: what `import` matches on"),
    ("suite", "string", "the suite (MLflow experiment) it was recorded in"),
    ("dataset", "string", "the dataset's label"),
    ("data", "string", "JSON: which data exactly (name, options, a user file's digest)"),
    ("modality", "string", "tabular, image, sequence, audio, text, multimodal"),
    ("task", "string", "binary, multiclass, regression"),
    ("contender", "string", "the contender's label (`xgboost+pixels`)"),
    ("featurizer", "string", "its featurizer, or empty"),
    ("family", "string", "tree or deep"),
    ("runner", "string", "the runner profile"),
    ("device", "string", "cpu or cuda"),
    ("threads", "int64", "threads the cell was given"),
    ("n", "int64", "labelled rows drawn (train + validation)"),
    ("seed", "int64", "the seed of the draw, the split and the tuning"),
    ("budget_seconds", "double", "the tuning budget"),
    ("max_trials", "int64", "the suite's cap on trials; null: until the budget is spent"),
    ("price_per_hour", "double", "the runner's price (USD per hour)"),
    ("price_source", "string", "where that price comes from, with its date"),
    ("status", "string", "ok, failed, timeout, oom, skipped"),
    ("error", "string", "why, when not ok"),
    ("data_notes", "list<string>", "how the data was handled (cleaning, dropped rows)"),
    ("metric", "string", "the primary metric's name"),
    (
        "flags",
        "list<string>",
        "`≈ baseline` (not above the trivial model), `untuned: 1 complete trial`, "
        "`budget-bound` (still improving at the end), `contended` (a loaded machine)",
    ),
    *((name, "double", desc) for name, desc in _MEASUREMENTS.items()),
    ("params", "string", "JSON: the best configuration"),
    ("trial_errors", "list<string>", "the last errors of failed trials"),
    ("started_at", "timestamp", "the worker's start (UTC)"),
    ("ended_at", "timestamp", "the worker's end (UTC)"),
    ("anytime", "anytime", "each new best: budget-clock seconds, trial, validation and test score"),
    ("schedule", "string", "JSON: every trial's parameters, outcome and work (what replay runs)"),
    ("predictions", "binary", "the best model's test predictions: .npz of `pred` and `y`"),
    ("versions", "string", "JSON: Python's and every library's version"),
    ("git_commit", "string", "Treeline's commit"),
    ("cpu_model", "string", "the machine's CPU"),
    ("gpu_model", "string", "the GPUs it saw, or `none`"),
    ("suite_hash", "string", "hash of the suite file as run"),
    ("claimed_by", "string", "the runner (host:pid:token) that recorded it"),
    ("cell", "string", "JSON: the resolved cell, what `import` rebuilds the record from"),
    ("run_id", "string", "the MLflow run it was exported from"),
)
COLUMN_NAMES = tuple(c[0] for c in COLUMNS)
assert set(_MEASUREMENTS) == set(METRIC_FIELDS), "every measurement is a column"
# The machine tags (schema.MACHINE_KEYS) by column.
_MACHINE = {"git_commit": "git_commit", "cpu_model": "cpu", "gpu_model": "gpu"}
_MACHINE.update({"suite_hash": "suite_hash", "claimed_by": "claimed_by"})


@dataclass
class ResultSet:
    """Cells read from exports (or a store), with each suite's description."""

    records: list[Recorded]
    suites: dict[str, str] = field(default_factory=dict)  # name → description
    sources: list[str] = field(default_factory=list)  # files or stores, as named


def columns_markdown() -> str:
    """The column table of results/README.md."""
    lines = ["| column | type | what |", "|---|---|---|"]
    lines += [f"| `{name}` | {kind} | {desc} |" for name, kind, desc in COLUMNS]
    return "\n".join(lines)


def _arrow_type(kind: str) -> pa.DataType:
    import pyarrow as pa

    if kind == "anytime":
        point = [("elapsed", pa.float64()), ("trial", pa.int64())]
        point += [("val_score", pa.float64()), ("test_score", pa.float64())]
        return pa.list_(pa.struct(point))
    if kind == "timestamp":
        return pa.timestamp("ms", tz="UTC")
    if kind == "list<string>":
        return pa.list_(pa.string())
    return {"string": pa.string(), "int64": pa.int64(), "double": pa.float64()}.get(
        kind, pa.binary()
    )


def schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([(name, _arrow_type(kind)) for name, kind, _ in COLUMNS])


def _when(epoch: float) -> int | None:
    return None if math.isnan(epoch) else round(epoch * 1000)


def row(rec: Recorded) -> dict[str, Any]:
    r, c, m = rec.result, rec.result.cell, rec.result.measurements
    versions = {k.removeprefix("version."): v for k, v in rec.machine.items() if "version." in k}
    out: dict[str, Any] = {
        "cell_id": c.id,
        "resume_key": c.resume_key,
        "suite": c.suite,
        "dataset": c.dataset.label,
        "data": json.dumps(c.dataset.identity(), sort_keys=True, default=str),
        "modality": c.modality,
        "task": c.task,
        "contender": c.contender.label,
        "featurizer": c.contender.featurizer or "",
        "family": c.family,
        "runner": c.runner,
        "device": c.device,
        "threads": c.threads,
        "n": c.n,
        "seed": c.seed,
        "budget_seconds": c.budget.seconds,
        "max_trials": c.max_trials,
        "price_per_hour": c.price_per_hour,
        "price_source": c.price_source,
        "status": r.status,
        "error": r.error,
        "data_notes": list(r.data_notes),
        "metric": r.metric,
        "flags": cell_flags(m) if r.status == "ok" else [],
        **{name: getattr(m, name) for name in METRIC_FIELDS},
        "params": json.dumps(r.params, sort_keys=True, default=str),
        "trial_errors": list(r.trial_errors),
        "started_at": _when(r.started_at),
        "ended_at": _when(r.ended_at),
        "anytime": [
            {"elapsed": p.elapsed, "trial": p.trial, "val_score": p.val_score, "test_score": s}
            for p in r.anytime
            for s in (p.test_score,)
        ],
        "schedule": rec.schedule or (dumps(r.schedule) if r.schedule else ""),
        "predictions": rec.predictions,
        "versions": json.dumps(versions, sort_keys=True),
        **{col: rec.machine.get(tag, "") for col, tag in _MACHINE.items()},
        "cell": json.dumps(c.to_json(), sort_keys=True, default=str),
        "run_id": rec.run_id,
    }
    return out


def write(records: list[Recorded], path: Path, suites: dict[str, str], source: str) -> None:
    """One Parquet file (zstd), written whole or not at all."""
    import os

    import pyarrow as pa
    import pyarrow.parquet as pq

    from treeline import __version__

    meta = {
        "schema_version": SCHEMA_VERSION,
        "treeline": __version__,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source": source,
        "suites": suites,
    }
    table = pa.Table.from_pylist([row(r) for r in records], schema=schema())
    table = table.replace_schema_metadata({META: json.dumps(meta)})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read(paths: list[Path]) -> ResultSet:
    """Records from one or more exports, as one result set. A file that is not a readable
    export of a schema this Treeline knows is refused with its name."""
    out = ResultSet([])
    for path in paths:
        meta, table = _open(path)
        out.suites.update(meta.get("suites", {}))
        out.sources.append(str(path))
        for i, d in enumerate(table.to_pylist()):
            try:
                out.records.append(_record(d))
            except (KeyError, TypeError, ValueError) as exc:
                raise TreelineError(
                    f"{path}: row {i + 1} ({d.get('cell_id', '?')}) cannot be read: "
                    f"{first_line(exc)}"
                ) from None
    return out


def _open(path: Path) -> tuple[dict[str, Any], pa.Table]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():
        raise TreelineError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise TreelineError(f"{path}: not a Treeline export ({first_line(exc)})") from None
    raw = (table.schema.metadata or {}).get(META.encode())
    if raw is None:
        raise TreelineError(f"{path}: a Parquet file, but no Treeline export (no {META} metadata)")
    meta = json.loads(raw)
    version = meta.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise TreelineError(
            f"{path}: results schema version {version}; this Treeline reads up to "
            f"{SCHEMA_VERSION} (upgrade Treeline to read it)"
        )
    missing = [
        n for n in COLUMN_NAMES if n not in table.column_names and _ADDED_IN.get(n, 1) <= version
    ]
    if missing:
        raise TreelineError(f"{path}: columns missing: {', '.join(missing)}")
    return meta, table


def _record(d: dict[str, Any]) -> Recorded:
    if d["status"] not in STATUSES:
        raise ValueError(f"status {d['status']!r} is none of {', '.join(STATUSES)}")
    cell = Cell.from_json(json.loads(d["cell"]))
    m = Measurements(**{name: _float(d.get(name)) for name in METRIC_FIELDS})
    result = CellResult(
        cell=cell,
        status=d["status"],
        error=d["error"] or "",
        metric=d["metric"] or "",
        measurements=m,
        params=json.loads(d["params"] or "{}"),
        anytime=[AnytimePoint(**p) for p in d["anytime"] or []],
        trial_errors=list(d["trial_errors"] or []),
        data_notes=list(d["data_notes"] or []),
        started_at=_epoch(d["started_at"]),
        ended_at=_epoch(d["ended_at"]),
        from_earlier_run=True,
    )
    machine = {f"version.{k}": v for k, v in json.loads(d["versions"] or "{}").items()}
    machine.update({tag: d[col] for col, tag in _MACHINE.items() if d[col]})
    schedule = d["schedule"] or ""  # carried as text: replay reads it (schedule.loads)
    return Recorded(d["run_id"] or "", result, machine, d["suite"], d["predictions"], schedule)


def _float(x: Any) -> float:
    return math.nan if x is None else float(x)


def _epoch(x: Any) -> float:
    return math.nan if x is None else x.timestamp()
