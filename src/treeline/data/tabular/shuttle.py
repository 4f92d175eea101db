"""Statlog Shuttle (mlbench): 7 very imbalanced classes from 9 numeric sensor readings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from treeline.data.dataset import TARGET, TableDataset
from treeline.data.sources import AptDownload, Source, SystemFile

if TYPE_CHECKING:
    import pandas as pd

_MEMBER = "usr/lib/R/site-library/mlbench/data/Shuttle.rda"
_SHA256 = "5b1db218b76a47c83f575f1ff38d7a7d36e569b0e27d8bf4aa92eae6c0bcb826"  # mlbench 2.1-3


class Shuttle(TableDataset):
    name = "shuttle"
    task = "multiclass"
    description = "Statlog Shuttle: 7 imbalanced classes (78% one class) from 9 sensors"
    license = "GPL-2 (mlbench); data: UCI"
    total_rows = 58_000

    def sources(self) -> list[Source]:
        return [
            SystemFile("/" + _MEMBER, "r-cran-mlbench"),
            AptDownload("r-cran-mlbench", _MEMBER, _SHA256),
        ]

    def read(self, path: Path) -> pd.DataFrame:
        import pyreadr

        df = next(iter(pyreadr.read_r(str(path)).values()))
        df[TARGET] = df.pop("Class").astype(str)
        return df


DATASET = Shuttle
