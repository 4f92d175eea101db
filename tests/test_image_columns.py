"""Images named by a table's column: alone (a CSV of paths and labels) or beside other columns
(images + table), run by trees on image features joined with the table and by the fusion
network's CNN tower. A corpus of bad inputs, each refused at the suite's line naming the file,
the lines and what is wrong, before any cell."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.refusals import Case, assert_refused, corpus
from tests.test_image_folders import _png, _truncate
from treeline.cli import main

SUITE = """\
name: mine
description: listings with a photo
budget: 3
max_trials: 1
seeds: [0]
datasets:
  - file: {file}
    target: kind
    task: binary
    image: photo{extra}
    n: [16]
contenders: {contenders}
"""


def make_listing(root: Path, rows: int = 24, table: bool = True) -> Path:
    """`listing.csv` beside `photos/`: a photo, a price and a city per row, and the kind."""
    import pandas as pd

    rng = np.random.default_rng(0)
    kinds = np.array(["flat", "house"])[np.arange(rows) % 2]
    for i in range(rows):
        _png(root / "photos" / f"{i}.png", i * 7 + (kinds[i] == "house") * 100)
    frame = pd.DataFrame({"photo": [f"photos/{i}.png" for i in range(rows)], "kind": kinds})
    if table:
        frame["price"] = rng.normal(300, 50, rows).round(1)
        frame["city"] = rng.choice(["Lyon", "Oslo", "Kyiv"], rows)
    path = root / "listing.csv"
    frame.to_csv(path, index=False)
    return path


def _suite(tmp_path: Path, extra: str = "", contenders: str = "[fusion]") -> Path:
    suite = tmp_path / "mine.yaml"
    suite.write_text(SUITE.format(file="listing.csv", extra=extra, contenders=contenders))
    return suite


def _edit(path: Path, row: int, value: str) -> None:
    import pandas as pd

    frame = pd.read_csv(path)
    frame.loc[row, "photo"] = value
    frame.to_csv(path, index=False)


# (what is wrong, how to make it from a good listing, the suite's extra keys, the message)
REFUSED: list[Case] = [
    ("a misspelt column", lambda p: None, "\n    image: foto",
     "unknown column in listing.csv 'foto' (did you mean 'photo'?)"),
    ("the target as images", lambda p: None, "\n    image: kind",
     "'kind' is the target: it cannot be the image paths too"),
    ("a row without a path", lambda p: _edit(p, 3, ""), "",
     "1 labelled rows have no image path in column 'photo' of listing.csv (lines 5)"),
    ("a path out through ..", lambda p: _edit(p, 0, "../secret.png"), "",
     "1 paths in column 'photo' of listing.csv lead outside"),
    ("an absolute path", lambda p: _edit(p, 1, "/etc/hostname"), "",
     "line 3: /etc/hostname"),
    ("a web address", lambda p: _edit(p, 4, "https://example.com/cat.jpg"), "",
     "1 paths in column 'photo' of listing.csv are web addresses (line 6: https://example.com/"),
    ("missing files", lambda p: [(p.parent / "photos" / f"{i}.png").unlink() for i in range(7)],
     "", "7 of 24 images named in column 'photo' of listing.csv are not found under"),
    ("a corrupt image", lambda p: _truncate(p.parent / "photos" / "5.png"), "",
     "1 of 24 images in"),
    ("a text file as an image", lambda p: (p.parent / "photos" / "2.png").write_text("hi"), "",
     "photos/2.png (UnidentifiedImageError"),
    ("image and text together", lambda p: None, "\n    text: [city]",
     "takes one of 'text' columns, an 'image' column or an 'audio' column, not text and image"),
    ("a size too small", lambda p: None, "\n    size: 2", "greater than or equal to 8"),
]  # fmt: skip


@corpus(REFUSED)
def test_a_bad_image_column_is_refused_at_its_line_before_any_cell(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], object],
    extra: str,
    message: str,
) -> None:
    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    make(make_listing(tmp_path))
    (tmp_path / "secret.png").write_bytes(b"")
    suite = _suite(tmp_path, extra)
    if "image: " in extra:  # the extra key stands in for the entry's own
        suite.write_text(suite.read_text().replace("    image: photo\n", "", 1))
    assert_refused(capsys, suite, message)


@pytest.mark.parametrize(
    ("contenders", "message"),
    [
        ("[catboost]", "contender 'catboost' cannot handle the image + table dataset 'listing'"),
        ("[lightgbm+tfidf]", "featurizer 'tfidf' takes text, multimodal inputs, but 'listing' "
         "is image + table"),
        ("[cnn]", "contender 'cnn' cannot handle the image + table dataset"),
    ],
)  # fmt: skip
def test_contenders_that_cannot_take_images_beside_a_table_are_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    contenders: str,
    message: str,
) -> None:
    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    make_listing(tmp_path)
    assert main(["validate", str(_suite(tmp_path, contenders=contenders))]) == 2
    err = capsys.readouterr().err
    assert message in err, err


def test_images_beside_a_table_run_through_trees_on_pixels_and_the_fusion_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from treeline.execute.resolve import resolve
    from treeline.record.store import Tracker

    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TREELINE_RESULTS", str(tmp_path / "results"))
    make_listing(tmp_path)
    suite = _suite(tmp_path, "\n    size: 16", "[fusion, lightgbm+pixels, xgboost+hog]")
    plan = resolve(suite)
    (ds,) = plan.suite.datasets
    assert (ds.modality, ds.kind, ds.contenders) == (
        "multimodal",
        "image + table",
        ("fusion", "lightgbm+pixels", "xgboost+hog"),
    )
    dataset = ds.ref.build()
    pool = dataset.pool()
    assert set(pool.X.parts) == {"image", "table"}
    assert pool.X.parts["image"].shape == (1, 16, 16)
    assert set(pool.X.parts["table"].numeric) | set(pool.X.parts["table"].categorical) == {
        "price",
        "city",
    }
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    assert main(["run", str(suite), "--tracking-uri", uri]) == 0
    results = Tracker("mine", uri, create=False).results()
    assert {r.cell.id for r in results} == {
        "listing/n=16/fusion/cpu/s0",
        "listing/n=16/lightgbm+pixels/cpu/s0",
        "listing/n=16/xgboost+hog/cpu/s0",
    }
    assert all(r.status == "ok" for r in results), [r.error for r in results]


def test_a_table_of_paths_and_labels_alone_is_images_and_an_edited_image_is_new_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from treeline.execute.resolve import resolve

    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    make_listing(tmp_path, table=False)
    suite = _suite(tmp_path, contenders="[cnn, xgboost+pixels]")
    (ds,) = resolve(suite).suite.datasets
    assert (ds.modality, ds.contenders) == ("image", ("cnn", "xgboost+pixels"))
    key = ds.ref.build().fingerprint()
    _png(tmp_path / "photos" / "3.png", 555)  # the same table, another photo
    (again,) = resolve(suite).suite.datasets
    assert again.ref.build().fingerprint() != key
