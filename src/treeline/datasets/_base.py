"""The data contract: datasets, their typed schema, and the DataBundle a cell receives."""

from __future__ import annotations

import json
import os
import shutil
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from treeline.datasets._sources import Source, first_available, sha256_of
from treeline.datasets._split import (
    SUBSAMPLE_STREAM,
    TEST_STREAM,
    stratified_order,
    train_val_positions,
)
from treeline.locate import cache_dir

if TYPE_CHECKING:
    import pandas as pd

Task = Literal["binary", "multiclass", "regression"]
Modality = Literal["tabular", "image", "text", "audio", "sequence", "multimodal"]
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")
TARGET = "__target__"
PREPARE_VERSION = 1  # bump when preparation changes, so old caches are not reused


@dataclass(frozen=True)
class Schema:
    """Feature types and target, decided once in the data layer for every contender."""

    task: Task
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    classes: tuple[str, ...] = ()

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Schema:
        return cls(
            task=d["task"],
            numeric=tuple(d["numeric"]),
            categorical=tuple(d["categorical"]),
            classes=tuple(d["classes"]),
        )


@dataclass(frozen=True)
class Split:
    X: pd.DataFrame
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class DataBundle:
    """What a cell trains, validates and is scored on. The test split never depends on n/seed."""

    dataset: str
    modality: Modality
    schema: Schema
    n: int
    seed: int
    train: Split
    val: Split
    test: Split

    @property
    def task(self) -> Task:
        return self.schema.task


@dataclass(frozen=True)
class Prepared:
    """What `prepare` reports: where the cache is and what it holds."""

    path: Path
    source: str
    rows_labelled: int
    rows_test: int
    from_cache: bool
    meta: dict[str, Any] = field(default_factory=dict)


class Dataset(ABC):
    """A named dataset: metadata for listing and validation, data on demand."""

    name: str
    modality: Modality = "tabular"
    image_shape: tuple[int, ...] | None = None  # (channels, height, width) for image pixels
    task: Task
    description: str = ""
    license: str = ""

    @property
    @abstractmethod
    def rows(self) -> int:
        """Labelled examples available for `n` (the test set excluded)."""

    @abstractmethod
    def sources(self) -> list[Source]: ...

    @abstractmethod
    def prepare(self) -> Prepared:
        """Make the data ready in the cache (idempotent)."""

    @abstractmethod
    def schema(self) -> Schema: ...

    @abstractmethod
    def labelled(self, n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
        """The first `n` rows of seed `seed`'s nested ordering of the labelled pool."""

    @abstractmethod
    def test(self) -> tuple[pd.DataFrame, np.ndarray]: ...

    def availability(self) -> tuple[bool, str]:
        """(available offline now, the source that would be used or how to get one)."""
        cache = cache_dir()
        for src in self.sources():
            if src.locate(cache) is not None:
                return True, src.label
        online = [s.label for s in self.sources() if s.online]
        hints = "; or ".join(s.hint for s in self.sources() if not s.online)
        return False, hints + (f"; or online: {online[0]}" if online else "")

    def bundle(self, n: int, seed: int) -> DataBundle:
        """The cell's data: n labelled rows split 80/20 into train/validation, plus test."""
        X, y = self.labelled(n, seed)
        tr, va = train_val_positions(len(y))
        X_test, y_test = self.test()
        return DataBundle(
            dataset=self.name,
            modality=self.modality,
            schema=self.schema(),
            n=n,
            seed=seed,
            train=Split(X.iloc[tr].reset_index(drop=True), y[tr]),
            val=Split(X.iloc[va].reset_index(drop=True), y[va]),
            test=Split(X_test, y_test),
        )


def type_columns(
    frame: pd.DataFrame,
    target: str,
    task: Task,
    categorical: tuple[str, ...] | None = None,
    class_order: tuple[str, ...] | None = None,
) -> tuple[pd.DataFrame, np.ndarray, Schema]:
    """Numeric features → float32, the rest → pandas `category`; target → class codes or float.

    Rows with a missing target are dropped: they are not labelled examples.
    """
    import pandas as pd

    frame = frame[frame[target].notna()].reset_index(drop=True)
    y_raw = frame[target]
    X = frame.drop(columns=[target])
    numeric, cats = [], []
    for col in X.columns:
        is_cat = (
            col in categorical
            if categorical is not None
            else not (pd.api.types.is_numeric_dtype(X[col]) or pd.api.types.is_bool_dtype(X[col]))
        )
        if is_cat:
            values = X[col].astype("string")
            levels = sorted(values.dropna().unique())
            X[col] = pd.Categorical(values, categories=levels)
            cats.append(col)
        else:
            X[col] = pd.to_numeric(X[col], errors="raise").astype("float32")
            numeric.append(col)
    X = X[numeric + cats]
    if task == "regression":
        y = pd.to_numeric(y_raw, errors="raise").to_numpy(dtype=np.float64)
        classes: tuple[str, ...] = ()
    else:
        labels = y_raw.astype("string")
        # Sorted unless the dataset says otherwise (so a binary task's positive class is 1).
        classes = class_order or tuple(sorted(labels.unique()))
        y = pd.Categorical(labels, categories=classes).codes.astype(np.int64)
    return X, y, Schema(task, tuple(numeric), tuple(cats), classes)


class TableDataset(Dataset):
    """A fixed table: typed once, a fixed stratified test set, the rest the labelled pool."""

    test_fraction = 0.2
    test_cap = 50_000  # a larger test set costs predict time and adds little precision
    categorical: tuple[str, ...] | None = None  # None: every non-numeric column
    class_order: tuple[str, ...] | None = None  # None: sorted labels
    total_rows: int  # after dropping unlabelled rows; checked against the prepared data

    @property
    def rows(self) -> int:
        return self.total_rows - self.test_rows(self.total_rows)

    def test_rows(self, total: int) -> int:
        return min(round(total * self.test_fraction), self.test_cap)

    @abstractmethod
    def read(self, path: Path) -> pd.DataFrame:
        """The raw table from the source file, target column `TARGET`."""

    def fingerprint(self) -> str:
        return f"v{PREPARE_VERSION}"

    def cache_path(self) -> Path:
        return cache_dir() / self.name / self.fingerprint()

    def prepare(self) -> Prepared:
        path = self.cache_path()
        meta_file = path / "meta.json"
        if meta_file.exists():
            meta = json.loads(meta_file.read_text())
            return Prepared(
                path, meta["source"], meta["rows_labelled"], meta["rows_test"], True, meta
            )
        cache = cache_dir()
        src, raw = first_available(self.sources(), cache)
        started = time.perf_counter()
        X, y, schema = type_columns(
            self.read(raw), TARGET, self.task, self.categorical, self.class_order
        )
        order = stratified_order(y, schema.task != "regression", 0, TEST_STREAM)
        n_test = self.test_rows(len(y))
        test_idx, pool_idx = np.sort(order[:n_test]), np.sort(order[n_test:])
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for fname, idx in (("pool.parquet", pool_idx), ("test.parquet", test_idx)):
            part = X.iloc[idx].reset_index(drop=True)
            part[TARGET] = y[idx]
            part.to_parquet(tmp / fname, index=False)
        meta = {
            "dataset": self.name,
            "source": src.label,
            "source_file": str(raw),
            "source_sha256": sha256_of(raw) if raw.is_file() else None,
            "rows_labelled": len(pool_idx),
            "rows_test": len(test_idx),
            "schema": schema.to_json(),
            "prepare_seconds": round(time.perf_counter() - started, 3),
            "prepare_version": PREPARE_VERSION,
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        shutil.rmtree(path, ignore_errors=True)
        tmp.replace(path)  # a crash mid-prepare leaves only a .tmp folder, never a half cache
        return Prepared(path, src.label, len(pool_idx), len(test_idx), False, meta)

    # In-process memo: the worker loads a table once for all its trials.
    _loaded: dict[str, Any]

    def _load(self, part: str) -> tuple[pd.DataFrame, np.ndarray]:
        memo = self.__dict__.setdefault("_loaded", {})
        if part not in memo:
            import pandas as pd

            path = self.prepare().path
            frame = pd.read_parquet(path / f"{part}.parquet")
            y = frame.pop(TARGET).to_numpy()
            memo[part] = (frame, y)
        return memo[part]

    def schema(self) -> Schema:
        return Schema.from_json(self.prepare().meta["schema"])

    def labelled(self, n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
        X, y = self._load("pool")
        if n > len(y):
            raise ValueError(f"{self.name}: n={n} exceeds the {len(y)} labelled rows")
        order = stratified_order(y, self.task != "regression", seed, SUBSAMPLE_STREAM)[:n]
        return X.iloc[order].reset_index(drop=True), y[order]

    def test(self) -> tuple[pd.DataFrame, np.ndarray]:
        return self._load("test")
