"""A damaged data cache is found and prepared again, or named — never a contender's failure, and
never an `ok` score on damaged data: truncated files, a broken meta.json, labels flipped, the
test labels swapped for the pool's, a cache deleted while a cell reads it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from treeline.cli import main
from treeline.data import cache_check, get_dataset


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of its own, adult prepared in it: the shared test cache is not to be damaged."""
    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    prepared = get_dataset("adult").prepare()
    assert not prepared.from_cache
    return prepared.path


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip(path: Path) -> None:
    np.save(path, 1 - np.load(path))  # same size, other labels


def _swap(folder: Path) -> None:
    pool, test = (folder / "pool.y.npy").read_bytes(), (folder / "test.y.npy").read_bytes()
    (folder / "pool.y.npy").write_bytes(test)
    (folder / "test.y.npy").write_bytes(pool)


DAMAGES = {
    "truncated parquet": (lambda f: _truncate(f / "pool.parquet"), "pool.parquet has"),
    "truncated npy": (lambda f: _truncate(f / "test.y.npy"), "test.y.npy has"),
    "broken meta.json": (lambda f: (f / "meta.json").write_text("{ not json"), "cannot be read"),
    "labels flipped": (lambda f: _flip(f / "pool.y.npy"), "its SHA-256 differs"),
    "test swapped for the pool": (_swap, "bytes,"),
    "a file deleted": (lambda f: (f / "test.parquet").unlink(), "test.parquet is missing"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_cache_is_prepared_again_and_says_why(cache: Path, damage: str) -> None:
    do, said = DAMAGES[damage]
    before = get_dataset("adult")
    pool_y = np.array(before.pool().y)
    do(cache)
    cache_check._verified.clear()  # digests are compared once per process: this is the next
    again = get_dataset("adult")  # reader, a worker of the next cell
    prepared = again.prepare()
    assert not prepared.from_cache and prepared.repaired and said in prepared.repaired
    assert np.array_equal(again.pool().y, pool_y)  # the data as it was prepared, not as damaged
    assert get_dataset("adult").prepare().from_cache  # and the new cache stands


def test_data_list_and_prepare_name_a_damaged_cache(
    cache: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`data list` threw a traceback on a broken meta.json; `data prepare` called a truncated
    cache "from cache"."""
    monkeypatch.setenv("COLUMNS", "300")  # the whole reason on one line of the table
    (cache / "meta.json").write_text("{ not json")
    assert main(["data", "list"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "damaged" in out and "meta.json cannot be read" in out
    _truncate(cache / "meta.json")
    assert main(["data", "prepare", "adult"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "prepared again from" in out and "the cache was damaged" in out, out
    assert main(["data", "prepare", "adult"]) == 0
    assert "from cache" in capsys.readouterr().out


def test_a_cache_deleted_while_a_cell_reads_it_is_prepared_again(cache: Path) -> None:
    """8 of 12 cells failed when the cache was deleted mid-run."""
    import shutil

    d = get_dataset("adult")
    pool = d.pool()
    shutil.rmtree(cache)
    test = d.test()  # read after the deletion
    assert len(test) > 0 and len(pool) > 0 and (cache / "meta.json").exists()


def test_a_damaged_cache_without_its_source_stops_the_cell_unrecorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A damaged cache whose source is gone (no package, no network): the cell is not run on
    bad data and not recorded as the contender's failure. The worker reports it as the cache's
    (supervise then stops the run with CacheDamaged, the file named)."""
    import io
    import json
    import os

    from cells import a_cell

    from treeline.contenders import contender_class
    from treeline.data.cache_check import CacheDamaged
    from treeline.data.tabular.adult import Adult
    from treeline.execute import worker

    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    folder = get_dataset("adult").cache_path()
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text("{ half written")
    monkeypatch.setattr(Adult, "sources", lambda self: [])  # nothing to prepare it from
    with pytest.raises(CacheDamaged, match=r"meta\.json cannot be read"):
        get_dataset("adult").prepare()
    spec = {"cell": a_cell().to_json(), "contender": contender_class("xgboost").path(),
            "featurizer": None, "replay": None}  # fmt: skip
    read, write = os.pipe()
    assert worker.serve(io.StringIO(json.dumps(spec)), write) == 1
    with os.fdopen(read) as events:
        last = json.loads(events.read().splitlines()[-1])
    assert last["reason"] == "cache" and "meta.json cannot be read" in last["error"], last
