"""HOG: histograms of oriented gradients (Dalal and Triggs 2005) via scikit-image.

9 orientations, cells of a quarter of the image side (7×7 pixels on 28×28, 2×2 on 8×8), blocks
of 2×2 cells with L2-Hys normalization: 3×3 blocks × 36 = 324 features per image. Colour images
use the strongest channel's gradient per pixel (scikit-image's `channel_axis`). Learns nothing,
so computed once per dataset and cached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from treeline.featurize.base import Featurizer

if TYPE_CHECKING:
    from treeline.data.inputs import Images, Table

ROWS_PER_BLOCK = 4096


class HOG(Featurizer):
    name = "hog"
    modalities = ("image",)
    description = "histograms of oriented gradients (9 orientations, 4×4 cells per image): 324"
    library = "scikit-image"
    libraries = ("skimage.feature",)

    def transform(self, X: Images) -> Table:  # type: ignore[override]
        import pandas as pd
        from skimage.feature import hog

        from treeline.data.inputs import Table

        c, h, w = X.shape
        cell = (max(1, h // 4), max(1, w // 4))

        def one(image: np.ndarray) -> np.ndarray:
            return hog(
                image if c > 1 else image[0],
                orientations=9,
                pixels_per_cell=cell,
                cells_per_block=(2, 2),
                block_norm="L2-Hys",
                channel_axis=0 if c > 1 else None,
            )

        width = len(one(np.zeros((c, h, w), dtype=np.float32)))
        out = np.empty((len(X), width), dtype=np.float32)
        for start in range(0, len(X), ROWS_PER_BLOCK):
            block = X.take(np.arange(start, min(start + ROWS_PER_BLOCK, len(X)))).pixels
            for i, image in enumerate(block):
                out[start + i] = one(image.astype(np.float32))
        columns = [f"hog{k}" for k in range(out.shape[1])]
        return Table(pd.DataFrame(out, columns=columns, copy=False), tuple(columns), ())


FEATURIZER = HOG
