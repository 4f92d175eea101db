"""The contract every contender implements; the harness (execute/tuning.py) drives it.

A contender's class carries its metadata (family, accepted modalities, devices, library,
description, typed options) and its module imports the heavy library only inside methods, so the
catalogue is read without loading XGBoost or torch.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import optuna

    from treeline.data import FitData, Inputs

Family = Literal["tree", "deep"]
Unit = Literal["rounds", "trees", "steps", "epochs"]  # the work a contender counts

# Boosting: the ceiling on rounds and the early-stopping patience on validation, shared by the
# tree contenders (Gorishniy et al. 2021 use 2000 / 50 for XGBoost and CatBoost).
MAX_ROUNDS = 2000
PATIENCE = 50
REPORT_EVERY = 10  # rounds between intermediate validation scores sent to the pruner


class NoOptions(BaseModel):
    """Options a suite may set on a contender: none, unless the contender declares its own."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Limit(Protocol):
    """When a trial stops: the budget clock while tuning, the recorded work in a replay."""

    def expired(self, sync: bool = True, reserve: float = 0.0) -> bool: ...


@dataclass
class Pace:
    """What a cell's fits share about time: whether the cell has done a unit of work yet. Its
    first pays one-time warm-up (allocation, kernel choice) and is not timed; later fits (the
    cell's next trials) time theirs from their start. One per cell, made by the harness."""

    warm: bool = False


@dataclass
class FitContext:
    """What a contender may know about where and how long it runs. It does not read the time:
    after each unit of work it counts it (`did`) and asks `expired()`, or how long a unit takes
    (`seconds_per`); the harness decides and times (execute/budget.py, execute/schedule.py), so
    the same fit runs to a deadline or to a recorded amount of work."""

    device: str  # "cpu" | "cuda"
    threads: int
    seed: int
    limit: Limit
    # Intermediate validation score (higher is better) at a step; may raise optuna.TrialPruned.
    report: Callable[[int, float], None]
    work: dict[str, int] = field(default_factory=dict)  # unit → amount done (schedule.UNITS)
    # False once the cell has a model: a trial cut before it could be scored may then end
    # without one (pruned) instead of scoring past the deadline.
    needs_model: bool = True
    pace: Pace = field(default_factory=Pace)  # the cell's: shared by its trials' contexts
    started: float = field(default_factory=time.perf_counter)  # this fit's start
    # unit → (time, amount done) its timing runs from
    _timed: dict[str, tuple[float, int]] = field(default_factory=dict, repr=False)

    def did(self, unit: Unit, amount: int = 1) -> None:
        """Count work done: boosting `rounds`, forest `trees`, optimizer `steps`, `epochs`."""
        self.work[unit] = self.work.get(unit, 0) + amount
        if unit not in self._timed:  # the cell's very first unit is warm-up: timed after it
            warm = self.pace.warm
            self._timed[unit] = (self.started, 0) if warm else (time.perf_counter(), amount)
            self.pace.warm = True

    def seconds_per(self, unit: Unit) -> float | None:
        """Seconds one `unit` of this fit's work has taken, as measured so far; None before
        there is a measurement."""
        since, counted = self._timed.get(unit, (0.0, 0))
        done = self.work.get(unit, 0) - counted
        return (time.perf_counter() - since) / done if unit in self._timed and done else None

    def expired(self, sync: bool = True, reserve: float = 0.0) -> bool:
        """Ask after each unit of work, at the same places on every run: the answer may come
        from a count of these questions. `sync=False` for per-step checks on GPU; `reserve`:
        seconds of work that must still fit in the budget after stopping here."""
        return self.limit.expired(sync, reserve)


class Contender(ABC):
    """A model family: a default configuration, a search space, fit and predict."""

    name: ClassVar[str]
    family: ClassVar[Family]
    modalities: ClassVar[tuple[str, ...]] = ("tabular",)  # inputs it takes without a featurizer
    # On multimodal inputs: the parts beside the table it takes ("text", "image").
    multimodal_parts: ClassVar[tuple[str, ...]] = ()
    takes_sparse: ClassVar[bool] = False  # a sparse featurizer's CSR block (TF-IDF)
    regression: ClassVar[bool] = True  # False: it classifies only (refused on regression)
    # Inputs always reach it through this featurizer (minilm-head: minilm-embed).
    featurizer: ClassVar[str | None] = None
    devices: ClassVar[tuple[str, ...]] = ("cpu", "cuda")
    device_note: ClassVar[str] = ""  # why a device is missing, shown with a skip
    # Devices where the same work gives bit-equal models (same threads and library versions):
    # what `treeline replay` may promise.
    exact_on: ClassVar[tuple[str, ...]] = ("cpu",)
    library: ClassVar[str]
    description: ClassVar[str]
    libraries: ClassVar[tuple[str, ...]] = ()  # imported before the budget clock starts
    Options: ClassVar[type[BaseModel]] = NoOptions

    def __init__(self, options: BaseModel | dict[str, Any] | None = None):
        if not isinstance(options, BaseModel):
            options = self.Options(**(options or {}))
        self.options = options

    @classmethod
    def path(cls) -> str:
        """`module:Class`, what a worker process imports."""
        return f"{cls.__module__}:{cls.__qualname__}"

    def import_libraries(self) -> None:
        import importlib

        for lib in self.libraries:
            importlib.import_module(lib)

    def prepare(self, data: FitData, ctx: FitContext) -> Any:
        """Per-cell inputs built once and reused by every trial (e.g. DMatrix, Pool)."""
        return None

    @abstractmethod
    def default_params(self, data: FitData, device: str = "cpu") -> dict[str, Any]:
        """Trial 0: the configuration a practitioner gets without tuning (on `device`)."""

    @abstractmethod
    def suggest(self, trial: optuna.Trial, data: FitData, device: str = "cpu") -> dict[str, Any]:
        """A configuration sampled from the contender's search space (for `device`)."""

    @abstractmethod
    def fit(self, data: FitData, prepared: Any, params: dict[str, Any], ctx: FitContext) -> Any:
        """Train on data.train with early stopping on data.val; return once `ctx.expired()`."""

    @abstractmethod
    def predict(self, model: Any, X: Inputs, data: FitData) -> np.ndarray:
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
