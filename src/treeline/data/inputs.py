"""Typed inputs, one class per modality: what a dataset's rows are, before any model sees them.

Every kind takes a subset of rows by index without copying: `take(idx)` composes an index over
the shared storage (a memory-mapped array, a Parquet-loaded frame), and rows are gathered only
when a model reads them (`.frame`, `.pixels`, ...). Each kind saves itself into a cache folder
and loads back memory-mapped, so a large image or audio set is stored once for every cell.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def _compose(index: np.ndarray | None, idx: np.ndarray, length: int) -> np.ndarray:
    idx = np.asarray(idx, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= length):
        raise IndexError(f"row index out of range for {length} rows")
    return idx if index is None else index[idx]


class Inputs(ABC):
    """The rows of one split in one modality. Subclasses are small frozen views."""

    modality: ClassVar[str]

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def take(self, idx: np.ndarray) -> Inputs:
        """The rows at positions `idx`, as a view over the same storage."""

    @abstractmethod
    def save(self, folder: Path, part: str) -> dict[str, Any]:
        """Write the rows (materialized) under `folder` with prefix `part`; return metadata."""

    @classmethod
    @abstractmethod
    def load(cls, folder: Path, part: str, meta: dict[str, Any]) -> Inputs:
        """Read back what `save` wrote (arrays memory-mapped)."""


@dataclass(frozen=True, eq=False)
class _ArrayView(Inputs):
    """Rows of one N×... array (possibly memory-mapped), through an optional index."""

    base: np.ndarray
    index: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.base) if self.index is None else len(self.index)

    def take(self, idx: np.ndarray) -> _ArrayView:
        return type(self)(self.base, _compose(self.index, idx, len(self)), **self._extra())

    def _extra(self) -> dict[str, Any]:
        return {}

    @property
    def values(self) -> np.ndarray:
        """The selected rows (a copy of just those rows; the whole array when unindexed)."""
        return np.asarray(self.base) if self.index is None else np.asarray(self.base[self.index])

    def save(self, folder: Path, part: str) -> dict[str, Any]:
        np.save(folder / f"{part}.npy", self.values)
        return {"dtype": str(self.base.dtype), **self._extra()}

    @classmethod
    def load(cls, folder: Path, part: str, meta: dict[str, Any]) -> _ArrayView:
        extra = {k: v for k, v in meta.items() if k != "dtype"}
        return cls(np.load(folder / f"{part}.npy", mmap_mode="r"), None, **extra)


@dataclass(frozen=True, eq=False)
class Images(_ArrayView):
    """uint8 images, N×C×H×W."""

    modality: ClassVar[str] = "image"

    def __post_init__(self) -> None:
        if self.base.ndim != 4 or self.base.dtype != np.uint8:
            raise ValueError(
                f"images must be uint8 N×C×H×W, got {self.base.dtype} {self.base.shape}"
            )

    @property
    def shape(self) -> tuple[int, int, int]:
        """(channels, height, width)."""
        return tuple(int(s) for s in self.base.shape[1:])  # type: ignore[return-value]

    @property
    def pixels(self) -> np.ndarray:
        return self.values


@dataclass(frozen=True, eq=False)
class Text(_ArrayView):
    """One string per row."""

    modality: ClassVar[str] = "text"

    @property
    def strings(self) -> list[str]:
        return [str(s) for s in self.values]

    def save(self, folder: Path, part: str) -> dict[str, Any]:
        # JSON, not NPY: an object array would need pickle to load.
        (folder / f"{part}.json").write_text(json.dumps(self.strings))
        return {}

    @classmethod
    def load(cls, folder: Path, part: str, meta: dict[str, Any]) -> Text:
        strings = json.loads((folder / f"{part}.json").read_text())
        return cls(np.array(strings, dtype=object))


@dataclass(frozen=True, eq=False)
class Ragged(Inputs):
    """Variable-length rows stored end to end: row i is `flat[offsets[i]:offsets[i + 1]]`."""

    flat: np.ndarray  # (total, ...) — time steps (× channels) or samples
    offsets: np.ndarray  # (N + 1,) int64
    index: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.offsets) - 1 if self.index is None else len(self.index)

    def _rows(self) -> np.ndarray:
        return np.arange(len(self.offsets) - 1) if self.index is None else self.index

    def take(self, idx: np.ndarray) -> Ragged:
        return type(self)(
            self.flat, self.offsets, _compose(self.index, idx, len(self)), **self._extra()
        )

    def _extra(self) -> dict[str, Any]:
        return {}

    @property
    def lengths(self) -> np.ndarray:
        rows = self._rows()
        return self.offsets[rows + 1] - self.offsets[rows]

    def row(self, i: int) -> np.ndarray:
        r = int(self._rows()[i])
        return np.asarray(self.flat[self.offsets[r] : self.offsets[r + 1]])

    def __iter__(self):
        return (self.row(i) for i in range(len(self)))

    def save(self, folder: Path, part: str) -> dict[str, Any]:
        rows = [self.row(i) for i in range(len(self))]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(r) for r in rows])
        empty = np.zeros((0, *self.flat.shape[1:]), dtype=self.flat.dtype)
        np.save(folder / f"{part}.npy", np.concatenate(rows) if rows else empty)
        np.save(folder / f"{part}.offsets.npy", offsets)
        return {"dtype": str(self.flat.dtype), **self._extra()}

    @classmethod
    def load(cls, folder: Path, part: str, meta: dict[str, Any]) -> Ragged:
        extra = {k: v for k, v in meta.items() if k != "dtype"}
        return cls(
            np.load(folder / f"{part}.npy", mmap_mode="r"),
            np.load(folder / f"{part}.offsets.npy"),
            None,
            **extra,
        )


@dataclass(frozen=True, eq=False)
class Sequences(Inputs):
    """Time series: N×C×T float32, or ragged (each row T_i×C) with their lengths."""

    modality: ClassVar[str] = "sequence"
    dense: _ArrayView | None = None
    ragged: Ragged | None = None

    def __post_init__(self) -> None:
        if (self.dense is None) == (self.ragged is None):
            raise ValueError("sequences are either dense (N×C×T) or ragged, not both")

    @classmethod
    def from_array(cls, values: np.ndarray) -> Sequences:
        if values.ndim != 3:
            raise ValueError(f"dense sequences must be N×C×T, got shape {values.shape}")
        return cls(dense=_ArrayView(values))

    @classmethod
    def from_rows(cls, rows: list[np.ndarray]) -> Sequences:
        """Rows of shape (T_i, C) or (T_i,)."""
        rows = [np.asarray(r, dtype=np.float32).reshape(len(r), -1) for r in rows]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(r) for r in rows])
        return cls(ragged=Ragged(np.concatenate(rows), offsets))

    @property
    def part(self) -> Inputs:
        return self.dense if self.dense is not None else self.ragged  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self.part)

    def take(self, idx: np.ndarray) -> Sequences:
        if self.dense is not None:
            return Sequences(dense=self.dense.take(idx))
        return Sequences(ragged=self.ragged.take(idx))  # type: ignore[union-attr]

    @property
    def lengths(self) -> np.ndarray:
        if self.dense is not None:
            return np.full(len(self), self.dense.base.shape[2], dtype=np.int64)
        return self.ragged.lengths  # type: ignore[union-attr]

    @property
    def channels(self) -> int:
        if self.dense is not None:
            return int(self.dense.base.shape[1])
        return int(np.prod(self.ragged.flat.shape[1:]))  # type: ignore[union-attr]

    def padded(self, length: int | None = None, fill: float = 0.0) -> np.ndarray:
        """N×C×T float32: ragged rows padded at the end with `fill` (or cut) to `length`,
        by default the longest row's."""
        if self.dense is not None and length in (None, self.dense.base.shape[2]):
            return np.asarray(self.dense.values, dtype=np.float32)
        lengths = self.lengths
        T = int(length if length is not None else (lengths.max() if len(self) else 0))
        out = np.full((len(self), self.channels, T), fill, dtype=np.float32)
        for i in range(len(self)):
            row = self.row(i)[:T]  # (T_i, C)
            out[i, :, : len(row)] = row.T
        return out

    def row(self, i: int) -> np.ndarray:
        """Row i as (T_i, C)."""
        if self.dense is not None:
            return np.asarray(self.dense.take(np.array([i])).values[0]).T
        return self.ragged.row(i)  # type: ignore[union-attr]

    def save(self, folder: Path, part: str) -> dict[str, Any]:
        return {"ragged": self.ragged is not None, **self.part.save(folder, part)}

    @classmethod
    def load(cls, folder: Path, part: str, meta: dict[str, Any]) -> Sequences:
        rest = {k: v for k, v in meta.items() if k != "ragged"}
        if meta["ragged"]:
            return cls(ragged=Ragged.load(folder, part, rest))
        return cls(dense=_ArrayView.load(folder, part, rest))


@dataclass(frozen=True, eq=False)
class _Waveforms(Ragged):
    sample_rate: int = 16_000

    def _extra(self) -> dict[str, Any]:
        return {"sample_rate": self.sample_rate}


@dataclass(frozen=True, eq=False)
class Audio(Inputs):
    """Mono waveforms (float32, ragged) at one sample rate."""

    modality: ClassVar[str] = "audio"
    waves: _Waveforms

    @classmethod
    def from_clips(cls, clips: list[np.ndarray], sample_rate: int) -> Audio:
        offsets = np.zeros(len(clips) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(c) for c in clips])
        flat = np.concatenate([np.asarray(c, dtype=np.float32) for c in clips])
        return cls(_Waveforms(flat, offsets, None, sample_rate))

    @property
    def sample_rate(self) -> int:
        return self.waves.sample_rate

    def __len__(self) -> int:
        return len(self.waves)

    def take(self, idx: np.ndarray) -> Audio:
        return Audio(self.waves.take(idx))  # type: ignore[arg-type]

    def clip(self, i: int) -> np.ndarray:
        return self.waves.row(i)

    @property
    def lengths(self) -> np.ndarray:
        return self.waves.lengths

    def save(self, folder: Path, part: str) -> dict[str, Any]:
        return self.waves.save(folder, part)

    @classmethod
    def load(cls, folder: Path, part: str, meta: dict[str, Any]) -> Audio:
        return cls(_Waveforms.load(folder, part, meta))  # type: ignore[arg-type]


@dataclass(frozen=True, eq=False)
class Table(Inputs):
    """Columns typed once: numeric (float32) and categorical (pandas `category`) — and, from a
    sparse featurizer (TF-IDF), a block of sparse numeric columns: a SciPy CSR matrix over the
    same rows, named `sparse_names`, which no one densifies (tree libraries take CSR)."""

    modality: ClassVar[str] = "tabular"
    source: pd.DataFrame
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    index: np.ndarray | None = None
    sparse: Any = None  # scipy.sparse.csr_matrix, rows aligned with `source`
    sparse_names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.source) if self.index is None else len(self.index)

    def take(self, idx: np.ndarray) -> Table:
        return Table(
            self.source,
            self.numeric,
            self.categorical,
            _compose(self.index, idx, len(self)),
            self.sparse,
            self.sparse_names,
        )

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The selected rows' dense columns as a DataFrame (gathered once, on first use)."""
        if self.index is None:
            return self.source
        return self.source.iloc[self.index].reset_index(drop=True)

    @property
    def is_sparse(self) -> bool:
        return self.sparse is not None

    @cached_property
    def sparse_rows(self) -> Any:
        """The selected rows of the sparse block (CSR)."""
        return self.sparse if self.index is None else self.sparse[self.index]

    def csr(self) -> tuple[Any, list[str], list[int]]:
        """Every column as one CSR matrix — the sparse block, then numeric, then categorical
        columns as category codes (missing: NaN) — with the names and the categorical columns'
        positions, for the libraries that take sparse input."""
        import scipy.sparse as sp

        frame = self.frame
        dense = [frame[c].to_numpy(dtype=np.float32) for c in self.numeric] + [
            np.where(frame[c].cat.codes < 0, np.nan, frame[c].cat.codes).astype(np.float32)
            for c in self.categorical
        ]
        blocks = [self.sparse_rows] if self.is_sparse else []
        if dense:
            blocks.append(sp.csr_matrix(np.column_stack(dense)))
        matrix = sp.hstack(blocks, format="csr", dtype=np.float32) if blocks else None
        names = [*self.sparse_names, *self.numeric, *self.categorical]
        first_cat = len(self.sparse_names) + len(self.numeric)
        return matrix, names, list(range(first_cat, len(names)))

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical + self.sparse_names

    def join(self, *others: Table) -> Table:
        """These rows' columns and the dense columns of other tables over the same rows (their
        names must differ); a sparse block stays this table's."""
        import pandas as pd

        frames = [self.frame.reset_index(drop=True)]
        numeric, categorical = list(self.numeric), list(self.categorical)
        for t in others:
            if t.is_sparse:
                raise ValueError("only one table of a join may have a sparse block")
            frames.append(t.frame.reset_index(drop=True))
            numeric += t.numeric
            categorical += t.categorical
        frame = pd.concat(frames, axis=1)
        shared = frame.columns[frame.columns.duplicated()]
        if len(shared):
            raise ValueError(f"joined tables share columns: {sorted(shared)}")
        sparse = self.sparse_rows if self.is_sparse else None
        return Table(frame, tuple(numeric), tuple(categorical), None, sparse, self.sparse_names)

    def save(self, folder: Path, part: str) -> dict[str, Any]:
        self.frame.to_parquet(folder / f"{part}.parquet", index=False)
        meta = {"numeric": list(self.numeric), "categorical": list(self.categorical)}
        if self.is_sparse:
            import scipy.sparse as sp

            sp.save_npz(folder / f"{part}.sparse.npz", self.sparse_rows.tocsr())
            meta |= {"sparse_names": list(self.sparse_names), "rows": len(self)}
        return meta

    @classmethod
    def load(cls, folder: Path, part: str, meta: dict[str, Any]) -> Table:
        import pandas as pd

        frame = pd.read_parquet(folder / f"{part}.parquet")
        if "sparse_names" not in meta:
            return cls(frame, tuple(meta["numeric"]), tuple(meta["categorical"]))
        import scipy.sparse as sp

        if frame.shape[1] == 0:  # Parquet keeps no row count without columns
            frame = pd.DataFrame(index=pd.RangeIndex(meta["rows"]))
        sparse = sp.load_npz(folder / f"{part}.sparse.npz").tocsr()
        return cls(
            frame,
            tuple(meta["numeric"]),
            tuple(meta["categorical"]),
            None,
            sparse,
            tuple(meta["sparse_names"]),
        )


@dataclass(frozen=True, eq=False)
class Multimodal(Inputs):
    """Named parts of other kinds over the same rows, e.g. {"text": Text, "table": Table}."""

    modality: ClassVar[str] = "multimodal"
    parts: dict[str, Inputs] = field(default_factory=dict)

    def __post_init__(self) -> None:
        sizes = {name: len(p) for name, p in self.parts.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"multimodal parts differ in rows: {sizes}")

    def __len__(self) -> int:
        return len(next(iter(self.parts.values()))) if self.parts else 0

    def take(self, idx: np.ndarray) -> Multimodal:
        return Multimodal({name: p.take(idx) for name, p in self.parts.items()})

    def save(self, folder: Path, part: str) -> dict[str, Any]:
        return {
            name: {"kind": p.modality, **p.save(folder, f"{part}.{name}")}
            for name, p in self.parts.items()
        }

    @classmethod
    def load(cls, folder: Path, part: str, meta: dict[str, Any]) -> Multimodal:
        parts = {}
        for name, m in meta.items():
            rest = {k: v for k, v in m.items() if k != "kind"}
            parts[name] = KINDS[m["kind"]].load(folder, f"{part}.{name}", rest)
        return cls(parts)


KINDS: dict[str, type[Inputs]] = {
    k.modality: k for k in (Table, Images, Sequences, Audio, Text, Multimodal)
}
MODALITIES: tuple[str, ...] = tuple(KINDS)
