"""The contract every contender implements; the harness (tuning.py) drives it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from treeline.contenders import ContenderInfo, get_info

if TYPE_CHECKING:
    import optuna
    import pandas as pd

    from treeline.datasets import DataBundle
    from treeline.measure import BudgetClock

# Boosting: the ceiling on rounds and the early-stopping patience on validation, shared by the
# tree contenders (Gorishniy et al. 2021 use 2000 / 50 for XGBoost and CatBoost).
MAX_ROUNDS = 2000
PATIENCE = 50
REPORT_EVERY = 10  # rounds between intermediate validation scores sent to the pruner


@dataclass
class FitContext:
    """What a contender may know about where and how long it runs."""

    device: str  # "cpu" | "cuda"
    threads: int
    seed: int
    clock: BudgetClock
    # Intermediate validation score (higher is better) at a step; may raise optuna.TrialPruned.
    report: Callable[[int, float], None]


class Contender(ABC):
    """A model family: a default configuration, a search space, fit and predict."""

    name: str
    libraries: tuple[str, ...] = ()  # imported before the budget clock starts

    def import_libraries(self) -> None:
        import importlib

        for lib in self.libraries:
            importlib.import_module(lib)

    @property
    def info(self) -> ContenderInfo:
        return get_info(self.name)

    def prepare(self, data: DataBundle, ctx: FitContext) -> Any:
        """Per-cell inputs built once and reused by every trial (e.g. DMatrix, Pool)."""
        return None

    @abstractmethod
    def default_params(self, data: DataBundle, device: str = "cpu") -> dict[str, Any]:
        """Trial 0: the configuration a practitioner gets without tuning (on `device`)."""

    @abstractmethod
    def suggest(self, trial: optuna.Trial, data: DataBundle, device: str = "cpu") -> dict[str, Any]:
        """A configuration sampled from the contender's search space (for `device`)."""

    @abstractmethod
    def fit(self, data: DataBundle, prepared: Any, params: dict[str, Any], ctx: FitContext) -> Any:
        """Train on data.train with early stopping on data.val; return by the clock's deadline."""

    @abstractmethod
    def predict(self, model: Any, X: pd.DataFrame, data: DataBundle) -> np.ndarray:
        """Class probabilities (n, k) for classification, values (n,) for regression."""


def as_proba(p: np.ndarray, n_classes: int) -> np.ndarray:
    """Binary libraries return P(class 1); the harness wants (n, 2)."""
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 1 and n_classes == 2:
        return np.column_stack([1.0 - p, p])
    return p.reshape(len(p), -1)


def log_uniform_or_zero(trial: optuna.Trial, name: str, low: float, high: float) -> float:
    """The papers' `{0, LogUniform[low, high]}`: a switch, then the value."""
    if trial.suggest_categorical(f"{name}_zero", [True, False]):
        return 0.0
    return trial.suggest_float(name, low, high, log=True)
