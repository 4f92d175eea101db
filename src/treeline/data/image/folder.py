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

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from treeline.data.class_folders import BadFiles, ClassFolder, error_text
from treeline.data.inputs import Images, Inputs
from treeline.errors import shown

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
DEFAULT_SIZE = 64
BadImages = BadFiles  # images that cannot be used: the message says why


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
        return None, "", error_text(exc)


def decode_all(
    root: Path, files: list[str], size: int, progress: bool | None = None
) -> tuple[np.ndarray, list[str]]:
    """Every image as N×C×size×size uint8 (C = 3 where any is in colour), decoded on every
    core, and the data notes; raises BadImages naming the files that do not decode."""
    from treeline.data.class_folders import decode_in_parallel

    jobs = [(str(root / rel), size) for rel in files]
    results = decode_in_parallel(_decode, jobs, f"images {root.name}", progress)
    pairs = zip(files, results, strict=True)
    bad = [f"{rel} ({err})" for rel, (arr, _, err) in pairs if arr is None]
    if bad:
        raise BadImages(
            f"{len(bad):,} of {len(files):,} images in {root} cannot be decoded: {shown(bad)}"
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


class ImageFolder(ClassFolder):
    """A user's folder of class folders, as uint8 images of `size`×`size`."""

    modality = "image"
    suffixes = SUFFIXES
    noun = "images"
    setting = "size"

    def decode(self, root: Path, files: list[str]) -> tuple[Inputs, list[str]]:
        pixels, notes = decode_all(root, files, self.value)
        return Images(pixels), notes


def check_folder(root: Path, size: int, label: str) -> tuple[ClassFolder | None, list[str]]:
    """The folder as a prepared dataset (decoded now, before any cell), or its problems."""
    return ImageFolder.check(root, size, label)
