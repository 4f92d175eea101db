"""Bring your own data: a CSV or Parquet file with a target column and a declared task."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from treeline.data.dataset import PREPARE_VERSION, TARGET, TableDataset, Task
from treeline.data.sources import Source, sha256_of

if TYPE_CHECKING:
    import pandas as pd

FORMATS = (".csv", ".parquet", ".pq", ".csv.gz")


def read_table(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    import pandas as pd

    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return pd.read_parquet(path, columns=columns)
    return pd.read_csv(path, usecols=columns)


def table_columns(path: Path) -> list[str]:
    """Column names without reading the whole file."""
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    import pandas as pd

    return list(pd.read_csv(path, nrows=0).columns)


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

    def __init__(self, path: Path, target: str, task: Task, label: str, total_rows: int):
        self.path, self.target, self.task, self.name = path, target, task, label
        self.total_rows = total_rows
        self.description = f"user file {path.name} (target {target})"

    def sources(self) -> list[Source]:
        return [LocalFile(self.path)]

    def fingerprint(self) -> str:
        if "_fingerprint" not in self.__dict__:
            self._fingerprint = f"v{PREPARE_VERSION}-{sha256_of(self.path)[:16]}"
        return self._fingerprint

    def read(self, path: Path) -> pd.DataFrame:
        df = read_table(path)
        return df.rename(columns={self.target: TARGET})
