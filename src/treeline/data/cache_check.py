"""Prepared data is checked before it is used: every file's size and SHA-256 are written into
`meta.json` when the cache is prepared, and compared when it is read. A truncated Parquet or
NPY file, a broken `meta.json`, labels flipped or a test set swapped for the pool — each was
once recorded as a contender's failure, or worse as an `ok` score; now a damaged cache is
named and prepared again from its source.

Sizes are compared on every read (a stat per file); digests once per process and folder
(a worker reads its dataset once for all its trials).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from treeline.errors import TreelineError

META = "meta.json"
FILES = "files"  # meta.json's record of the cache's files: {name: {"bytes": n, "sha256": hex}}

_verified: set[str] = set()  # folders whose digests this process has compared


class CacheDamaged(TreelineError):
    """A damaged cache that could not be prepared again (its source is gone): the run stops
    with the file named; the cell is not recorded as a contender's failure."""


def record_files(folder: Path) -> dict[str, dict[str, Any]]:
    """What `meta.json` keeps of every other file in `folder` (written when it is prepared)."""
    return {
        p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != META
    }


def read_meta(folder: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The cache's meta.json and why it cannot be used (None when it can)."""
    path = folder / META
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        return None, f"{path} is missing"
    except (OSError, ValueError) as exc:
        return None, f"{path} cannot be read ({type(exc).__name__})"
    if not isinstance(meta, dict):
        return None, f"{path} is not a mapping"
    return meta, damage(folder, meta)


def damage(folder: Path, meta: dict[str, Any]) -> str | None:
    """The first thing wrong with the files of a prepared cache, or None. A cache written
    before files were recorded counts as damaged once: it cannot be trusted, only remade."""
    files = meta.get(FILES)
    if not isinstance(files, dict) or not files:
        return f"{folder / META} records no file sizes and digests (an older cache)"
    for name, want in files.items():
        path = folder / name
        try:
            size = path.stat().st_size
        except OSError:
            return f"{path} is missing"
        if size != want.get("bytes"):
            return f"{path} has {size:,} bytes, {want.get('bytes', 0):,} when it was prepared"
    key = str(folder.resolve())
    if key in _verified:
        return None
    for name, want in files.items():
        if _sha256(folder / name) != want.get("sha256"):
            return f"{folder / name} is not the file that was prepared (its SHA-256 differs)"
    _verified.add(key)
    return None


def forget(folder: Path) -> None:
    """Compare this folder's digests again on the next read (it was just remade)."""
    _verified.discard(str(folder.resolve()))


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
