"""Bring your own images: a folder of class folders, decoded once into the cache before any
cell. A corpus of bad folders, each refused at the suite's line with what is wrong, and of odd
ones, each handled and stated in the data notes."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.refusals import Case, assert_refused, corpus
from treeline.cli import main
from treeline.data.image.folder import check_folder

SUITE = """\
name: mine
description: my images
budget: 3
max_trials: 1
seeds: [0]
datasets:
  - images: {images}{extra}
    n: [12]
contenders: [cnn]
"""


def _png(path: Path, value: int, size: tuple[int, int] = (12, 12), mode: str = "L") -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    channels = {"L": (), "RGB": (3,), "RGBA": (4,)}[mode]
    pixels = rng.integers(0, 255, (size[1], size[0], *channels), dtype=np.uint8)
    Image.fromarray(pixels, mode).save(path)


def make_folder(root: Path, classes: int = 3, per_class: int = 6) -> Path:
    for c in range(classes):
        for k in range(per_class):
            _png(root / f"class-{c}" / f"{k}.png", c * 100 + k)
    return root


def _suite(tmp_path: Path, images: str, extra: str = "") -> Path:
    suite = tmp_path / "mine.yaml"
    suite.write_text(SUITE.format(images=images, extra=extra))
    return suite


def _link_outside(root: Path) -> None:
    _png(root.parent / "elsewhere.png", 7)
    os.symlink(root.parent / "elsewhere.png", root / "class-0" / "linked.png")


def _zip_in_place(root: Path) -> None:
    """The folder as a zip archive under the folder's own name, as a download arrives."""
    import shutil

    archive = shutil.make_archive(str(root.with_name("packed")), "zip", root)
    shutil.rmtree(root)
    Path(archive).rename(root)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


# (what is wrong, how to make it from a good folder, the suite's extra keys, the message)
REFUSED: list[Case] = [
    ("no such folder", lambda r: r.rename(r.with_name("gone")), "", "folder not found"),
    ("a file, not a folder", lambda r: (r.rename(r.with_name("x")), r.write_text("a")), "",
     "not a folder"),
    ("a zip of the folder", lambda r: _zip_in_place(r), "",
     "(an archive: unpack it and give the folder of class folders)"),
    ("an empty folder", lambda r: [p.unlink() for p in r.rglob("*.png")] and None, "",
     "class folders without images"),
    ("one class", lambda r: [(r / f"class-{c}").rename(r.parent / f"{c}") for c in (1, 2)], "",
     "needs at least 2 class folders of images (found 1 ('class-0'))"),
    ("images outside class folders", lambda r: _png(r / "loose.png", 1), "",
     "1 images lie directly in"),
    ("an empty class folder", lambda r: (r / "class-9").mkdir(), "",
     "class folders without images: class-9"),
    ("a phone's HEIC photos", lambda r: [p.rename(p.with_suffix(".HEIC"))
                                         for p in (r / "class-0").glob("*.png")], "",
     "class folders without images: class-0; they hold files of other kinds (6 .heic): images "
     "are .png, .jpg"),
    ("a class of 2 images", lambda r: [(r / "class-1" / f"{k}.png").unlink() for k in range(4)],
     "", "fewer than 3 images (one each for train, validation and test): 'class-1' (2)"),
    ("a file that is not an image", lambda r: (r / "class-0" / "0.png").write_bytes(b"not a png"),
     "", "1 of 18 images in"),
    ("a truncated image", lambda r: _truncate(r / "class-2" / "3.png"), "",
     "class-2/3.png"),
    ("a text file named .jpg", lambda r: (r / "class-1" / "x.jpg").write_text("hello"), "",
     "cannot be decoded: class-1/x.jpg (UnidentifiedImageError"),
    ("a link out of the folder", _link_outside, "", "link to files outside"),
    ("regression on classes", lambda r: None, "\n    task: regression", "no regression"),
    ("binary for 3 classes", lambda r: None, "\n    task: binary",
     "has 3 classes, so its task is multiclass"),
    ("a target column", lambda r: None, "\n    target: label", "takes no 'target' or 'sep'"),
    ("a size too small", lambda r: None, "\n    size: 4", "greater than or equal to 8"),
    ("a size too large", lambda r: None, "\n    size: 4096", "less than or equal to 512"),
    ("images and a file", lambda r: None, "\n    file: x.csv", "give exactly one of"),
]  # fmt: skip


@corpus(REFUSED)
def test_a_bad_folder_is_refused_at_its_line_before_any_cell(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], object],
    extra: str,
    message: str,
) -> None:
    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    root = make_folder(tmp_path / "photos")
    make(root)
    suite = _suite(tmp_path, str(root), extra)
    assert_refused(capsys, suite, message, line="[78]")


def test_odd_images_are_handled_and_said_in_the_data_notes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    root = make_folder(tmp_path / "photos")
    _png(root / "class-0" / "wide.png", 1, size=(40, 12))  # another size
    _png(root / "class-1" / "colour.png", 2, mode="RGB")  # colour among grey
    _png(root / "class-2" / "clear.png", 3, mode="RGBA")  # transparency
    deep = (np.arange(144, dtype=np.uint16).reshape(12, 12) * 400).astype(np.uint16)
    Image.fromarray(deep).save(root / "class-0" / "deep.png")  # 16 bits
    frames = [Image.new("L", (12, 12), v) for v in (0, 128)]
    frames[0].save(root / "class-1" / "moving.gif", save_all=True, append_images=frames[1:])
    (root / "class-2" / "README.txt").write_text("taken with my phone")
    (root / "class-2" / ".DS_Store").write_bytes(b"\0\0")  # hidden: not even mentioned
    os.symlink("../class-0/0.png", root / "class-1" / "alias.png")  # an icon theme's alias
    (root / "class-2" / "copy.png").write_bytes((root / "class-0" / "0.png").read_bytes())

    dataset, problems = check_folder(root, 16, "photos")
    assert problems == [] and dataset is not None
    notes = " | ".join(dataset.notes())
    assert "1 files that are not images left out (class-2/README.txt)" in notes
    assert "images of 2 sizes (most common: 12×12 (24), 40×12 (1)): each resized to 16×16" in notes
    assert "22 grey images among colour ones: grey repeated on 3 channels" in notes
    assert "1 images transparent: composited on white" in notes
    assert "1 images 16-bit: scaled to 8 bits" in notes
    assert "1 images animated: first frame" in notes
    assert ".DS_Store" not in notes
    assert "1 images are links to other files of the folder (class-1/alias.png): kept" in notes
    assert "1 images repeat another's bytes (class-2/copy.png = class-0/0.png): kept" in notes
    assert "1 of those copies are under another class (class-2/copy.png in 'class-2' = " in notes
    pool, test = dataset.pool(), dataset.test()
    assert pool.X.shape == (3, 16, 16) and len(pool) + len(test) == 25
    assert dataset.task == "multiclass" and dataset.classes() == ("class-0", "class-1", "class-2")


def test_an_image_folder_runs_through_networks_and_featurizers_and_an_edit_is_new_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from treeline.record.store import Tracker

    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TREELINE_RESULTS", str(tmp_path / "results"))
    root = make_folder(tmp_path / "photos", classes=2, per_class=10)
    suite = _suite(tmp_path, "photos").read_text()
    (tmp_path / "mine.yaml").write_text(suite.replace("[cnn]", "[cnn, xgboost+pixels]"))
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    assert main(["run", str(tmp_path / "mine.yaml"), "--tracking-uri", uri]) == 0
    results = Tracker("mine", uri, create=False).results()
    assert {r.cell.id for r in results} == {
        "photos/n=12/cnn/cpu/s0",
        "photos/n=12/xgboost+pixels/cpu/s0",
    }
    assert all(r.status == "ok" and r.cell.task == "binary" for r in results)
    capsys.readouterr()

    from treeline.config.options import RunOptions
    from treeline.execute.resolve import resolve
    from treeline.run import SuiteRun

    def run() -> list:
        return SuiteRun(resolve(tmp_path / "mine.yaml", RunOptions(tracking_uri=uri))).run()

    assert all(r.from_earlier_run for r in run())  # the same folder: recorded, kept
    _png(root / "class-0" / "new.png", 99)  # an edited folder: new data, run again
    again = run()
    assert [r.status for r in again] == ["ok", "ok"]
    assert not any(r.from_earlier_run for r in again)
