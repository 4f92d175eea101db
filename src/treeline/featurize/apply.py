"""Applying a featurizer to a cell's data, and what it cost.

A featurizer that learns nothing (`cacheable`) is computed once per dataset over the whole
labelled pool and the test set, cached beside the prepared data with the seconds it took, and a
cell takes its rows from it; the cell is still charged the measured seconds per row for its own
rows, so a cached feature costs every cell the same as computing it (an unsupervised one's fit on
the pool's inputs is in those seconds too). A fitted featurizer is fitted on the cell's training
rows only and timed in full.

On multimodal inputs a featurizer turns the part it takes (the text) into features and the
table part's columns join them: `xgboost+tfidf` on tweets with their metadata sees the TF-IDF
terms and the time and counts.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from treeline.data import CachedDataset, DataBundle, Dataset, Split
from treeline.data.inputs import Inputs, Multimodal, Table
from treeline.locate import publish

if TYPE_CHECKING:
    from treeline.featurize.base import Featurizer


@dataclass(frozen=True)
class FeaturizeCost:
    """Seconds of featurizing the cell's train + validation rows, and its test rows."""

    fit_seconds: float  # charged to the cell's budget clock
    test_seconds: float  # part of predicting: counted with predict_seconds
    cached: bool


def featurize(
    featurizer: Featurizer, dataset: Dataset, bundle: DataBundle
) -> tuple[DataBundle, FeaturizeCost]:
    """The cell's bundle with every split's inputs turned into a table."""
    pooled = isinstance(dataset, CachedDataset) and bundle.train_rows is not None
    if featurizer.cacheable and pooled:
        pool, test, per_row = _cached(featurizer, dataset)  # type: ignore[arg-type]
        out = replace(
            bundle,
            train=Split(pool.take(bundle.train_rows), bundle.train.y),
            val=Split(pool.take(bundle.val_rows), bundle.val.y),  # type: ignore[arg-type]
            test=Split(test, bundle.test.y),
        )
        n_fit = len(bundle.train) + len(bundle.val)
        return out, FeaturizeCost(per_row * n_fit, per_row * len(bundle.test), True)
    t0 = time.perf_counter()
    featurizer.fit(_own_part(featurizer, bundle.train.X), bundle.train.y)
    train, val = transform(featurizer, bundle.train.X), transform(featurizer, bundle.val.X)
    t1 = time.perf_counter()
    test = transform(featurizer, bundle.test.X)
    t2 = time.perf_counter()
    out = replace(
        bundle,
        train=Split(train, bundle.train.y),
        val=Split(val, bundle.val.y),
        test=Split(test, bundle.test.y),
    )
    return out, FeaturizeCost(t1 - t0, t2 - t1, False)


def _cached(featurizer: Featurizer, dataset: CachedDataset) -> tuple[Table, Table, float]:
    """(pool features, test features, measured seconds per row), computed on first use."""
    folder = dataset.cache_path() / "features" / f"{featurizer.name}-v{featurizer.version}"
    meta_file = folder / "meta.json"
    if not meta_file.exists():
        pool, test = dataset.pool(), dataset.test()
        t0 = time.perf_counter()
        if featurizer.unsupervised:
            featurizer.fit(_own_part(featurizer, pool.X), None)
        tables = {"pool": transform(featurizer, pool.X), "test": transform(featurizer, test.X)}
        seconds = time.perf_counter() - t0
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        parts = {part: t.save(tmp, part) for part, t in tables.items()}
        rows = len(pool) + len(test)
        meta = {"featurizer": featurizer.name, "seconds": seconds, "rows": rows, "parts": parts}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        publish(tmp, folder)  # a crash leaves a .tmp folder, never half a cache
    meta = json.loads(meta_file.read_text())
    pool_t = Table.load(folder, "pool", meta["parts"]["pool"])
    test_t = Table.load(folder, "test", meta["parts"]["test"])
    return pool_t, test_t, meta["seconds"] / max(meta["rows"], 1)


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
