"""Raw values: a short series' samples as columns `c{channel}_t{step}` — what a practitioner
tries first with trees on sequences. Ragged series are padded at the end with NaN (trees take
missing values) to the labelled pool's longest (a longer test series is cut to it); series
with more than 4,096 values per row are refused (trees on thousands of raw samples are not a
contender anyone should pay for).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from treeline.featurize.base import Featurizer

if TYPE_CHECKING:
    from treeline.data.inputs import Sequences, Table

MAX_VALUES = 4_096


class Raw(Featurizer):
    name = "raw"
    modalities = ("sequence",)
    description = "raw values of short series as columns (C×T ≤ 4,096; ragged: NaN-padded)"
    unsupervised = True  # the padding length: the pool's longest series

    def __init__(self, options: Any = None, device: str = "cpu") -> None:
        super().__init__(options, device)
        self._length: int | None = None

    def fit(self, X: Sequences, y: np.ndarray | None) -> None:  # type: ignore[override]
        self._length = int(X.lengths.max())
        if X.channels * self._length > MAX_VALUES:
            raise ValueError(
                f"raw: {X.channels} channels × {self._length} steps is more than {MAX_VALUES:,} "
                "values per row; use catch22 or minirocket for long series"
            )

    def transform(self, X: Sequences) -> Table:  # type: ignore[override]
        import pandas as pd

        from treeline.data.inputs import Table

        if self._length is None:
            raise RuntimeError("raw: transform before fit")
        values = X.padded(self._length, fill=np.nan)
        c, t = values.shape[1:]
        columns = [f"c{k}_t{j}" for k in range(c) for j in range(t)]
        frame = pd.DataFrame(values.reshape(len(values), -1), columns=columns, copy=False)
        return Table(frame, tuple(columns), ())


FEATURIZER = Raw
