"""Bring your own data: a CSV or Parquet file with a target column and a declared task."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from treeline.data.clean import clean_table
from treeline.data.dataset import PREPARE_VERSION, TARGET, TableDataset, Task, type_columns
from treeline.data.inputs import Images, Inputs, Multimodal, Text
from treeline.data.sources import LocalFile, Source, sha256_of
from treeline.errors import first_line

if TYPE_CHECKING:
    import pandas as pd

    from treeline.data.file_paths import Paths

FORMATS = (".csv", ".tsv", ".parquet", ".pq", ".csv.gz", ".csv.bz2", ".csv.xz", ".tsv.gz")
COMPRESSED = (".gz", ".bz2", ".xz")  # what pandas opens by the file's ending, as we do


def read_table(
    path: Path, columns: list[str] | None = None, sep: str | None = None
) -> pd.DataFrame:
    import pandas as pd

    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return pd.read_parquet(path, columns=columns)
    # Only empty cells are missing: pandas' own list ("NA", "n/a", "null", …) would turn tokens
    # into missing values silently; data/clean.py does it for numeric columns, and says so.
    return pd.read_csv(
        path, usecols=columns, sep=default_sep(path, sep), keep_default_na=False, na_values=[""]
    )


def default_sep(path: Path, sep: str | None) -> str:
    """The separator given, else a tab for a .tsv file, else a comma."""
    return sep or ("\t" if ".tsv" in path.suffixes[-2:] else ",")


@dataclass
class FileCheck:
    """What validation learns of a user's file: its problems (suite field, message) or its
    number of labelled rows."""

    problems: list[tuple[str, str]] = field(default_factory=list)
    rows: int = 0
    paths: Paths | None = None  # an `image` or `audio` column's files


# Beyond this size the checks that read the whole file wait for preparation.
FULL_CHECK_BYTES = 256 * 2**20
SEPARATORS = (",", ";", "\t", "|", ":")
MIN_CLASS_EXAMPLES = 3  # one each for train, validation and the test set


def _open_text(path: Path):
    import bz2
    import gzip
    import lzma

    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(path.suffix.lower())
    if opener is not None:
        return opener(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def header(path: Path, sep: str | None = None) -> list[str]:
    """The column names as written (pandas renames duplicates to `y.1`, which hides them)."""
    if path.name.lower().endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    import csv

    with _open_text(path) as f:
        names = next(csv.reader(f, delimiter=default_sep(path, sep)), [])
    # A blank name is what pandas calls `Unnamed: i` (R writes its row names so): the name a
    # suite's `drop` and every message use.
    return [name if name.strip() else f"Unnamed: {i}" for i, name in enumerate(names)]


def check_file(
    path: Path,
    target: str,
    task: Task,
    sep: str | None = None,
    text: tuple[str, ...] = (),
    paths: str | None = None,
    noun: str = "image",
    drop: tuple[str, ...] = (),
) -> FileCheck:
    """Every problem of a user's table that validation can find: the file, its header, its
    target, its text columns or its column of `noun` paths, and (up to FULL_CHECK_BYTES, and
    always the paths) its rows."""
    out = FileCheck()
    problems = out.problems
    if not path.name.lower().endswith(FORMATS):
        problems.append(("file", f"must be one of {', '.join(FORMATS)}, got '{path.name}'"))
        return out
    if not path.is_file():
        problems.append(("file", f"{'not a file' if path.exists() else 'file not found'}: {path}"))
        return out
    from treeline.config.text_file import wide_encoding

    with open(path, "rb") as f:
        wide = wide_encoding(f.read(4))
    if wide and not path.name.lower().endswith((".parquet", ".pq", *COMPRESSED)):
        problems.append(("file", f"{path.name} is {wide} text: save it as UTF-8"))
        return out
    try:
        names = header(path, sep)
    except UnicodeDecodeError as exc:
        problems.append(
            (
                "file",
                f"{path.name} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                f"offset {exc.start}): save it as UTF-8",
            )
        )
        return out
    except Exception as exc:  # any reader error is the user's file, not our bug
        problems.append(("file", f"cannot read {path.name}: {first_line(exc)}"))
        return out
    if not names:
        problems.append(("file", f"{path.name} is empty: no header, no rows"))
        return out
    problems.extend(header_problems(path, names, target, sep))
    problems.extend(text_column_problems(path, names, target, text))
    problems.extend(drop_problems(path, names, target, drop, (*text, *([paths] if paths else []))))
    if paths is not None:
        problems.extend(path_column_problems(path, names, target, paths, noun))
    if problems:
        return out
    big = path.stat().st_size > FULL_CHECK_BYTES  # then the target column alone, here
    own = [target, *text, *([paths] if paths else [])]
    try:
        frame = read_table(path, own if big else None, sep)
    except Exception as exc:
        problems.append(("file", f"cannot read {path.name}: {first_line(exc)}"))
        return out
    problems.extend(table_problems(frame.drop(columns=list(drop)), target, task, path.name))
    problems.extend(text_problems(frame, target, text, path.name))
    if paths is not None and not problems:
        from treeline.data.file_paths import file_paths

        out.paths = file_paths(path, frame.loc[frame[target].notna(), paths], paths, noun)
        key = "image" if noun == "image" else "audio"
        problems.extend((key, message) for message in out.paths.problems)
    out.rows = int(frame[target].notna().sum())
    return out


MAX_NAMES_SHOWN = 30
# Marks that a line of data or of another format has and a header rarely does.
_NOT_IN_NAMES = set(':*$\\|;"\t{}')
_NOT_A_HEADER = (
    "its first line does not look like a header of column names in the declared format, so "
    "it is not shown: check `sep` and that the file starts with its header"
)


def looks_like_header(names: list[str]) -> bool:
    """Whether the first line parsed as names of the declared format: each short and plain
    (pandas' `Unnamed: 3` for a blank one too), and not mostly bare numbers (a data row)."""
    if not names:
        return False

    def plain(name: str) -> bool:
        if name.startswith("Unnamed: "):  # pandas' name for a blank one
            return True
        return len(name) <= 64 and name.isprintable() and not _NOT_IN_NAMES.intersection(name)

    numbers = sum(n.strip().replace(".", "", 1).lstrip("-").isdigit() for n in names)
    return all(plain(n) for n in names) and numbers * 2 <= len(names)


def header_problems(
    path: Path, names: list[str], target: str, sep: str | None
) -> list[tuple[str, str]]:
    """Duplicate names, a separator that is not the file's, a missing target."""
    from collections import Counter

    from treeline.errors import unknown_name

    dupes = [name for name, k in Counter(names).items() if k > 1]
    if dupes:

        def at(d: str) -> str:
            pos = [str(i + 1) for i, n in enumerate(names) if n == d]
            return f"'{d}' (columns {', '.join(pos[:-1])} and {pos[-1]})"

        if not looks_like_header(names):
            return [("file", f"duplicate column names in {path.name}; {_NOT_A_HEADER}")]
        where = "; ".join(at(d) for d in dupes[:MAX_NAMES_SHOWN])
        return [("file", f"duplicate column names in {path.name}: {where}; rename them")]
    if len(names) == 1 and not path.name.lower().endswith((".parquet", ".pq")):
        used = default_sep(path, sep)
        guess = max((s for s in SEPARATORS if s != used), key=names[0].count)
        if guess != used and names[0].count(guess) > 0:
            shown = "\\t" if guess == "\t" else guess
            return [
                (
                    "sep" if sep else "file",
                    f"{path.name} has a single column with '{used}' as separator; it looks "
                    f"separated by '{shown}': set `sep: \"{shown}\"` on this dataset",
                )
            ]
    if target not in names and not looks_like_header(names):
        # A wrong `sep`, a file that is not a table, a secret behind a .csv name: its first
        # line is not echoed into errors and logs.
        return [("target", f"no column '{target[:40]}' in {path.name}; {_NOT_A_HEADER}")]
    if target not in names:
        shown_names = [n if len(n) <= 40 else n[:37] + "..." for n in names[:MAX_NAMES_SHOWN]]
        message = unknown_name(f"column in {path.name}", target, shown_names)
        if len(names) > MAX_NAMES_SHOWN:
            message += f" … ({len(names):,} columns)"
        return [("target", message)]
    if len(names) == 1:
        return [("file", f"{path.name} has no feature columns: only the target '{target}'")]
    return []


def drop_problems(
    path: Path, names: list[str], target: str, drop: tuple[str, ...], used: tuple[str, ...]
) -> list[tuple[str, str]]:
    """Columns to leave out (an id, a leak) that are not in the header, or are used."""
    from treeline.errors import unknown_name

    out = []
    for column in drop:
        if column == target or column in used:
            out.append(("drop", f"'{column}' is {'the target' if column == target else 'used'}: "
                        "it cannot be left out"))  # fmt: skip
        elif column not in names:
            out.append(("drop", unknown_name(f"column in {path.name}", column, names[:30])))
    if set(names) - {target, *drop} == set() and drop:
        out.append(("drop", f"leaving out {', '.join(drop)} leaves {path.name} no feature column"))
    return out


def text_column_problems(
    path: Path, names: list[str], target: str, text: tuple[str, ...]
) -> list[tuple[str, str]]:
    """Text columns that are not in the header, named twice, or the target itself."""
    from treeline.errors import unknown_name

    out = []
    for column in text:
        if column == target:
            out.append(("text", f"'{column}' is the target: it cannot be a text input too"))
        elif column not in names:
            out.append(("text", unknown_name(f"column in {path.name}", column, names[:30])))
    if len(set(text)) < len(text):
        out.append(("text", "a column is named twice"))
    return out


def path_column_problems(
    path: Path, names: list[str], target: str, column: str, noun: str
) -> list[tuple[str, str]]:
    """A column of image or clip paths that is not in the header, or is the target."""
    from treeline.errors import unknown_name

    key = "image" if noun == "image" else "audio"
    if column == target:
        return [(key, f"'{column}' is the target: it cannot be the {noun} paths too")]
    if column not in names:
        return [(key, unknown_name(f"column in {path.name}", column, names[:30]))]
    return []


def text_problems(
    frame: pd.DataFrame, target: str, text: tuple[str, ...], name: str
) -> list[tuple[str, str]]:
    """A text column with no text in any labelled row cannot be learnt from."""
    labelled = frame[frame[target].notna()]
    out = []
    for column in text:
        values = labelled[column].dropna().astype(str).str.strip()
        if not (values != "").any():
            out.append(("text", f"column '{column}' of {name} has no text in any labelled row"))
    return out


def join_text(frame: pd.DataFrame, text: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The text columns popped off `frame`, joined per row with a newline (empty parts left
    out); and the notes: rows with no text at all, which are kept with an empty text."""
    parts = [frame.pop(c).astype("string").fillna("").str.strip() for c in text]
    joined = parts[0] if len(parts) == 1 else parts[0].str.cat(parts[1:], sep="\n")
    joined = joined.str.strip()
    empty = int((joined == "").sum())
    notes = []
    if empty:
        which = f"'{text[0]}'" if len(text) == 1 else f"any of {', '.join(text)}"
        notes.append(f"{empty:,} rows have no text in {which}: kept, with an empty text")
    return joined.tolist(), notes


def table_problems(
    frame: pd.DataFrame, target: str, task: Task, name: str
) -> list[tuple[str, str]]:
    """What the rows say: no rows, no target values, nothing to learn, a task that does not
    fit the target, classes too rare to be in train, validation and test."""
    import pandas as pd

    if frame.empty:
        return [("file", f"{name} has a header but no rows")]
    y = frame[target].dropna()
    if y.empty:
        return [("target", f"column '{target}' has no values in {name}")]
    features = frame.drop(columns=[target])
    constant = [c for c in features.columns if features[c].nunique(dropna=False) <= 1]
    out: list[tuple[str, str]] = []
    if features.shape[1] and len(constant) == features.shape[1]:
        shown = ", ".join(f"'{c}'" for c in constant[:5]) + (", …" if len(constant) > 5 else "")
        out.append(
            ("file", f"every feature column of {name} is constant ({shown}): nothing to learn from")
        )
    distinct = y.nunique()
    if task == "regression":
        values = pd.to_numeric(y, errors="coerce")
        bad = y[values.isna()]
        if len(bad):
            tokens = ", ".join(repr(t) for t in sorted(map(str, bad.unique()))[:5])
            out.append(
                (
                    "task",
                    f"regression needs a numeric target: {len(bad):,} values of column "
                    f"'{target}' are not numbers ({tokens})",
                )
            )
        return out
    if task == "binary" and distinct != 2:
        out.append(
            (
                "task",
                f"binary needs exactly 2 distinct target values, column '{target}' has {distinct}",
            )
        )
        return out
    if task == "multiclass" and distinct < 3:
        out.append(
            (
                "task",
                f"multiclass needs at least 3 classes, column '{target}' has {distinct}"
                + ("; use task: binary" if distinct == 2 else ""),
            )
        )
        return out
    if task == "multiclass" and distinct > max(20, len(y) // 2):
        out.append(
            (
                "task",
                f"column '{target}' has {distinct:,} distinct values in {len(y):,} rows: "
                "a regression target rather than classes?",
            )
        )
        return out
    counts = y.astype(str).value_counts()
    rare = counts[counts < MIN_CLASS_EXAMPLES]
    if len(rare):
        shown = ", ".join(f"'{k}' ({v})" for k, v in rare.head(5).items())
        out.append(
            (
                "target",
                f"class{'es' if len(rare) > 1 else ''} {shown} of column '{target}' "
                f"{'have' if len(rare) > 1 else 'has'} fewer than {MIN_CLASS_EXAMPLES} "
                "examples (one each for train, validation and test are needed): drop or merge",
            )
        )
    return out


class UserFile(TableDataset):
    """A user's table; its cache is keyed by the file's content, so edits are picked up."""

    description = "user file"
    license = "user's own"

    def __init__(
        self,
        path: Path,
        target: str,
        task: Task,
        label: str,
        total_rows: int,
        sep: str | None = None,
        text: tuple[str, ...] = (),
        image: str | None = None,
        size: int = 64,
        listing: str | None = None,
        audio: str | None = None,
        rate: int = 16_000,
        drop: tuple[str, ...] = (),
    ):
        self.path, self.target, self.task, self.name = path, target, task, label
        self.sep, self.text, self.drop = sep, text, drop
        # A column of file paths: (its kind, the column, the size or rate they decode at).
        self.media = ("image", image, size) if image else ("audio", audio, rate) if audio else None
        self.image, self.listing = image, listing
        self.total_rows = total_rows
        self.description = f"user file {path.name} (target {target})"
        own = {*text, *([self.media[1]] if self.media else [])}
        if own:  # text, images or clips alone, or beside other columns (the header only)
            others = set(header(path, sep)) - {target, *own, *drop}
            kind = self.media[0] if self.media else "text"
            self.modality = "multimodal" if others else kind  # type: ignore[misc]
            self.parts = (kind, "tabular") if others else ()  # type: ignore[misc]

    def sources(self) -> list[Source]:
        return [LocalFile(self.path)]

    def fingerprint(self) -> str:
        if "_fingerprint" not in self.__dict__:
            sep = f"-sep{ord(self.sep)}" if self.sep else ""  # the same bytes, other columns
            text = ""
            if self.text:  # the same file read with other text columns is other inputs
                text = "-text" + hashlib.sha256("\0".join(self.text).encode()).hexdigest()[:8]
            if self.media:  # and with its files, at their size or rate, as they are now
                kind, column, value = self.media
                named = f"{column}\0{value}\0{self.listing}".encode()
                text = f"-{kind}" + hashlib.sha256(named).hexdigest()[:8]
            if self.drop:  # with fewer columns: other inputs
                text += "-drop" + hashlib.sha256("\0".join(self.drop).encode()).hexdigest()[:8]
            self._fingerprint = f"v{PREPARE_VERSION}-{sha256_of(self.path)[:16]}{sep}{text}"
        return self._fingerprint

    def load_raw(self, path: Path) -> tuple[Inputs, Any]:
        """A table; with text columns, their text (a row's columns joined), and beside it the
        other columns as a table (multimodal) where there are any."""
        if not self.text and not self.media:
            return super().load_raw(path)
        import numpy as np

        frame = self.read(path)
        frame = frame[frame[TARGET].notna()].reset_index(drop=True)
        y_raw = frame.pop(TARGET)
        own: Inputs
        if self.media:
            own, notes = self._files(path, frame)
        else:
            strings, notes = join_text(frame, self.text)
            own = Text(np.array(strings, dtype=object))
        if frame.shape[1] == 0:
            self._prepare_notes = notes
            return own, y_raw
        frame, table_notes = clean_table(frame, keep=())
        self._prepare_notes = notes + table_notes
        return Multimodal({own.modality: own, "table": type_columns(frame, None)}), y_raw

    def _files(self, path: Path, frame: pd.DataFrame) -> tuple[Inputs, list[str]]:
        """The column of paths popped off `frame`, each file decoded (images at `size`, clips
        at `rate`); refused when the files are not those the suite was checked against."""
        from treeline.data.class_folders import BadFiles
        from treeline.data.file_paths import file_paths

        assert self.media is not None
        kind, column, value = self.media
        noun = "image" if kind == "image" else "clip"
        found = file_paths(path, frame.pop(column), column, noun)
        if found.problems:
            raise BadFiles("; ".join(found.problems))
        if found.digest != self.listing:
            raise BadFiles(f"the {noun}s of {path.name} changed since it was checked: run again")
        inputs: Inputs
        if kind == "image":
            from treeline.data.image.folder import decode_all

            pixels, notes = decode_all(found.root, found.files, value)
            inputs = Images(pixels)
        else:
            from treeline.data.audio.clips import decode_clips

            inputs, notes = decode_clips(found.root, found.files, value)
        from treeline.data.class_folders import repeats

        repeated = len(found.files) - len(set(found.files))
        if repeated:
            notes.append(f"{repeated:,} rows name a {noun} another row names too")
        notes += repeats(found.root, found.files, None, f"{noun}s")
        return inputs, notes

    def read(self, path: Path) -> pd.DataFrame:
        # The file may have changed since validation: its header is checked again.
        problems = header_problems(path, header(path, self.sep), self.target, self.sep)
        if problems:
            raise ValueError(problems[0][1])
        df = read_table(path, sep=self.sep).drop(columns=list(self.drop))
        return df.rename(columns={self.target: TARGET})
