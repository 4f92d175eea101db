"""The data contract: datasets, the DataBundle a cell is built from, and the FitData a contender
is handed (train and validation only; the test split stays with the harness)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from treeline.config.suite import Task
from treeline.data.cache_check import FILES, CacheDamaged, forget, read_meta, record_files
from treeline.data.clean import clean_table
from treeline.data.inputs import KINDS, Inputs, Table
from treeline.data.sources import Source, first_available, sha256_of
from treeline.data.split import (
    SUBSAMPLE_STREAM,
    TEST_STREAM,
    every_class_on_both_sides,
    every_class_twice,
    stratified_order,
    train_val_positions,
)
from treeline.errors import first_line
from treeline.locate import cache_dir, publish

if TYPE_CHECKING:
    import pandas as pd
    from pydantic import BaseModel

Modality = Literal["tabular", "image", "text", "audio", "sequence", "multimodal"]
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")
TARGET = "__target__"
PREPARE_VERSION = 3  # bump when preparation changes, so old caches are not reused


@dataclass(frozen=True)
class Split:
    """Inputs of one modality and their targets (class codes, or floats for regression)."""

    X: Inputs
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def take(self, idx: np.ndarray) -> Split:
        return Split(self.X.take(idx), self.y[idx])


@dataclass(frozen=True)
class FitData:
    """What a contender is handed: train and validation. Nothing here leads to the test split."""

    task: Task
    classes: tuple[str, ...]
    train: Split
    val: Split
    metric: str | None = None  # what tuning selects on (data/metrics.py); None: the task's

    @property
    def n_classes(self) -> int:
        return len(self.classes)


@dataclass(frozen=True)
class DataBundle:
    """What a cell trains, validates and is scored on. The test split never depends on n/seed."""

    dataset: str
    task: Task
    classes: tuple[str, ...]
    n: int
    seed: int
    train: Split
    val: Split
    test: Split
    # Positions of train/val in the dataset's labelled pool, where it has one (for features
    # cached per dataset); the harness's business, never a contender's.
    train_rows: np.ndarray | None = None
    val_rows: np.ndarray | None = None
    notes: tuple[str, ...] = ()  # how preparation handled the data (data/clean.py)

    @property
    def modality(self) -> str:
        return self.train.X.modality

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def fitdata(self) -> FitData:
        return FitData(self.task, self.classes, self.train, self.val)


@dataclass(frozen=True)
class Prepared:
    """What `prepare` reports: where the cache is and what it holds."""

    path: Path
    source: str
    rows_labelled: int
    rows_test: int
    from_cache: bool
    meta: dict[str, Any] = field(default_factory=dict)
    repaired: str | None = None  # what was wrong with the cache it replaced


class Dataset(ABC):
    """A named dataset: metadata for listing and validation, data on demand.

    A module under `treeline.data.<modality>/` that sets `DATASET = TheClass` is registered
    under `TheClass.name`; nothing else needs editing.
    """

    name: str
    modality: ClassVar[str] = "tabular"
    # A multimodal dataset's kinds of parts, e.g. ("text", "tabular"): what a contender or a
    # featurizer must take to take it.
    parts: ClassVar[tuple[str, ...]] = ()
    task: Task
    description: str = ""
    license: str = ""
    # Steps per series of a sequence dataset (the longest, where lengths vary): what tells long
    # series from short in the claims (analysis/claims.py). None: not a sequence, or unknown.
    series_length: ClassVar[int | None] = None
    # Its labelled rows depend on its options (spoken-digits' `rows`): a suite's `n: [max]`
    # reads them off the dataset built with the suite's options, not the defaults.
    rows_from_options: ClassVar[bool] = False
    Options: ClassVar[type[BaseModel] | None] = None  # options a suite may set (synthetic)

    @property
    @abstractmethod
    def rows(self) -> int:
        """Labelled examples available for `n` (the test set excluded)."""

    def rows_text(self) -> str:
        """`labelled + test` rows for listings."""
        return f"{self.rows:,}"

    @abstractmethod
    def sources(self) -> list[Source]: ...

    @abstractmethod
    def prepare(self) -> Prepared:
        """Make the data ready in the cache (idempotent)."""

    @abstractmethod
    def classes(self) -> tuple[str, ...]:
        """Class labels in code order; () for regression."""

    @abstractmethod
    def labelled(self, n: int, seed: int) -> Split:
        """The first `n` rows of seed `seed`'s nested ordering of the labelled pool."""

    @abstractmethod
    def test(self) -> Split: ...

    def labelled_rows(self, n: int, seed: int) -> np.ndarray | None:
        """Positions of `labelled(n, seed)` in a stored pool, for datasets that have one."""
        return None

    def notes(self) -> tuple[str, ...]:
        """What preparation changed in the data, and how (stated in logs and MLflow)."""
        return ()

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
        labelled = self.labelled(n, seed)
        tr, va = train_val_positions(len(labelled))
        if self.task != "regression":
            tr, va = every_class_on_both_sides(labelled.y, tr, va, self.name, n)
        rows = self.labelled_rows(n, seed)
        return DataBundle(
            dataset=self.name,
            task=self.task,
            classes=self.classes(),
            n=n,
            seed=seed,
            train=labelled.take(tr),
            val=labelled.take(va),
            test=self.test(),
            train_rows=None if rows is None else rows[tr],
            val_rows=None if rows is None else rows[va],
            notes=self.notes(),
        )


def encode_target(y_raw: Any, task: Task, class_order: tuple[str, ...] | None = None):
    """Target → float64 values (regression) or int64 class codes; with the class labels."""
    import pandas as pd

    y_raw = pd.Series(np.asarray(y_raw, dtype=object) if not hasattr(y_raw, "dtype") else y_raw)
    if task == "regression":
        return pd.to_numeric(y_raw, errors="raise").to_numpy(dtype=np.float64), ()
    labels = y_raw.astype("string")
    # Sorted unless the dataset says otherwise (so a binary task's positive class is 1).
    classes = class_order or tuple(sorted(labels.unique()))
    return pd.Categorical(labels, categories=classes).codes.astype(np.int64), tuple(classes)


class CachedDataset(Dataset):
    """A fixed set of examples: read once from its source, a fixed stratified test set, the rest
    the labelled pool; both parts cached in their modality's format (Parquet, NPY)."""

    test_fraction = 0.2
    test_cap = 50_000  # a larger test set costs predict time and adds little precision
    class_order: tuple[str, ...] | None = None  # None: sorted labels
    total_rows: int  # after dropping unlabelled rows; checked against the prepared data

    @property
    def rows(self) -> int:
        return self.total_rows - self.test_rows(self.total_rows)

    def rows_text(self) -> str:
        return f"{self.rows:,} + {self.test_rows(self.total_rows):,}"

    # Set where the source has an official test split: its last this many examples (load_raw
    # puts them last) are the test set, so scores compare with published ones.
    source_test_rows: int | None = None

    def test_rows(self, total: int) -> int:
        if self.source_test_rows is not None:
            return self.source_test_rows
        return min(round(total * self.test_fraction), self.test_cap)

    @abstractmethod
    def load_raw(self, path: Path) -> tuple[Inputs, Any]:
        """Every labelled example of the source file: (inputs, raw target values)."""

    def fingerprint(self) -> str:
        return f"v{PREPARE_VERSION}"

    def cache_path(self) -> Path:
        return cache_dir() / self.name / self.fingerprint()

    def prepare(self) -> Prepared:
        """The cache, checked (cache_check.py); prepared from the source when it is missing or
        damaged. Raises CacheDamaged when a damaged cache cannot be prepared again."""
        path = self.cache_path()
        meta_file = path / "meta.json"
        problem = None
        if path.exists():
            meta, problem = read_meta(path)
            if meta is not None and problem is None:
                return Prepared(
                    path, meta["source"], meta["rows_labelled"], meta["rows_test"], True, meta
                )
        try:
            src, raw = first_available(self.sources(), cache_dir())
        except Exception as exc:
            if problem is None:
                raise
            raise CacheDamaged(
                f"the prepared data of '{self.name}' is damaged ({problem}) and cannot be "
                f"prepared again: {exc}"
            ) from None
        if problem is not None:  # moved aside at once: publish keeps a complete folder it finds
            aside = path.with_name(f"{path.name}.damaged{os.getpid()}")
            with contextlib.suppress(OSError):
                path.rename(aside)
            shutil.rmtree(aside, ignore_errors=True)
            forget(path)
        started = time.perf_counter()
        inputs, y_raw = self.load_raw(raw)
        y, classes = encode_target(y_raw, self.task, self.class_order)
        n_test = self.test_rows(len(y))
        if self.source_test_rows is not None:
            test_idx, pool_idx = np.arange(len(y) - n_test, len(y)), np.arange(len(y) - n_test)
        else:
            order = stratified_order(y, self.task != "regression", 0, TEST_STREAM)
            test_idx, pool_idx = np.sort(order[:n_test]), np.sort(order[n_test:])
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        parts = {}
        for part, idx in (("pool", pool_idx), ("test", test_idx)):
            parts[part] = inputs.take(idx).save(tmp, part)
            np.save(tmp / f"{part}.y.npy", y[idx])
        meta = {
            "dataset": self.name,
            "modality": inputs.modality,
            "source": src.label,
            "source_file": str(raw),
            "source_sha256": sha256_of(raw) if raw.is_file() else None,
            "rows_labelled": len(pool_idx),
            "rows_test": len(test_idx),
            "task": self.task,
            "classes": list(classes),
            "inputs": parts,
            "prepare_seconds": round(time.perf_counter() - started, 3),
            "notes": self.__dict__.pop("_prepare_notes", []),
            "prepare_version": PREPARE_VERSION,
            FILES: record_files(tmp),  # sizes and digests, compared when it is read
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        publish(tmp, path)  # a crash mid-prepare leaves only a .tmp folder, never a half cache
        meta = json.loads(meta_file.read_text())  # ours, or a concurrent preparer's (the same)
        return Prepared(path, src.label, len(pool_idx), len(test_idx), False, meta, problem)

    def _load(self, part: str) -> Split:
        # In-process memo: the worker loads a dataset once for all its trials.
        memo = self.__dict__.setdefault("_loaded", {})
        if part not in memo:
            for attempt in (1, 2):
                prepared = self.prepare()
                kind = KINDS[prepared.meta["modality"]]
                try:
                    X = kind.load(prepared.path, part, prepared.meta["inputs"][part])
                    memo[part] = Split(X, np.load(prepared.path / f"{part}.y.npy"))
                    break
                except (OSError, ValueError, EOFError, KeyError) as exc:
                    # Changed under us (deleted or damaged since it was checked): check again,
                    # which prepares it anew; a second failure is the cache's, named.
                    forget(prepared.path)
                    if attempt == 2:
                        raise CacheDamaged(
                            f"the prepared data of '{self.name}' in {prepared.path} cannot be "
                            f"read ({type(exc).__name__}: {first_line(exc, 160)})"
                        ) from None
        return memo[part]

    def classes(self) -> tuple[str, ...]:
        return tuple(self.prepare().meta["classes"])

    def notes(self) -> tuple[str, ...]:
        return tuple(self.prepare().meta.get("notes", []))

    def labelled_rows(self, n: int, seed: int) -> np.ndarray:
        pool = self._load("pool")
        if n > len(pool):
            raise ValueError(f"{self.name}: n={n} exceeds the {len(pool)} labelled rows")
        classification = self.task != "regression"
        order = stratified_order(pool.y, classification, seed, SUBSAMPLE_STREAM)
        if not classification:
            return order[:n]
        return every_class_twice(order, pool.y, n, self.name)

    def labelled(self, n: int, seed: int) -> Split:
        return self._load("pool").take(self.labelled_rows(n, seed))

    def pool(self) -> Split:
        """Every labelled example (what `labelled_rows` positions index)."""
        return self._load("pool")

    def test(self) -> Split:
        return self._load("test")


def type_columns(frame: pd.DataFrame, categorical: tuple[str, ...] | None = None) -> Table:
    """Numeric features → float32, the rest → pandas `category` (levels from these rows)."""
    import pandas as pd

    X = frame.copy()
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
    return Table(X[numeric + cats], tuple(numeric), tuple(cats))


class TableDataset(CachedDataset):
    """A fixed table: `read` gives the raw frame with the target in column `TARGET`."""

    categorical: tuple[str, ...] | None = None  # None: every non-numeric column

    @abstractmethod
    def read(self, path: Path) -> pd.DataFrame:
        """The raw table from the source file, target column `TARGET`."""

    def load_raw(self, path: Path) -> tuple[Inputs, Any]:
        frame = self.read(path)
        # Rows with a missing target are not labelled examples; drop them before typing, so
        # category levels come from the examples alone.
        frame = frame[frame[TARGET].notna()].reset_index(drop=True)
        y_raw = frame.pop(TARGET)
        frame, notes = clean_table(frame, keep=self.categorical or ())
        self._prepare_notes = notes  # kept in the prepared data's meta.json
        return type_columns(frame, self.categorical), y_raw
