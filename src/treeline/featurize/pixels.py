"""Pixels: an image's raw intensities as columns `c{channel}_{row}_{col}` (float32).

What a practitioner tries first with trees on images; no learning, so the table is computed once
per dataset and cached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from treeline.featurize.base import Featurizer

if TYPE_CHECKING:
    from treeline.data.inputs import Images, Table

ROWS_PER_BLOCK = 8192  # gather and convert this many images at a time


class Pixels(Featurizer):
    name = "pixels"
    modalities = ("image",)
    description = "raw pixel intensities as numeric columns (C×H×W features)"

    def transform(self, X: Images) -> Table:  # type: ignore[override]
        import pandas as pd

        from treeline.data.inputs import Table

        c, h, w = X.shape
        columns = [f"c{k}_{i}_{j}" for k in range(c) for i in range(h) for j in range(w)]
        out = np.empty((len(X), c * h * w), dtype=np.float32)
        for start in range(0, len(X), ROWS_PER_BLOCK):
            block = X.take(np.arange(start, min(start + ROWS_PER_BLOCK, len(X)))).pixels
            out[start : start + len(block)] = block.reshape(len(block), -1)
        return Table(pd.DataFrame(out, columns=columns, copy=False), tuple(columns), ())


FEATURIZER = Pixels
