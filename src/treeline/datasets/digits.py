"""scikit-learn's handwritten digits: 1,797 images of 8×8 pixels, 10 classes (a tiny image set).

Pixels are columns `p0`..`p63` (row-major); `image_shape` tells an image model how to fold them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from treeline.datasets._base import TARGET, TableDataset
from treeline.datasets._sources import PackageFile, Source

if TYPE_CHECKING:
    import pandas as pd


class Digits(TableDataset):
    name = "digits"
    modality = "image"
    image_shape = (1, 8, 8)
    task = "multiclass"
    description = "Handwritten digits, 8×8 grey images, 10 classes (scikit-learn)"
    license = "BSD-3-Clause (scikit-learn); data: UCI"
    total_rows = 1_797

    def sources(self) -> list[Source]:
        return [PackageFile("sklearn", "datasets/data/digits.csv.gz", "scikit-learn")]

    def read(self, path: Path) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        raw = np.loadtxt(path, delimiter=",")
        df = pd.DataFrame(raw[:, :-1], columns=[f"p{i}" for i in range(64)])
        df[TARGET] = raw[:, -1].astype(int).astype(str)
        return df
