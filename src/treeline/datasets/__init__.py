"""The dataset registry: names → datasets, and the reference a cell carries to rebuild one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from treeline.datasets._base import (
    TASKS,
    DataBundle,
    Dataset,
    Modality,
    Prepared,
    Schema,
    Split,
    TableDataset,
    Task,
)
from treeline.datasets._sources import DataUnavailable

__all__ = [
    "TASKS",
    "DataBundle",
    "DataUnavailable",
    "Dataset",
    "DatasetRef",
    "Modality",
    "Prepared",
    "Schema",
    "Split",
    "TableDataset",
    "Task",
    "builtin_names",
    "get_dataset",
]


def _builtins() -> dict[str, type[Dataset]]:
    from treeline.datasets.adult import Adult
    from treeline.datasets.diamonds import Diamonds
    from treeline.datasets.digits import Digits
    from treeline.datasets.nyc_flights import NycFlights
    from treeline.datasets.shuttle import Shuttle
    from treeline.datasets.synthetic import Synthetic

    return {
        "adult": Adult,
        "nyc-flights": NycFlights,
        "diamonds": Diamonds,
        "shuttle": Shuttle,
        "synthetic": Synthetic,
        "digits": Digits,
    }


def builtin_names() -> list[str]:
    return list(_builtins())


def get_dataset(name: str) -> Dataset:
    """A built-in dataset by name (the synthetic family with its default options)."""
    from treeline.errors import TreelineError, unknown_name

    builtins = _builtins()
    if name not in builtins:
        raise TreelineError(unknown_name("dataset", name, builtins))
    return builtins[name]()


@dataclass(frozen=True)
class DatasetRef:
    """Everything needed to rebuild a suite's dataset in a worker process (JSON-able)."""

    label: str  # the name in cell ids
    name: str | None = None  # a built-in dataset
    options: dict[str, Any] = field(default_factory=dict)  # synthetic options
    file: str | None = None  # a user file, absolute path
    target: str | None = None
    task: Task | None = None
    total_rows: int | None = None

    def build(self) -> Dataset:
        if self.file is not None:
            from treeline.datasets.user_file import UserFile

            assert self.target and self.task and self.total_rows is not None
            return UserFile(Path(self.file), self.target, self.task, self.label, self.total_rows)
        assert self.name is not None
        if self.name == "synthetic":
            from treeline.datasets.synthetic import Synthetic, SyntheticOptions

            return Synthetic(SyntheticOptions(**self.options), self.label)
        return get_dataset(self.name)

    def identity(self) -> dict[str, Any]:
        """What defines the data, for the resume key."""
        return {k: v for k, v in self.__dict__.items() if v not in (None, {})}
