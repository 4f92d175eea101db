"""The featurizer contract: inputs of one modality in, a typed table out.

`fit` sees the training rows only (the harness calls it); `transform` maps any rows. A
featurizer that learns nothing from the rows (`fitted = False`) gives every row the same features
in every cell, so the harness may compute them once per dataset and cache them (apply.py). One
that learns from the inputs alone, never the labels (`unsupervised`: MiniRocket's bias
quantiles, a padding length), is fitted once on the labelled pool's inputs (never the test set)
and cached the same way.

A featurizer may compute on the cell's device (`devices`: a pretrained encoder on CUDA) and take
typed options from the suite (`Options`: `featurize: {precision: int8}` on a contender entry);
`variant` names what makes its output differ — device numerics, precision, truncation — so each
variant has its own cached features.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import numpy as np

    from treeline.data.inputs import Inputs, Table


class NoOptions(BaseModel):
    """Options a suite may set on a featurizer: none, unless it declares its own."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


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
    devices: ClassVar[tuple[str, ...]] = ("cpu",)  # where it computes; else on the CPU
    Options: ClassVar[type[BaseModel]] = NoOptions

    def __init__(self, options: BaseModel | dict[str, Any] | None = None, device: str = "cpu"):
        if not isinstance(options, BaseModel):
            options = self.Options(**(options or {}))
        self.options = options
        self.device = device if device in self.devices else "cpu"

    @classmethod
    def unsupported(cls, options: dict[str, Any], device: str) -> str | None:
        """Why these options cannot run on a `device` runner, or None."""
        return None

    @property
    def variant(self) -> str:
        """What tells this configuration's features from the default's ('' for the default,
        e.g. 'int8'): part of the cache folder's name."""
        return ""

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
