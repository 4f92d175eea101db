"""The dataset catalogue: every module under `treeline.data.<modality>/` that sets `DATASET`,
by name; and the reference a cell carries to rebuild its dataset in a worker process."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from treeline.data.dataset import (
    TASKS,
    CachedDataset,
    DataBundle,
    Dataset,
    FitData,
    Modality,
    Prepared,
    Split,
    TableDataset,
    Task,
)
from treeline.data.inputs import MODALITIES, Inputs
from treeline.data.sources import DataUnavailable

__all__ = [
    "MODALITIES",
    "TASKS",
    "CachedDataset",
    "DataBundle",
    "DataUnavailable",
    "Dataset",
    "DatasetRef",
    "FitData",
    "Inputs",
    "Modality",
    "Prepared",
    "Split",
    "TableDataset",
    "Task",
    "builtin_names",
    "dataset_class",
    "get_dataset",
]


@cache
def _catalogue() -> dict[str, type[Dataset]]:
    from treeline.catalogue import discover

    return discover("treeline.data", MODALITIES, "DATASET")


def builtin_names() -> list[str]:
    return list(_catalogue())


def dataset_class(name: str) -> type[Dataset]:
    from treeline.errors import TreelineError, unknown_name

    found = _catalogue()
    if name not in found:
        raise TreelineError(unknown_name("dataset", name, found))
    return found[name]


def get_dataset(name: str) -> Dataset:
    """A built-in dataset by name (one with options gets its defaults)."""
    return dataset_class(name)()


@dataclass(frozen=True)
class DatasetRef:
    """Everything needed to rebuild a suite's dataset in a worker process (JSON-able)."""

    label: str  # the name in cell ids
    name: str | None = None  # a built-in dataset
    options: dict[str, Any] = field(default_factory=dict)  # validated by the dataset's Options
    file: str | None = None  # a user file, absolute path
    images: str | None = None  # a user's folder of class folders, absolute path
    audio: str | None = None  # a user's folder of class folders of recordings, absolute path
    series: str | None = None  # a user's long-format series file or array, absolute path
    target: str | None = None
    task: Task | None = None
    total_rows: int | None = None
    digest: str | None = None  # a user file's content (sha256): an edited file is new data
    # A built-in's preparation version (dataset.PREPARE_VERSION): data prepared another way is
    # new data too, so a cell recorded on the old preparation is not "recorded" any more.
    prepared: int | None = None

    def build(self) -> Dataset:
        if self.series is not None:
            from treeline.data.sequence.user_series import Columns, UserSeries

            assert self.task is not None and self.total_rows is not None
            labels = self.options.get("labels")
            return UserSeries(
                Path(self.series),
                self.label,
                self.task,
                self.target,
                Path(labels) if labels else None,
                Columns(**self.options.get("columns", {})),
                self.options.get("sep"),
                self.total_rows,
            )
        if self.images is not None or self.audio is not None:
            from treeline.data.audio.clips import AudioFolder
            from treeline.data.image.folder import ImageFolder

            assert self.total_rows is not None and self.digest is not None
            cls = ImageFolder if self.images is not None else AudioFolder
            root = Path(self.images or self.audio)  # type: ignore[arg-type]
            value = int(self.options[cls.setting])
            return cls(root, self.label, value, self.total_rows, self.digest)
        if self.file is not None:
            from treeline.data.tabular.user_file import UserFile

            assert self.target and self.task and self.total_rows is not None
            return UserFile(
                Path(self.file),
                self.target,
                self.task,
                self.label,
                self.total_rows,
                sep=self.options.get("sep"),
                text=tuple(self.options.get("text", ())),
                image=self.options.get("image"),
                size=int(self.options.get("size", 64)),
                listing=self.options.get("listing"),
                audio=self.options.get("audio"),
                rate=int(self.options.get("rate", 16_000)),
                drop=tuple(self.options.get("drop", ())),
            )
        assert self.name is not None
        cls = dataset_class(self.name)
        if cls.Options is not None:
            return cls(cls.Options(**self.options), self.label)  # type: ignore[call-arg]
        return cls()

    def identity(self) -> dict[str, Any]:
        """What defines the data, for the resume key."""
        return {k: v for k, v in self.__dict__.items() if v not in (None, {})}
