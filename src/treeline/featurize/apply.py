"""Applying a featurizer to a cell's data, and what it cost.

A featurizer that learns nothing (`cacheable`) is computed once per dataset over the whole
labelled pool and the test set, cached beside the prepared data with the seconds it took, and a
cell takes its rows from it; the cell is still charged the measured seconds per row for its own
rows, so a cached feature costs every cell the same as computing it (an unsupervised one's fit on
the pool's inputs is in those seconds too). A fitted featurizer is fitted on the cell's training
rows only and timed in full.

Costs are kept per kind of device (`Where.kind`: `cpu×2`, `cuda:H100`), wall and CPU seconds
both, so a cell is charged what its own runner pays on its own clock: the kind that built the
cache has its full pass; another kind reading the same features times them on a fixed sample of
the pool first (SAMPLE rows) and adds its entry. Features that differ by device or options (fp16
on CUDA, int8, a shorter `max_length`) are cached apart, by the featurizer's `variant`.

On multimodal inputs a featurizer turns the part it takes (the text) into features and the
table part's columns join them: `xgboost+tfidf` on tweets with their metadata sees the TF-IDF
terms and the time and counts.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from treeline.data import CachedDataset, DataBundle, Dataset, Split
from treeline.data.inputs import Inputs, Multimodal, Table
from treeline.locate import publish

if TYPE_CHECKING:
    from treeline.featurize.base import Featurizer

T = TypeVar("T")


SAMPLE = 1000  # rows timed when a kind of device reads features another kind built


@dataclass(frozen=True)
class Where:
    """Where a cell computes and what its clock counts: its featurizing costs' key."""

    device: str = "cpu"
    gpu: str | None = None
    threads: int = 1
    clock: str = "wall"  # "wall" | "cpu" (CPU seconds per thread)

    @property
    def kind(self) -> str:
        return f"cuda:{self.gpu or 'any'}" if self.device == "cuda" else f"cpu×{self.threads}"


@dataclass(frozen=True)
class FeaturizeCost:
    """Seconds of featurizing the cell's train + validation rows, and its test rows."""

    fit_seconds: float  # charged to the cell's budget clock
    test_seconds: float  # part of predicting: counted with predict_seconds
    cached: bool


def featurize(
    featurizer: Featurizer, dataset: Dataset, bundle: DataBundle, where: Where | None = None
) -> tuple[DataBundle, FeaturizeCost]:
    """The cell's bundle with every split's inputs turned into a table, and what it cost on
    `where`'s clock (featurizer.device: the device it computes on)."""
    where = where or Where(featurizer.device)
    pooled = isinstance(dataset, CachedDataset) and bundle.train_rows is not None
    if featurizer.cacheable and pooled:
        pool, test, per_row = _cached(featurizer, dataset, where)  # type: ignore[arg-type]
        out = replace(
            bundle,
            train=Split(pool.take(bundle.train_rows), bundle.train.y),
            val=Split(pool.take(bundle.val_rows), bundle.val.y),  # type: ignore[arg-type]
            test=Split(test, bundle.test.y),
        )
        n_fit = len(bundle.train) + len(bundle.val)
        return out, FeaturizeCost(per_row * n_fit, per_row * len(bundle.test), True)
    timer = _timer(where)
    t0 = timer()
    featurizer.fit(_own_part(featurizer, bundle.train.X), bundle.train.y)
    train, val = transform(featurizer, bundle.train.X), transform(featurizer, bundle.val.X)
    t1 = timer()
    test = transform(featurizer, bundle.test.X)
    t2 = timer()
    out = replace(
        bundle,
        train=Split(train, bundle.train.y),
        val=Split(val, bundle.val.y),
        test=Split(test, bundle.test.y),
    )
    return out, FeaturizeCost(t1 - t0, t2 - t1, False)


def cache_folder(featurizer: Featurizer, dataset: CachedDataset) -> Path:
    """Where this featurizer's variant keeps its features of `dataset`."""
    suffix = f"-{featurizer.variant}" if featurizer.variant else ""
    return dataset.cache_path() / "features" / f"{featurizer.name}-v{featurizer.version}{suffix}"


def cost_per_row(meta: dict[str, Any], where: Where) -> float | None:
    """Seconds per row on `where`'s kind and clock, as recorded in a cache's meta; None when
    that kind has not been timed."""
    cost = meta.get("costs", {}).get(where.kind)
    if cost is None:
        return None
    return cost[where.clock] / max(cost["rows"], 1)


def _cached(
    featurizer: Featurizer, dataset: CachedDataset, where: Where
) -> tuple[Table, Table, float]:
    """(pool features, test features, seconds per row on `where`), computed on first use."""
    folder = cache_folder(featurizer, dataset)
    meta_file = folder / "meta.json"
    if not meta_file.exists():
        pool, test = dataset.pool(), dataset.test()

        def compute() -> dict[str, Table]:
            if featurizer.unsupervised:
                featurizer.fit(_own_part(featurizer, pool.X), None)
            return {"pool": transform(featurizer, pool.X), "test": transform(featurizer, test.X)}

        tables, seconds = _timed(compute, where)
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        parts = {part: t.save(tmp, part) for part, t in tables.items()}
        rows = len(pool) + len(test)
        meta = {
            "featurizer": featurizer.name,
            "variant": featurizer.variant,
            "seconds": seconds["wall"],
            "rows": rows,
            "parts": parts,
            "costs": {where.kind: {**seconds, "rows": rows, "how": "the full pass"}},
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        publish(tmp, folder)  # a crash leaves a .tmp folder, never half a cache
    meta = json.loads(meta_file.read_text())
    pool_t = Table.load(folder, "pool", meta["parts"]["pool"])
    test_t = Table.load(folder, "test", meta["parts"]["test"])
    per_row = cost_per_row(meta, where)
    if per_row is None:  # built on another kind of device: time this one on a sample
        per_row = _time_sample(featurizer, dataset, where, meta_file)
    return pool_t, test_t, per_row


def _time_sample(
    featurizer: Featurizer, dataset: CachedDataset, where: Where, meta_file: Path
) -> float:
    """Seconds per row of this kind of device, timed on a fixed sample of the pool (after one
    untimed warm-up row), and kept in the cache's meta beside the other kinds'."""
    import numpy as np

    X = dataset.pool().X
    rows = np.sort(np.random.default_rng(0).permutation(len(X))[: min(SAMPLE, len(X))])
    sample = X.take(rows)

    def compute(X: Inputs) -> Table:
        if featurizer.unsupervised:
            featurizer.fit(_own_part(featurizer, X), None)
        return transform(featurizer, X)

    compute(sample.take(np.arange(1)))  # kernels, caches: not per-row cost

    _, seconds = _timed(lambda: compute(sample), where)
    meta = json.loads(meta_file.read_text())
    how = f"a sample of {len(rows):,} pool rows"
    meta.setdefault("costs", {})[where.kind] = {**seconds, "rows": len(rows), "how": how}
    tmp = meta_file.with_name(f"meta.json.tmp{os.getpid()}")
    tmp.write_text(json.dumps(meta, indent=2))
    tmp.replace(meta_file)  # atomic: a reader sees the old meta or the new
    return seconds[where.clock] / len(rows)


def _timer(where: Where) -> Callable[[], float]:
    """The clock the cell's budget counts on: wall seconds, or CPU seconds per thread."""
    if where.clock == "cpu":
        return lambda: time.process_time() / where.threads
    return time.perf_counter


def _timed(compute: Callable[[], T], where: Where) -> tuple[T, dict[str, float]]:
    """`compute()` and its wall and CPU-per-thread seconds (the GPU's work waited for)."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = compute()
    if where.device == "cuda":
        import torch

        torch.cuda.synchronize()
    wall, cpu = time.perf_counter() - w0, (time.process_time() - c0) / where.threads
    return out, {"wall": wall, "cpu": cpu}


def _own_part(featurizer: Featurizer, X: Inputs) -> Inputs:
    """The inputs a featurizer takes: X, or the part of multimodal X in its modalities."""
    if not isinstance(X, Multimodal):
        return X
    for part in X.parts.values():
        if part.modality in featurizer.modalities:
            return part
    kinds = ", ".join(p.modality for p in X.parts.values())
    raise ValueError(f"featurizer {featurizer.name} takes none of the parts ({kinds})")


def transform(featurizer: Featurizer, X: Inputs) -> Table:
    """The featurizer's table; on multimodal inputs joined with the table parts' columns."""
    features = featurizer.transform(_own_part(featurizer, X))
    if not isinstance(X, Multimodal):
        return features
    tables = [p for p in X.parts.values() if isinstance(p, Table)]
    return features.join(*tables)
