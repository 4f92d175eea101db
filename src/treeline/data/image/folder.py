"""Bring your own images: a folder of class folders (`images: FOLDER` in a suite), the common
convention — `FOLDER/cats/001.jpg`, `FOLDER/dogs/a.png` — each image decoded, converted and
resized to `size`×`size`, then stored once as uint8 arrays in the cache like the built-in image
sets, keyed by the folder's listing (names, sizes, modification times): an edited folder is new
data.

What cannot be used is refused before any cell, naming the folder and what is wrong: no such
folder, images outside class folders, fewer than two classes, an empty class, a class with fewer
than MIN_CLASS_EXAMPLES images, a link out of the folder, files that do not decode (the count and
the first few). What decodes but is odd is handled and said in the data notes: other files
(.DS_Store, a README) left out, images of different sizes (each resized, aspect ratio not kept),
grey and colour images mixed (grey repeated on three channels), transparency (composited on
white), 16-bit images (scaled to 8 bits).

Decoding uses every core the process may use and shows its progress on a terminal.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from treeline.data.dataset import PREPARE_VERSION, CachedDataset
from treeline.data.inputs import Images, Inputs
from treeline.data.sources import Source

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
MIN_CLASS_EXAMPLES = 3  # one each for train, validation and the test set
DEFAULT_SIZE = 64
SHOWN = 5  # paths named in a refusal


class BadImages(ValueError):
    """The folder cannot be used as it is; the message says why."""


@dataclass
class Scan:
    """A folder's images (relative paths, sorted) and their class names, or its problems."""

    root: Path
    files: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # not images: left out, and said

    @property
    def digest(self) -> str:
        """The listing's names, byte sizes and modification times: what keys the cache."""
        h = hashlib.sha256()
        for rel in self.files:
            st = (self.root / rel).stat()
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()[:16]


def _shown(paths: list[str]) -> str:
    more = f" and {len(paths) - SHOWN:,} more" if len(paths) > SHOWN else ""
    return ", ".join(paths[:SHOWN]) + more


def scan(root: Path) -> Scan:
    """The folder's class folders and their images; every problem found, not the first."""
    out = Scan(root)
    if not root.exists():
        out.problems.append(f"folder not found: {root}")
        return out
    if not root.is_dir():
        out.problems.append(f"not a folder: {root} (give a folder of class folders)")
        return out
    real_root = root.resolve()
    top_images, classes = [], []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            classes.append(entry)
        elif entry.suffix.lower() in SUFFIXES:
            top_images.append(entry.name)
    if top_images:
        out.problems.append(
            f"{len(top_images):,} images lie directly in {root}, outside any class folder "
            f"({_shown(top_images)}): put each image in the folder of its class"
        )
    outside, counts = [], Counter()
    for folder in classes:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if any(part.startswith(".") for part in path.relative_to(root).parts):
                continue
            if path.is_dir():
                continue
            if path.suffix.lower() not in SUFFIXES:
                out.ignored.append(rel)
                continue
            if not path.resolve().is_relative_to(real_root):
                outside.append(f"{rel} → {path.resolve()}")
                continue
            out.files.append(rel)
            out.labels.append(folder.name)
            counts[folder.name] += 1
    if outside:
        out.problems.append(
            f"{len(outside):,} images link to files outside {root} ({_shown(outside)}): "
            "copy them into the folder"
        )
    empty = [f.name for f in classes if counts[f.name] == 0]
    if empty:
        out.problems.append(f"class folders without images: {_shown(empty)}")
    kept = [f.name for f in classes if counts[f.name]]
    if len(kept) < 2 and not top_images:
        found = f"found {len(kept)}" + (f" ('{kept[0]}')" if kept else "")
        out.problems.append(
            f"{root} needs at least 2 class folders of images ({found}): a folder per class, "
            "each holding that class's images"
        )
    few = [f"'{c}' ({counts[c]})" for c in kept if counts[c] < MIN_CLASS_EXAMPLES]
    if few and len(kept) >= 2:
        out.problems.append(
            f"classes with fewer than {MIN_CLASS_EXAMPLES} images (one each for train, "
            f"validation and test): {_shown(few)}"
        )
    return out


def _decode(job: tuple[str, int]) -> tuple[np.ndarray | None, str, str]:
    """(pixels H×W×C uint8 at size×size, what was odd about it, or an error), in a worker."""
    path, size = job
    try:
        from PIL import Image, ImageOps

        with Image.open(path) as img:
            img.load()  # decodes it all: a truncated file fails here, not later
            odd = []
            if getattr(img, "n_frames", 1) > 1:
                odd.append("animated: first frame")
            img = ImageOps.exif_transpose(img)  # a phone's rotation, as it is shown
            if img.mode in ("I;16", "I;16B", "I;16L", "I"):
                odd.append("16-bit: scaled to 8 bits")
                arr = np.asarray(img, dtype=np.float64)
                top = arr.max() or 1.0
                img = Image.fromarray((arr / top * 255).astype(np.uint8), "L")
            alpha = img.mode in ("RGBA", "LA", "PA")
            if alpha or (img.mode == "P" and "transparency" in img.info):
                odd.append("transparent: composited on white")
                rgba = img.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(white, rgba).convert("RGB")
            grey = img.mode in ("L", "1", "F")
            img = img.convert("L" if grey else "RGB")
            shape = f"{img.width}×{img.height}"
            img = img.resize((size, size), Image.Resampling.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
            pixels = arr[:, :, None] if grey else arr
            return pixels, ("grey " if grey else "") + shape, "; ".join(odd)
    except Exception as exc:  # any decoder error is the user's file: named, with its reason
        return None, "", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def decode_all(
    root: Path, files: list[str], size: int, progress: bool | None = None
) -> tuple[np.ndarray, list[str]]:
    """Every image as N×C×size×size uint8 (C = 3 where any is in colour), decoded on every
    core, and the data notes; raises BadImages naming the files that do not decode."""
    from concurrent.futures import ProcessPoolExecutor

    from treeline.config.runner_profile import usable_cores

    jobs = [(str(root / rel), size) for rel in files]
    workers = max(1, min(usable_cores(), len(jobs) // 200 or 1))
    show = sys.stderr.isatty() if progress is None else progress
    started, results = time.perf_counter(), []
    chunk = max(1, min(256, len(jobs) // (workers * 8) or 1))
    if workers == 1:
        mapped = map(_decode, jobs)
    else:
        pool = ProcessPoolExecutor(workers)
        mapped = pool.map(_decode, jobs, chunksize=chunk)
    try:
        for i, r in enumerate(mapped, 1):
            results.append(r)
            if show and (i % 500 == 0 or i == len(jobs)):
                print(
                    f"\rimages {root.name}: {i:,} / {len(jobs):,} decoded "
                    f"({time.perf_counter() - started:.0f} s, {workers} processes)",
                    end="" if i < len(jobs) else "\n",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        if workers > 1:
            pool.shutdown()
    pairs = zip(files, results, strict=True)
    bad = [f"{rel} ({err})" for rel, (arr, _, err) in pairs if arr is None]
    if bad:
        raise BadImages(
            f"{len(bad):,} of {len(files):,} images in {root} cannot be decoded: {_shown(bad)}"
        )
    colour = any(arr.shape[2] == 3 for arr, _, _ in results)
    out = np.empty((len(files), 3 if colour else 1, size, size), dtype=np.uint8)
    for i, (arr, _, _) in enumerate(results):
        if colour and arr.shape[2] == 1:
            arr = np.repeat(arr, 3, axis=2)
        out[i] = arr.transpose(2, 0, 1)
    return out, _notes(results, size, colour)


def _notes(results: list[tuple[Any, str, str]], size: int, colour: bool) -> list[str]:
    shapes = Counter(shape.removeprefix("grey ") for _, shape, _ in results)
    greys = sum(shape.startswith("grey ") for _, shape, _ in results)
    notes = []
    if len(shapes) > 1:
        common = ", ".join(f"{s} ({k:,})" for s, k in shapes.most_common(3))
        notes.append(
            f"images of {len(shapes):,} sizes (most common: {common}): each resized to "
            f"{size}×{size}, aspect ratio not kept"
        )
    elif shapes and next(iter(shapes)) != f"{size}×{size}":
        notes.append(f"images of {next(iter(shapes))} resized to {size}×{size}")
    if colour and greys:
        notes.append(f"{greys:,} grey images among colour ones: grey repeated on 3 channels")
    odd = Counter(o for _, _, odds in results if odds for o in odds.split("; "))
    notes.extend(f"{k:,} images {what}" for what, k in sorted(odd.items()))
    return notes


class ImageFolder(CachedDataset):
    """A user's folder of class folders, as uint8 images of `size`×`size`."""

    modality = "image"
    license = "user's own"

    def __init__(self, root: Path, label: str, size: int, total_rows: int, digest: str):
        self.root, self.name, self.size = root, label, size
        self.total_rows, self.digest = total_rows, digest
        self.description = f"user images {root} ({size}×{size})"

    @property
    def task(self) -> str:  # type: ignore[override]
        return "binary" if len(self.classes_found()) == 2 else "multiclass"

    def classes_found(self) -> list[str]:
        if "_scan" not in self.__dict__:
            self._scan = scan(self.root)
        return sorted(set(self._scan.labels))

    def sources(self) -> list[Source]:
        from treeline.data.sources import LocalFile

        return [LocalFile(self.root)]  # a folder is found where it is, as a user's file

    def fingerprint(self) -> str:
        return f"v{PREPARE_VERSION}-{self.digest}-s{self.size}"

    def load_raw(self, path: Path) -> tuple[Inputs, Any]:
        found = scan(path)
        if found.problems:
            raise BadImages("; ".join(found.problems))
        if found.digest != self.digest:
            raise BadImages(f"{path} changed since the suite was checked: run it again")
        pixels, notes = decode_all(path, found.files, self.size)
        if found.ignored:
            left = f"{len(found.ignored):,} files that are not images left out"
            notes.insert(0, f"{left} ({_shown(found.ignored)})")
        self._prepare_notes = notes
        return Images(pixels), np.array(found.labels, dtype=object)


def default_label(root: Path) -> str:
    import re

    return re.sub(r"[^a-z0-9._-]+", "-", root.name.lower()).strip("-._") or "images"


def check_folder(root: Path, size: int, label: str) -> tuple[ImageFolder | None, list[str]]:
    """The folder as a prepared dataset (decoded now, before any cell), or its problems."""
    found = scan(root)
    if found.problems:
        return None, found.problems
    dataset = ImageFolder(root, label, size, len(found.files), found.digest)
    dataset._scan = found
    try:
        dataset.prepare()
    except BadImages as exc:
        return None, [str(exc)]
    return dataset, []
