"""MiniRocket (Dempster et al. 2021): the proportion of positive values of many fixed dilated
convolutions, with biases from quantiles of their outputs — via aeon. 2,016 kernels (a multiple
of MiniRocket's 84; its default is 10,000, made for a ridge classifier: trees pay per feature),
random state 0. The biases come from the inputs, never the labels, so it is fitted once on the
dataset's labelled pool and cached. Ragged series are padded at the end with zeros to the pool's
longest (and every series to MiniRocket's minimum length, 9).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from treeline.featurize.base import Featurizer

if TYPE_CHECKING:
    from treeline.data.inputs import Sequences, Table

KERNELS = 2_016
MIN_LENGTH = 9


class MiniRocket(Featurizer):
    name = "minirocket"
    modalities = ("sequence",)
    description = f"MiniRocket: {KERNELS:,} random convolution features (aeon), fitted unlabelled"
    library = "aeon"
    libraries = ("aeon.transformations.collection.convolution_based",)
    unsupervised = True

    def __init__(self, options: Any = None, device: str = "cpu") -> None:
        super().__init__(options, device)
        self._model: Any = None
        self._length = MIN_LENGTH

    def setup(self) -> None:
        """Compile aeon's numba kernels before any timing (~20 s the first time)."""
        super().setup()
        from aeon.transformations.collection.convolution_based import MiniRocket as Aeon

        for channels in (1, 2):  # univariate and multivariate kernels compile apart
            x = np.random.default_rng(0).standard_normal((4, channels, 16))
            Aeon(n_kernels=84, random_state=0).fit(x).transform(x)

    def _array(self, X: Sequences) -> np.ndarray:
        return np.asarray(X.padded(self._length), dtype=np.float64)

    def fit(self, X: Sequences, y: np.ndarray | None) -> None:  # type: ignore[override]
        from aeon.transformations.collection.convolution_based import MiniRocket as Aeon

        self._length = max(MIN_LENGTH, int(X.lengths.max()))
        self._model = Aeon(n_kernels=KERNELS, random_state=0, n_jobs=1).fit(self._array(X))

    def transform(self, X: Sequences) -> Table:  # type: ignore[override]
        from treeline.featurize._series import table

        if self._model is None:
            raise RuntimeError("minirocket: transform before fit")
        return table(self._model.transform(self._array(X)), "mr_")


FEATURIZER = MiniRocket
