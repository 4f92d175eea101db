"""Bring your own series: a long-format CSV or Parquet — a row per (series id, time step,
optional channel) with its value — labelled by a target column in it or in a `labels` file keyed
by the same id; or a NumPy array (`.npy`: N×T, or N×C×T) with a `labels` file (`.npy`, a `.txt`
of one label per line, or a CSV with the `target` column) in the same order.

    datasets:
      - series: sensors.csv
        columns: {id: unit, time: t, value: reading, channel: axis}  # default: id, time, value
        target: activity
        task: multiclass

Series keep their own lengths (ragged, as the built-in sets with series of many lengths).
Refused before any cell, with the file, the field and the first few lines or ids: files not
found or unreadable, missing columns, values that are not numbers or are missing, time steps
that do not sort, a step given twice, a channel missing at a step, a series shorter than
MIN_STEPS (a labelled series with no steps is one of length 0), a target that changes within a
series, labels that do not match the series in number or id, classes with too few series, an
array of Python objects (never unpickled) or of the wrong shape. Handled and said in the data
notes: steps out of order (sorted), series of different lengths (the range), trailing NaN in an
array's rows (padding: cut), series without a label (left out).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from treeline.data.dataset import PREPARE_VERSION, CachedDataset, Task
from treeline.data.inputs import Inputs, Sequences
from treeline.data.sources import LocalFile, Source, sha256_of
from treeline.errors import first_line, line_numbers, shown

if TYPE_CHECKING:
    import pandas as pd

MIN_STEPS = 2  # one step is a table's row, not a series
LONG_FORMATS = (".csv", ".csv.gz", ".parquet", ".pq")
LABEL_FORMATS = (".npy", ".txt", ".csv", ".parquet", ".pq")


class BadSeries(ValueError):
    """Problems of the user's series, each (the suite's field, the message)."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(m for _, m in problems))
        self.problems = problems


@dataclass(frozen=True)
class Columns:
    """A long-format file's columns."""

    id: str = "id"
    time: str = "time"
    value: str = "value"
    channel: str | None = None


def _read(path: Path, field: str, sep: str | None) -> pd.DataFrame:
    from treeline.data.tabular.user_file import read_table

    if not path.is_file():
        raise BadSeries([(field, f"{'not a file' if path.exists() else 'file not found'}: {path}")])
    try:
        return read_table(path, sep=sep)
    except UnicodeDecodeError:
        raise BadSeries([(field, f"{path.name} is not UTF-8 text: save it as UTF-8")]) from None
    except Exception as exc:  # any reader error is the user's file
        raise BadSeries([(field, f"cannot read {path.name}: {first_line(exc)}")]) from None


def _missing_columns(
    frame: pd.DataFrame, wanted: dict[str, str], name: str
) -> list[tuple[str, str]]:
    from treeline.errors import unknown_name

    names = [str(c) for c in frame.columns]
    return [
        (field, unknown_name(f"column in {name}", column, names[:30]))
        for field, column in wanted.items()
        if column not in frame.columns
    ]


def read_long(
    path: Path, cols: Columns, target: str, labels: Path | None, sep: str | None
) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """A long-format file's series (each T_i×C, float32, time-sorted), their labels and the data
    notes; BadSeries with every problem found."""
    import pandas as pd

    frame = _read(path, "series", sep)
    wanted = {f"columns.{k}": v for k, v in vars(cols).items() if v is not None}
    if labels is None:
        wanted["target"] = target
    problems = _missing_columns(frame, wanted, path.name)
    if problems:
        raise BadSeries(problems)
    if frame.empty:
        raise BadSeries([("series", f"{path.name} has a header but no rows")])
    values = pd.to_numeric(frame[cols.value], errors="coerce")
    given = frame[cols.value].astype("string").str.strip().fillna("") != ""
    words = frame.index[values.isna() & given]
    empty = frame.index[~given]
    if len(words):
        tokens = ", ".join(repr(str(t)) for t in frame.loc[words[:3], cols.value])
        problems.append(
            ("columns.value", f"{len(words):,} values of column '{cols.value}' in {path.name} are "
             f"not numbers ({tokens}; lines {line_numbers(words)})")
        )  # fmt: skip
    if len(empty):
        problems.append(
            ("columns.value", f"{len(empty):,} steps have no value in column '{cols.value}' of "
             f"{path.name} (lines {line_numbers(empty)}): fill or drop them")
        )  # fmt: skip
    for field, column in (("id", cols.id), ("time", cols.time), ("channel", cols.channel)):
        if column is None:
            continue
        blank = frame.index[frame[column].astype("string").str.strip().fillna("") == ""]
        if len(blank):
            problems.append(
                (f"columns.{field}", f"{len(blank):,} steps have no {field} in column "
                 f"'{column}' of {path.name} (lines {line_numbers(blank)}): fill or drop them")
            )  # fmt: skip
    if problems:
        raise BadSeries(problems)
    time = _sortable(frame[cols.time])
    if time is None:
        problems.append(
            ("columns.time", f"column '{cols.time}' of {path.name} is neither numbers nor dates: "
             "its steps cannot be put in order")
        )  # fmt: skip
    key = [cols.id, cols.time] + ([cols.channel] if cols.channel else [])
    twice = frame.index[frame.duplicated(key, keep="first")]
    if len(twice):
        problems.append(
            ("series", f"{len(twice):,} steps of {path.name} repeat a series' "
             f"{'time and channel' if cols.channel else 'time'} (lines {line_numbers(twice)})")
        )  # fmt: skip
    if problems:
        raise BadSeries(problems)
    frame = frame.assign(**{cols.value: values.astype(np.float32), "__t": time})
    notes: list[str] = []
    ids = frame[cols.id].astype(str)
    out_of_order = int((frame.assign(__id=ids).groupby("__id")["__t"].apply(
        lambda t: not t.is_monotonic_increasing)).sum())  # fmt: skip
    if out_of_order:
        notes.append(f"steps out of time order in {out_of_order:,} series: sorted")
    frame = frame.assign(__id=ids).sort_values(["__id", "__t"], kind="stable")
    if cols.channel:
        wide = frame.pivot(index=["__id", "__t"], columns=cols.channel, values=cols.value)
        gaps = wide.isna().any(axis=1)
        if gaps.any():
            first = wide.index[gaps][:3]
            where = "; ".join(f"series '{i}' at time {t}" for i, t in first)
            raise BadSeries(
                [("columns.channel", f"{int(gaps.sum()):,} time steps lack a value of some "
                  f"channel in {path.name} ({where}): every channel needs a value at every step")]
            )  # fmt: skip
        grouped = {i: g.to_numpy(np.float32) for i, g in wide.groupby(level=0, sort=False)}
    else:
        grouped = {
            i: g.to_numpy(np.float32)[:, None]
            for i, g in frame.groupby("__id", sort=False)[cols.value]
        }
    label_of = _labels_of(frame, cols, target, labels, path, notes)
    short = [i for i in label_of if len(grouped.get(i, ())) < MIN_STEPS]
    if short:
        shown_ids = [f"'{i}' ({len(grouped.get(i, ()))})" for i in short]
        raise BadSeries(
            [("series", f"{len(short):,} labelled series of {path.name} have fewer than "
              f"{MIN_STEPS} steps: {shown(shown_ids)}")]
        )  # fmt: skip
    order = list(label_of)
    rows = [grouped[i] for i in order]
    y = np.array([label_of[i] for i in order], dtype=object)
    return rows, y, notes + _length_notes(rows)


def _sortable(column: pd.Series) -> pd.Series | None:
    """The time column as numbers (or dates as nanoseconds), or None."""
    import pandas as pd

    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.notna().all():
        return numbers
    try:
        dates = pd.to_datetime(column, errors="coerce", format="mixed")
    except (ValueError, TypeError):
        return None
    return dates.astype("int64") if dates.notna().all() else None


def _labels_of(
    frame: pd.DataFrame,
    cols: Columns,
    target: str,
    labels: Path | None,
    path: Path,
    notes: list[str],
) -> dict[str, Any]:
    """Each labelled series' label, in the order series first appear in the file."""
    series = list(dict.fromkeys(frame[cols.id].astype(str).sort_index().tolist()))
    if labels is None:
        per = frame.dropna(subset=[target]).groupby("__id")[target]
        changing = per.nunique()
        changing = changing[changing > 1].index.tolist()
        if changing:
            raise BadSeries(
                [("target", f"column '{target}' changes within {len(changing):,} series of "
                  f"{path.name}: {shown([repr(i) for i in changing])}; a series has one label")]
            )  # fmt: skip
        found = per.first().to_dict()
    else:
        table = _read(labels, "labels", None)
        problems = _missing_columns(table, {"columns.id": cols.id, "target": target}, labels.name)
        if problems:
            raise BadSeries([(f, m.replace("column in", "column in labels")) for f, m in problems])
        ids = table[cols.id].astype(str)
        twice = ids[ids.duplicated()].tolist()
        if twice:
            raise BadSeries(
                [("labels", f"{len(twice):,} ids are labelled twice in {labels.name}: "
                  f"{shown([repr(i) for i in twice])}")]
            )  # fmt: skip
        found = dict(zip(ids, table[target], strict=True))
        found = {i: v for i, v in found.items() if v == v and v is not None and str(v) != ""}
        absent = [i for i in found if i not in set(series)]
        if absent:
            raise BadSeries(
                [("labels", f"{len(absent):,} series labelled in {labels.name} have no steps in "
                  f"{path.name} (series of length 0): {shown([repr(i) for i in absent])}")]
            )  # fmt: skip
    unlabelled = [i for i in series if i not in found]
    if unlabelled:
        notes.append(f"{len(unlabelled):,} series without a label left out ({shown(unlabelled)})")
    if not found:
        raise BadSeries([("target", f"no series of {path.name} has a label")])
    return {i: found[i] for i in series if i in found}


def read_arrays(
    path: Path, labels: Path, target: str | None
) -> tuple[Sequences, np.ndarray, list[str]]:
    """An N×T or N×C×T array and its labels, in order; BadSeries with the problems."""
    if not path.is_file():
        raise BadSeries(
            [("series", f"{'not a file' if path.exists() else 'file not found'}: {path}")]
        )
    try:
        X = np.load(path, allow_pickle=False)  # never unpickle a user's file
    except ValueError as exc:
        why = (
            "it holds Python objects: save a numeric array"
            if "pickle" in str(exc)
            else first_line(exc)
        )
        raise BadSeries([("series", f"cannot read {path.name}: {why}")]) from None
    except Exception as exc:
        raise BadSeries([("series", f"cannot read {path.name}: {first_line(exc)}")]) from None
    if X.ndim not in (2, 3) or not np.issubdtype(X.dtype, np.number):
        raise BadSeries(
            [("series", f"{path.name} must be a numeric array of N series × T steps (or N × "
              f"channels × T), got {X.dtype} of shape {X.shape}")]
        )  # fmt: skip
    X = X.astype(np.float32)
    if X.ndim == 2:
        X = X[:, None, :]
    y = _label_array(labels, target, len(X))
    notes: list[str] = []
    finite = np.isfinite(X).all(axis=1)  # N×T: every channel a number at this step
    lengths = np.where(finite.any(axis=1), X.shape[2] - np.argmax(finite[:, ::-1], axis=1), 0)
    inner = [i for i in range(len(X)) if not finite[i, : lengths[i]].all()]
    if inner:
        raise BadSeries(
            [("series", f"{len(inner):,} series of {path.name} have missing values before their "
              f"last number (rows {shown([str(i) for i in inner])}): fill them")]
        )  # fmt: skip
    short = [str(i) for i in range(len(X)) if lengths[i] < MIN_STEPS]
    if short:
        raise BadSeries(
            [("series", f"{len(short):,} series of {path.name} have fewer than {MIN_STEPS} steps "
              f"(rows {shown(short)}; a row of NaN is a series of length 0)")]
        )  # fmt: skip
    keep = np.array([v is not None and v == v and str(v) != "" for v in y])
    if not keep.all():
        notes.append(f"{int((~keep).sum()):,} series without a label left out")
    X, y, lengths = X[keep], y[keep], lengths[keep]
    if (lengths < X.shape[2]).any():
        notes.append(
            f"trailing NaN in {int((lengths < X.shape[2]).sum()):,} rows are padding: each series "
            "cut at its last number"
        )
        rows = [X[i, :, : lengths[i]].T for i in range(len(X))]
        return Sequences.from_rows(rows), y, notes + _length_notes(rows)
    return Sequences.from_array(np.ascontiguousarray(X)), y, notes


def _label_array(labels: Path, target: str | None, n: int) -> np.ndarray:
    name = labels.name.lower()
    if not name.endswith(LABEL_FORMATS):
        raise BadSeries(
            [("labels", f"must be one of {', '.join(LABEL_FORMATS)}, got '{labels.name}'")]
        )
    if not labels.is_file():
        raise BadSeries([("labels", f"file not found: {labels}")])
    try:
        if name.endswith(".npy"):
            y = np.load(labels, allow_pickle=False)
            if y.ndim != 1:
                raise BadSeries(
                    [
                        (
                            "labels",
                            f"{labels.name} must hold one label per series, got shape {y.shape}",
                        )
                    ]
                )
        elif name.endswith(".txt"):
            y = np.array(labels.read_text(encoding="utf-8").splitlines(), dtype=object)
            while len(y) and y[-1].strip() == "":  # a final newline is no label
                y = y[:-1]
        else:
            table = _read(labels, "labels", None)
            if target is None or target not in table.columns:
                problems = _missing_columns(table, {"target": target or "target"}, labels.name)
                raise BadSeries(problems)
            y = table[target].to_numpy(dtype=object)
    except BadSeries:
        raise
    except Exception as exc:
        raise BadSeries([("labels", f"cannot read {labels.name}: {first_line(exc)}")]) from None
    if len(y) != n:
        raise BadSeries(
            [
                (
                    "labels",
                    f"{labels.name} holds {len(y):,} labels for {n:,} series: one per series, "
                    "in order",
                )
            ]
        )
    return np.asarray(y, dtype=object)


def _length_notes(rows: list[np.ndarray]) -> list[str]:
    lengths = np.array([len(r) for r in rows])
    if len(lengths) and lengths.max() > lengths.min():
        return [
            f"series of {lengths.min():,}-{lengths.max():,} steps (median "
            f"{int(np.median(lengths)):,}): each kept at its own length"
        ]
    return []


class UserSeries(CachedDataset):
    """A user's series (long format or an array) with their labels."""

    modality = "sequence"
    license = "user's own"

    def __init__(
        self,
        path: Path,
        label: str,
        task: Task,
        target: str | None,
        labels: Path | None,
        columns: Columns,
        sep: str | None = None,
        total_rows: int = 0,
    ):
        self.path, self.name, self.task, self.target = path, label, task, target
        self.labels, self.columns, self.sep = labels, columns, sep
        self.total_rows = total_rows
        self.description = f"user series {path.name} (target {target or labels})"

    def sources(self) -> list[Source]:
        return [LocalFile(self.path)]

    def fingerprint(self) -> str:
        if "_fingerprint" not in self.__dict__:
            h = hashlib.sha256(sha256_of(self.path).encode())
            if self.labels is not None and self.labels.is_file():
                h.update(sha256_of(self.labels).encode())
            h.update(repr((vars(self.columns), self.target, self.sep)).encode())
            self._fingerprint = f"v{PREPARE_VERSION}-{h.hexdigest()[:16]}"
        return self._fingerprint

    def load_raw(self, path: Path) -> tuple[Inputs, Any]:
        if path.name.lower().endswith(".npy"):
            assert self.labels is not None
            X, y, notes = read_arrays(path, self.labels, self.target)
        else:
            assert self.target is not None
            rows, y, notes = read_long(path, self.columns, self.target, self.labels, self.sep)
            X = Sequences.from_rows(rows)
        self._prepare_notes = notes
        return X, y


def check_series(dataset: UserSeries) -> list[tuple[str, str]]:
    """The series read, checked and cached now (before any cell), or their problems; on
    success the dataset knows its number of labelled series."""
    import pandas as pd

    from treeline.data.tabular.user_file import table_problems

    if (
        dataset.path.is_file() and (dataset.cache_path() / "meta.json").is_file()
    ):  # read and checked before: as cached
        prepared = dataset.prepare()
        dataset.total_rows = prepared.rows_labelled + prepared.rows_test
        return []
    try:
        if dataset.path.name.lower().endswith(".npy"):
            assert dataset.labels is not None
            _, y, _ = read_arrays(dataset.path, dataset.labels, dataset.target)
        else:
            assert dataset.target is not None
            _, y, _ = read_long(
                dataset.path, dataset.columns, dataset.target, dataset.labels, dataset.sep
            )
    except BadSeries as exc:
        return exc.problems
    frame = pd.DataFrame({"target": pd.Series(y, dtype=object)})
    problems = table_problems(frame, "target", dataset.task, dataset.path.name)
    if problems:
        what = dataset.target or "labels"
        return [(k, m.replace("column 'target'", f"'{what}'")) for k, m in problems]
    dataset.total_rows = len(y)
    dataset.prepare()
    return []
