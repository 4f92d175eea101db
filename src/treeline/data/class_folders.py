"""A user's folder of class folders — `FOLDER/cats/001.jpg`, `FOLDER/yes/take-3.wav` — the common
convention for bringing images or recordings: what is shared by every kind of file. The scan
(classes, files, what is left out, every problem found at once), the parallel decoding with its
progress, and the dataset that caches the decoded files keyed by the folder's listing (names,
sizes, modification times: an edited folder is new data). Each kind says how one file decodes
(image/folder.py, audio/clips.py).
"""

from __future__ import annotations

import hashlib
import sys
import time
from abc import abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from treeline.data.dataset import PREPARE_VERSION, CachedDataset
from treeline.data.inputs import Inputs
from treeline.data.sources import Source
from treeline.errors import shown

MIN_CLASS_EXAMPLES = 3  # one each for train, validation and the test set


ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".7z", ".rar")


class BadFiles(ValueError):
    """The files cannot be used as they are; the message says why."""


@dataclass
class Scan:
    """A folder's files of one kind (relative paths, sorted) and their class names, or its
    problems."""

    root: Path
    files: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # not of the kind: left out, and said
    links: list[str] = field(default_factory=list)  # links to files inside: kept, and said

    @property
    def digest(self) -> str:
        """The listing's names, byte sizes and modification times: what keys the cache."""
        return listing_digest(self.root, self.files)


def _archive(path: Path) -> bool:
    import tarfile
    import zipfile

    try:
        return zipfile.is_zipfile(path) or tarfile.is_tarfile(path)
    except OSError:
        return False


def listing_digest(root: Path, files: list[str]) -> str:
    h = hashlib.sha256()
    for rel in sorted(set(files)):
        st = (root / rel).stat()
        h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def scan(root: Path, suffixes: tuple[str, ...], noun: str = "images") -> Scan:
    """The folder's class folders and their files of `suffixes`; every problem found."""
    out = Scan(root)
    if not root.exists():
        out.problems.append(f"folder not found: {root}")
        return out
    if not root.is_dir():
        archive = root.name.lower().endswith(ARCHIVES) or _archive(root)
        what = "an archive: unpack it and give the folder" if archive else "give a folder"
        out.problems.append(f"not a folder: {root} ({what} of class folders)")
        return out
    real_root = root.resolve()
    loose, classes = [], []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            classes.append(entry)
        elif entry.suffix.lower() in suffixes:
            loose.append(entry.name)
    if loose:
        out.problems.append(
            f"{len(loose):,} {noun} lie directly in {root}, outside any class folder "
            f"({shown(loose)}): put each one in the folder of its class"
        )
    outside, counts = [], Counter()
    for folder in classes:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if any(part.startswith(".") for part in path.relative_to(root).parts):
                continue
            if path.is_dir():
                continue
            if path.suffix.lower() not in suffixes:
                out.ignored.append(rel)
                continue
            if not path.resolve().is_relative_to(real_root):
                outside.append(f"{rel} → {path.resolve()}")
                continue
            if path.is_symlink():
                out.links.append(rel)
            out.files.append(rel)
            out.labels.append(folder.name)
            counts[folder.name] += 1
    if outside:
        out.problems.append(
            f"{len(outside):,} {noun} link to files outside {root} ({shown(outside)}): "
            "copy them into the folder"
        )
    empty = [f.name for f in classes if counts[f.name] == 0]
    if empty:
        others = Counter(Path(rel).suffix.lower() or "(no ending)" for rel in out.ignored)
        kinds = ", ".join(f"{k:,} {s}" for s, k in others.most_common(3))
        hint = (
            f"; they hold files of other kinds ({kinds}): {noun} are "
            f"{', '.join(suffixes)}; convert the others to one of them"
            if others
            else ""
        )
        out.problems.append(f"class folders without {noun}: {shown(empty)}{hint}")
    kept = [f.name for f in classes if counts[f.name]]
    if len(kept) < 2 and not loose:
        found = f"found {len(kept)}" + (f" ('{kept[0]}')" if kept else "")
        out.problems.append(
            f"{root} needs at least 2 class folders of {noun} ({found}): a folder per class, "
            f"each holding that class's {noun}"
        )
    few = [f"'{c}' ({counts[c]})" for c in kept if counts[c] < MIN_CLASS_EXAMPLES]
    if few and len(kept) >= 2:
        out.problems.append(
            f"classes with fewer than {MIN_CLASS_EXAMPLES} {noun} (one each for train, "
            f"validation and test): {shown(few)}"
        )
    return out


def _file_digest(path: str) -> str:
    return hashlib.blake2b(Path(path).read_bytes(), digest_size=16).hexdigest()


def repeats(
    root: Path, files: list[str], labels: list[str] | None, noun: str, skip: set[str] = frozenset()
) -> list[str]:
    """Notes on files whose bytes repeat an earlier file's (a copy under another name; `skip`:
    links, said apart): kept, but the same example may fall in train and test, and a copy
    under another class is a conflicting label."""
    first: dict[str, int] = {}
    same, across = [], []
    paths = [str(root / rel) for rel in files]
    digests = decode_in_parallel(_file_digest, paths, f"{noun} {root.name}", progress=False)
    for i, (rel, digest) in enumerate(zip(files, digests, strict=True)):
        if rel in skip:
            continue
        j = first.setdefault(digest, i)
        if j == i or files[j] == rel:  # a path named twice is not a copy
            continue
        same.append(f"{rel} = {files[j]}")
        if labels is not None and labels[i] != labels[j]:
            across.append(f"{rel} in '{labels[i]}' = {files[j]} in '{labels[j]}'")
    notes = []
    if same:
        notes.append(
            f"{len(same):,} {noun} repeat another's bytes ({shown(same)}): kept, so the same "
            "one may be in train and test"
        )
    if across:
        notes.append(
            f"{len(across):,} of those copies are under another class ({shown(across)}): "
            "conflicting labels"
        )
    return notes


def decode_in_parallel(
    decode: Callable[[Any], Any], jobs: list[Any], what: str, progress: bool | None = None
) -> list[Any]:
    """`decode` over `jobs` on every core the process may use (in order), with a progress line
    on a terminal every 500 files."""
    from concurrent.futures import ProcessPoolExecutor

    from treeline.config.runner_profile import usable_cores

    workers = max(1, min(usable_cores(), len(jobs) // 200 or 1))
    show = sys.stderr.isatty() if progress is None else progress
    started, results = time.perf_counter(), []
    chunk = max(1, min(256, len(jobs) // (workers * 8) or 1))
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    mapped = pool.map(decode, jobs, chunksize=chunk) if pool else map(decode, jobs)
    try:
        for i, r in enumerate(mapped, 1):
            results.append(r)
            if show and (i % 500 == 0 or i == len(jobs)):
                print(
                    f"\r{what}: {i:,} / {len(jobs):,} decoded "
                    f"({time.perf_counter() - started:.0f} s, {workers} processes)",
                    end="" if i < len(jobs) else "\n",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        if pool:
            pool.shutdown()
    return results


def error_text(exc: BaseException) -> str:
    """A decoder's error in one line: its type and first line."""
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


class ClassFolder(CachedDataset):
    """A user's folder of class folders of one kind of file, decoded and cached."""

    license = "user's own"
    suffixes: ClassVar[tuple[str, ...]]
    noun: ClassVar[str]  # "images", "clips"
    setting: ClassVar[str]  # the suite key that shapes the decoding: "size", "rate"

    def __init__(self, root: Path, label: str, value: int, total_rows: int, digest: str):
        self.root, self.name, self.value = root, label, value
        self.total_rows, self.digest = total_rows, digest
        self.description = f"user {self.noun} {root} ({self.setting} {value})"

    @property
    def task(self) -> str:  # type: ignore[override]
        return "binary" if len(self.classes_found()) == 2 else "multiclass"

    def found(self) -> Scan:
        if "_scan" not in self.__dict__:
            self._scan = scan(self.root, self.suffixes, self.noun)
        return self._scan

    def classes_found(self) -> list[str]:
        return sorted(set(self.found().labels))

    def sources(self) -> list[Source]:
        from treeline.data.sources import LocalFile

        return [LocalFile(self.root)]  # a folder is found where it is, as a user's file

    def fingerprint(self) -> str:
        return f"v{PREPARE_VERSION}-{self.digest}-{self.setting[0]}{self.value}"

    @abstractmethod
    def decode(self, root: Path, files: list[str]) -> tuple[Inputs, list[str]]:
        """The files decoded (in order) and the data notes; BadFiles naming those that fail."""

    def load_raw(self, path: Path) -> tuple[Inputs, Any]:
        found = scan(path, self.suffixes, self.noun)
        if found.problems:
            raise BadFiles("; ".join(found.problems))
        if found.digest != self.digest:
            raise BadFiles(f"{path} changed since the suite was checked: run it again")
        inputs, notes = self.decode(path, found.files)
        if found.ignored:
            left = f"{len(found.ignored):,} files that are not {self.noun} left out"
            notes.insert(0, f"{left} ({shown(found.ignored)})")
        notes += repeats(path, found.files, found.labels, self.noun, set(found.links))
        if found.links:
            notes.append(
                f"{len(found.links):,} {self.noun} are links to other files of the folder "
                f"({shown(found.links)}): kept, so the same file may be in train and test"
            )
        self._prepare_notes = notes
        return inputs, np.array(found.labels, dtype=object)

    @classmethod
    def check(cls, root: Path, value: int, label: str) -> tuple[ClassFolder | None, list[str]]:
        """The folder as a prepared dataset (decoded now, before any cell), or its problems."""
        found = scan(root, cls.suffixes, cls.noun)
        if found.problems:
            return None, found.problems
        dataset = cls(root, label, value, len(found.files), found.digest)
        dataset._scan = found
        try:
            dataset.prepare()
        except BadFiles as exc:
            return None, [str(exc)]
        return dataset, []


# Endings a data file's label leaves out: its format and its compression.
ENDINGS = (".csv.gz", ".csv.bz2", ".csv.xz", ".csv", ".parquet", ".pq", ".npy", ".tsv", ".txt")


def default_label(path: Path) -> str:
    """A folder's or a data file's name as a label of cell ids: lower case, without its
    format's ending, other characters as '-'."""
    import re

    name = path.name.lower()
    name = next((name[: -len(e)] for e in ENDINGS if name.endswith(e) and len(name) > len(e)), name)
    return re.sub(r"[^a-z0-9._-]+", "-", name).strip("-._") or "data"
