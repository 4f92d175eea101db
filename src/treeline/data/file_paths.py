"""Files named by a table: a CSV or Parquet `file` with a column of paths — images (`image:
COLUMN`) or recordings (`audio: COLUMN`) — each relative to the file's folder: `photos/123.jpg`
beside `listings.csv`. With other columns beside the target the rows are multimodal.

Refused before any cell, naming the file, the rows (as the file's line numbers) and what is
wrong: a labelled row without a path, a path that leads outside the file's folder (absolute, or
through `..`, or a link out), files that are not found (the count and the first few). Files that
do not decode are refused when they are decoded, still before any cell (image/folder.py,
audio/clips.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from treeline.data.class_folders import listing_digest
from treeline.errors import line_numbers, shown

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Paths:
    """The files a column names (relative to `root`, posix), or its problems."""

    root: Path
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def digest(self) -> str:
        """Each distinct file's path, byte size and modification time: an edited file is new
        data, though the table is not."""
        return listing_digest(self.root, self.files)


def file_paths(file: Path, values: pd.Series, column: str, noun: str = "image") -> Paths:
    """The column's paths checked against the file's folder; every problem found."""
    root = file.parent
    out = Paths(root)
    real_root = root.resolve()
    empty, outside, missing, urls = [], [], [], []
    for row, value in zip(values.index, values.tolist(), strict=True):
        text = "" if value is None or value != value else str(value).strip()
        if not text:
            empty.append(int(row))
            continue
        if "://" in text:
            urls.append(f"line {int(row) + 2}: {text[:80]}")
            continue
        rel = PurePosixPath(text.replace("\\", "/"))
        target = (root / rel).resolve()
        if rel.is_absolute() or not target.is_relative_to(real_root):
            outside.append(f"line {int(row) + 2}: {text}")
            continue
        if not target.is_file():
            missing.append(text)
            continue
        out.files.append(rel.as_posix())
    where = f"column '{column}' of {file.name}"
    if empty:
        out.problems.append(
            f"{len(empty):,} labelled rows have no {noun} path in {where} "
            f"(lines {line_numbers(empty)}): give each row its {noun}, or drop the row"
        )
    if urls:
        out.problems.append(
            f"{len(urls):,} paths in {where} are web addresses ({shown(urls)}): Treeline reads "
            f"local files only; download the {noun}s beside the file and give their paths"
        )
    if outside:
        out.problems.append(
            f"{len(outside):,} paths in {where} lead outside {root} ({shown(outside)}): {noun} "
            f"paths are relative to the file's folder and stay inside it"
        )
    if missing:
        out.problems.append(
            f"{len(missing):,} of {len(values):,} {noun}s named in {where} are not found "
            f"under {root}: {shown(missing)}"
        )
    return out
