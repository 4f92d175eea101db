"""The featurizer contract: inputs of one modality in, a typed table out.

`fit` sees the training rows only (the harness calls it); `transform` maps any rows. A
featurizer that learns nothing from the rows (`fitted = False`) gives every row the same features
in every cell, so the harness may compute them once per dataset and cache them (apply.py). One
that learns from the inputs alone, never the labels (`unsupervised`: MiniRocket's bias
quantiles, a padding length), is fitted once on the labelled pool's inputs (never the test set)
and cached the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import numpy as np

    from treeline.data.inputs import Inputs, Table


class Featurizer(ABC):
    name: ClassVar[str]
    modalities: ClassVar[tuple[str, ...]]  # inputs it accepts
    description: ClassVar[str]
    library: ClassVar[str] = "numpy"
    libraries: ClassVar[tuple[str, ...]] = ()  # imported before any timing starts
    version: ClassVar[int] = 1  # bump when its output changes, so cached features are redone
    fitted: ClassVar[bool] = False  # learns from the training rows (or their labels)
    unsupervised: ClassVar[bool] = False  # learns from the pool's inputs, never labels
    sparse: ClassVar[bool] = False  # gives a sparse block (only tree contenders take it)

    @classmethod
    def path(cls) -> str:
        return f"{cls.__module__}:{cls.__qualname__}"

    def setup(self) -> None:
        """Before any timing: import the libraries (and fetch what else it needs)."""
        import importlib

        for lib in self.libraries:
            importlib.import_module(lib)

    @property
    def cacheable(self) -> bool:
        return not self.fitted

    def fit(self, X: Inputs, y: np.ndarray | None) -> None:
        """Learn from the training rows (y None: from inputs alone); nothing by default."""
        return None

    @abstractmethod
    def transform(self, X: Inputs) -> Table:
        """The rows as a table (numeric float32 and/or categorical columns)."""
