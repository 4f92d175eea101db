"""scikit-learn's handwritten digits: 1,797 grey images of 8×8 pixels, 10 classes.

Stored as uint8 images (N×1×8×8) with the source's intensities, 0 (white) to 16 (black).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from treeline.data.dataset import CachedDataset
from treeline.data.inputs import Images, Inputs
from treeline.data.sources import PackageFile, Source


class Digits(CachedDataset):
    name = "digits"
    modality = "image"
    task = "multiclass"
    description = "Handwritten digits, 8×8 grey images, 10 classes (scikit-learn)"
    license = "BSD-3-Clause (scikit-learn); data: UCI"
    total_rows = 1_797

    def sources(self) -> list[Source]:
        return [PackageFile("sklearn", "datasets/data/digits.csv.gz", "scikit-learn")]

    def load_raw(self, path: Path) -> tuple[Inputs, Any]:
        import numpy as np

        raw = np.loadtxt(path, delimiter=",")
        pixels = raw[:, :-1].reshape(-1, 1, 8, 8).astype(np.uint8)
        return Images(pixels), raw[:, -1].astype(int).astype(str)


DATASET = Digits
