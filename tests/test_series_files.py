"""Bring your own series: a long-format table (id, time, channel, value) labelled in it or in a
labels file, or an .npy array with its labels; ragged lengths kept. A corpus of bad inputs, each
refused at the suite's line with the file and what is wrong, and of odd ones, handled and said in
the data notes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.refusals import Case, assert_refused, corpus
from treeline.cli import main

SUITE = """\
name: mine
description: my sensors
budget: 3
max_trials: 1
seeds: [0]
datasets:
  - series: {series}
    task: {task}{extra}
    n: [16]
contenders: {contenders}
"""


def make_long(root: Path, series: int = 30, channels: bool = True) -> Path:
    """`sensors.csv`: per unit a ragged series of 20-39 steps on two axes, and its activity."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(series):
        kind = ("walk", "run", "sit")[u % 3]
        freq = {"walk": 1.0, "run": 3.0, "sit": 0.2}[kind]
        for t in range(20 + (u * 7) % 20):
            for axis in ("x", "y") if channels else ("x",):
                value = np.sin(freq * t / 3 + (axis == "y")) + rng.normal(0, 0.1)
                rows.append({"unit": f"u{u}", "t": t, "axis": axis, "reading": round(value, 4),
                             "activity": kind})  # fmt: skip
    path = root / "sensors.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


LONG = "\n    target: activity\n    columns: {id: unit, time: t, value: reading, channel: axis}"


def _suite(
    tmp_path: Path,
    series: str = "sensors.csv",
    extra: str = LONG,
    task: str = "multiclass",
    contenders: str = "[lightgbm+catch22]",
) -> Path:
    suite = tmp_path / "mine.yaml"
    suite.write_text(SUITE.format(series=series, task=task, extra=extra, contenders=contenders))
    return suite


def _edit(path: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    frame = pd.read_csv(path, keep_default_na=False, dtype={"reading": str, "t": str})
    change(frame).to_csv(path, index=False)


def _set(row: int, column: str, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row, column] = value
        return frame

    return change


def _labels(root: Path, rows: dict[str, str]) -> None:
    pd.DataFrame({"unit": list(rows), "activity": list(rows.values())}).to_csv(
        root / "labels.csv", index=False
    )


# (what is wrong, how to make it from good files, the suite's extra keys, the message)
LONG_REFUSED: list[Case] = [
    ("no such file", lambda p: p.unlink(), LONG, "file not found"),
    ("a misspelt value column", lambda p: None, LONG.replace("reading", "readng"),
     "unknown column in sensors.csv 'readng' (did you mean 'reading'?)"),
    ("a value that is not a number", lambda p: _edit(p, _set(4, "reading", "high")), LONG,
     "1 values of column 'reading' in sensors.csv are not numbers ('high'; lines 6)"),
    ("a step without a value", lambda p: _edit(p, _set(7, "reading", "")), LONG,
     "1 steps have no value in column 'reading' of sensors.csv (lines 9)"),
    ("a step without an id", lambda p: _edit(p, _set(10, "unit", "")), LONG,
     "1 steps have no id in column 'unit' of sensors.csv (lines 12)"),
    ("a step without a time", lambda p: _edit(p, _set(11, "t", "")), LONG,
     "1 steps have no time in column 't' of sensors.csv (lines 13)"),
    ("time that is not time", lambda p: _edit(p, _set(0, "t", "soon")), LONG,
     "column 't' of sensors.csv is neither numbers nor dates"),
    ("a step given twice", lambda p: _edit(p, lambda f: pd.concat([f, f.iloc[[3]]])), LONG,
     "1 steps of sensors.csv repeat a series' time and channel"),
    ("a channel missing at a step", lambda p: _edit(p, lambda f: f.drop(index=[1])), LONG,
     "1 time steps lack a value of some channel in sensors.csv (series 'u0' at time 0)"),
    ("a series of one step", lambda p: _edit(
        p, lambda f: f[(f.unit != "u5") | (f.t.astype(int) < 1)]), LONG,
     "1 labelled series of sensors.csv have fewer than 2 steps: 'u5' (1)"),
    ("a label that changes in a series", lambda p: _edit(p, _set(2, "activity", "run")), LONG,
     "column 'activity' changes within 1 series of sensors.csv: 'u0'"),
    ("an id labelled twice", lambda p: _labels(p.parent, {"u0": "walk"}) or (
        p.parent / "labels.csv").write_text("unit,activity\nu0,walk\nu0,run\n"),
     LONG + "\n    labels: labels.csv", "1 ids are labelled twice in labels.csv: 'u0'"),
    ("a labelled series with no steps", lambda p: _labels(
        p.parent, {f"u{u}": ("walk", "run", "sit")[u % 3] for u in range(30)} | {"u99": "walk"}),
     LONG + "\n    labels: labels.csv",
     "1 series labelled in labels.csv have no steps in sensors.csv (series of length 0): 'u99'"),
    ("a class of 2 series", lambda p: _edit(
        p, lambda f: f[~f.unit.isin([f"u{u}" for u in range(2, 30, 3)][2:])]), LONG,
     "class 'sit' (2) of 'activity' has fewer than 3 examples"),
    ("binary for 3 classes", lambda p: None, LONG + "\n    task: binary",
     "binary needs exactly 2 distinct target values"),
    ("no target", lambda p: None, "\n    columns: {id: unit, time: t, value: reading}",
     "a long-format 'series' file needs 'target'"),
    ("columns of an array", lambda p: None, "\n    labels: y.npy\n    columns: {id: unit}",
     "'columns' names a long-format file's columns"),
]  # fmt: skip


@corpus(LONG_REFUSED)
def test_a_bad_long_format_series_file_is_refused_at_its_line_before_any_cell(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], object],
    extra: str,
    message: str,
) -> None:
    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    make(make_long(tmp_path))
    series = "y.npy" if "y.npy" in extra else "sensors.csv"
    suite = _suite(tmp_path, series=series, extra=extra)
    if "task: binary" in extra:
        suite.write_text(suite.read_text().replace("    task: multiclass\n", "", 1))
    assert_refused(capsys, suite, message)


def _arrays(root: Path, X: np.ndarray, y: np.ndarray) -> None:
    np.save(root / "X.npy", X)
    np.save(root / "y.npy", y)


def _good_arrays(root: Path) -> None:
    rng = np.random.default_rng(1)
    y = np.array(["a", "b"] * 15)
    X = rng.normal(0, 1, (30, 2, 25)).astype(np.float32) + (y == "b")[:, None, None]
    _arrays(root, X, y)


def _with(change: Callable[[np.ndarray], object]) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        X = np.load(root / "X.npy")
        change(X)
        np.save(root / "X.npy", X)

    return make


ARRAY_REFUSED: list[Case] = [
    ("an array of objects", lambda r: np.save(r / "X.npy", np.array([[1], "a"], dtype=object)),
     "", "cannot read X.npy: it holds Python objects: save a numeric array"),
    ("an array of 4 dimensions", lambda r: np.save(r / "X.npy", np.zeros((30, 1, 2, 5))), "",
     "X.npy must be a numeric array of N series × T steps"),
    ("labels of another count", lambda r: np.save(r / "y.npy", np.array(["a", "b"] * 14)), "",
     "y.npy holds 28 labels for 30 series: one per series, in order"),
    ("a row of NaN", _with(lambda X: X.__setitem__((3, slice(None), slice(None)), np.nan)), "",
     "1 series of X.npy have fewer than 2 steps (rows 3; a row of NaN is a series of length 0)"),
    ("a gap inside a series", _with(lambda X: X.__setitem__((6, 0, 4), np.nan)), "",
     "1 series of X.npy have missing values before their last number (rows 6)"),
    ("labels as a table", lambda r: np.save(r / "y.npy", np.zeros((30, 2))), "",
     "y.npy must hold one label per series, got shape (30, 2)"),
    ("no labels", lambda r: None, "\n    labels: null", "an array of series (.npy) needs 'labels'"),
]  # fmt: skip


@corpus(ARRAY_REFUSED)
def test_a_bad_array_of_series_is_refused_at_its_line_before_any_cell(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], object],
    extra: str,
    message: str,
) -> None:
    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    _good_arrays(tmp_path)
    make(tmp_path)
    labels = "" if "labels" in extra else "\n    labels: y.npy"
    suite = _suite(tmp_path, "X.npy", labels + extra, task="binary")
    assert_refused(capsys, suite, message)


def test_odd_series_are_handled_and_said_in_the_data_notes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from treeline.execute.resolve import resolve

    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    path = make_long(tmp_path)
    frame = pd.read_csv(path)
    frame = frame.iloc[::-1]  # steps out of order
    frame["t"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(frame["t"], unit="min")  # dates
    frame.loc[frame.unit == "u7", "activity"] = ""  # a series without a label
    frame.to_csv(path, index=False)
    (ds,) = resolve(_suite(tmp_path)).suite.datasets
    dataset = ds.ref.build()
    notes = " | ".join(dataset.notes())
    assert "steps out of time order in 30 series: sorted" in notes
    assert "1 series without a label left out (u7)" in notes
    assert "series of 20-39 steps (median 28): each kept at its own length" in notes
    pool, test = dataset.pool(), dataset.test()
    assert len(pool) + len(test) == 29 and pool.X.channels == 2
    assert sorted(int(n) for n in pool.X.lengths)[0] >= 20

    _good_arrays(tmp_path)
    X = np.load(tmp_path / "X.npy")
    X[:4, :, 20:] = np.nan  # padding of shorter series
    np.save(tmp_path / "X.npy", X)
    (ds,) = resolve(_suite(tmp_path, "X.npy", "\n    labels: y.npy", "binary")).suite.datasets
    notes = " | ".join(ds.ref.build().notes())
    assert "trailing NaN in 4 rows are padding: each series cut at its last number" in notes


def test_series_of_one_s_own_run_through_a_network_and_trees_on_features(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from treeline.record.store import Tracker

    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TREELINE_RESULTS", str(tmp_path / "results"))
    make_long(tmp_path)
    suite = _suite(tmp_path, contenders="[cnn1d, lightgbm+catch22]")
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    assert main(["run", str(suite), "--tracking-uri", uri]) == 0
    results = Tracker("mine", uri, create=False).results()
    assert {r.cell.id for r in results} == {
        "sensors/n=16/cnn1d/cpu/s0",
        "sensors/n=16/lightgbm+catch22/cpu/s0",
    }
    assert all(r.status == "ok" for r in results), [r.error for r in results]


def test_networks_that_only_classify_are_refused_on_a_regression_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A series' number to predict (a machine's remaining life): the sequence networks only
    classify, so they are refused at validation, not failed in every cell."""
    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    path = make_long(tmp_path)
    frame = pd.read_csv(path)
    frame["activity"] = frame["unit"].str[1:].astype(float) * 1.5  # a number per series
    frame.to_csv(path, index=False)
    suite = _suite(tmp_path, task="regression", contenders="[cnn1d, lightgbm+catch22]")
    assert main(["validate", str(suite)]) == 2
    err = capsys.readouterr().err
    assert "contender 'cnn1d' classifies only, and 'sensors' is a regression task" in err, err
    suite = _suite(tmp_path, task="regression", contenders="[lightgbm+catch22]")
    assert main(["validate", str(suite)]) == 0
