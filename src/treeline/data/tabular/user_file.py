"""Bring your own data: a CSV or Parquet file with a target column and a declared task."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from treeline.data.dataset import PREPARE_VERSION, TARGET, TableDataset, Task
from treeline.data.sources import Source, sha256_of

if TYPE_CHECKING:
    import pandas as pd

FORMATS = (".csv", ".parquet", ".pq", ".csv.gz")


def read_table(
    path: Path, columns: list[str] | None = None, sep: str | None = None
) -> pd.DataFrame:
    import pandas as pd

    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return pd.read_parquet(path, columns=columns)
    return pd.read_csv(path, usecols=columns, sep=sep or ",")


def table_columns(path: Path, sep: str | None = None) -> list[str]:
    """Column names without reading the whole file."""
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    import pandas as pd

    return list(pd.read_csv(path, nrows=0, sep=sep or ",").columns)


@dataclass
class FileCheck:
    """What validation learns of a user's file: its problems (suite field, message) or its
    number of labelled rows."""

    problems: list[tuple[str, str]] = field(default_factory=list)
    rows: int = 0


def check_file(path: Path, target: str, task: Task, sep: str | None = None) -> FileCheck:
    """Every problem of a user's table that validation can find without preparing it."""
    from treeline.errors import unknown_name

    out = FileCheck()
    if not path.name.lower().endswith(FORMATS):
        out.problems.append(("file", f"must be one of {', '.join(FORMATS)}, got '{path.name}'"))
        return out
    if not path.exists():
        out.problems.append(("file", f"file not found: {path}"))
        return out
    try:
        columns = table_columns(path, sep)
    except Exception as exc:  # any reader error is the user's file, not our bug
        out.problems.append(("file", f"cannot read {path.name}: {exc}"))
        return out
    if target not in columns:
        out.problems.append(("target", unknown_name(f"column in {path.name}", target, columns)))
        return out
    values = read_table(path, [target], sep)[target].dropna()
    distinct = values.nunique()
    if task == "binary" and distinct != 2:
        out.problems.append(
            (
                "task",
                f"binary needs exactly 2 distinct target values, column '{target}' has {distinct}",
            )
        )
    if task == "regression":
        import pandas as pd

        if not pd.api.types.is_numeric_dtype(values):
            out.problems.append(
                ("task", f"regression needs a numeric target, column '{target}' is {values.dtype}")
            )
    out.rows = len(values)
    return out


class LocalFile(Source):
    def __init__(self, path: Path):
        self.path = path

    @property
    def label(self) -> str:
        return f"file {self.path}"

    @property
    def hint(self) -> str:
        return f"create {self.path}"

    def locate(self, cache: Path) -> Path | None:
        return self.path if self.path.exists() else None


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
    ):
        self.path, self.target, self.task, self.name = path, target, task, label
        self.sep = sep
        self.total_rows = total_rows
        self.description = f"user file {path.name} (target {target})"

    def sources(self) -> list[Source]:
        return [LocalFile(self.path)]

    def fingerprint(self) -> str:
        if "_fingerprint" not in self.__dict__:
            sep = f"-sep{ord(self.sep)}" if self.sep else ""  # the same bytes, other columns
            self._fingerprint = f"v{PREPARE_VERSION}-{sha256_of(self.path)[:16]}{sep}"
        return self._fingerprint

    def read(self, path: Path) -> pd.DataFrame:
        df = read_table(path, sep=self.sep)
        return df.rename(columns={self.target: TARGET})
