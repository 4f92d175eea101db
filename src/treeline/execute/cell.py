"""A Cell: one (dataset, n, contender, runner, seed) of a suite, fully resolved. Its id is the
pytest id, the MLflow run name and the log file name; the hash of its configuration is the
resume key."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from treeline.config.runner_profile import RunnerProfile
from treeline.data import DatasetRef
from treeline.execute.budget import Budget


@dataclass(frozen=True)
class ContenderSpec:
    """A suite's contender entry: a catalogue name, an optional featurizer and typed options."""

    name: str
    featurizer: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    label: str = ""  # the name in cell ids; default `name` or `name+featurizer`
    featurize: dict[str, Any] = field(default_factory=dict)  # the featurizer's typed options

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.default_label)

    @property
    def default_label(self) -> str:
        return f"{self.name}+{self.featurizer}" if self.featurizer else self.name


@dataclass(frozen=True)
class Cell:
    suite: str
    dataset: DatasetRef
    modality: str
    task: str
    n: int
    contender: ContenderSpec
    family: str
    runner: str
    device: str
    threads: int
    gpu: str | None
    price_per_hour: float
    price_source: str
    seed: int
    budget: Budget
    metric: str | None = None  # the suite's choice for this dataset; None: the task's default
    max_trials: int | None = None  # the suite's cap on trials; None: until the budget is spent
    clock: str = "wall"  # the runner's budget clock: wall seconds, or CPU seconds per thread

    @property
    def id(self) -> str:
        return f"{self.dataset.label}/n={self.n}/{self.contender.label}/{self.runner}/s{self.seed}"

    @property
    def resume_key(self) -> str:
        """Hash of everything that defines the cell's outcome: its data (a user file's content
        digest included), contender (featurizer and options included), seed, budget and the
        runner's device and threads. Not the price: a dated price that changes reprices the
        recorded seconds, it does not make them wrong."""
        d = self.to_json()
        for k in ("suite", "price_per_hour", "price_source"):  # names and prices, not the setup
            d.pop(k)
        blob = json.dumps(d, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["budget"] = self.budget.seconds
        for key, default in (("metric", None), ("max_trials", None), ("clock", "wall")):
            if d[key] == default:  # absent, not a default: default cells' keys stay put
                del d[key]
        if not d["contender"]["featurize"]:
            del d["contender"]["featurize"]
        return d

    def on(self, runner: str, profile: RunnerProfile) -> Cell:
        """The same cell on another runner."""
        return dataclasses.replace(self, **runner_fields(runner, profile))

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Cell:
        return cls(
            **{
                **d,
                "dataset": DatasetRef(**d["dataset"]),
                "contender": ContenderSpec(**d["contender"]),
                "budget": Budget(float(d["budget"])),
            }
        )


def runner_fields(runner: str, p: RunnerProfile) -> dict[str, Any]:
    """What a runner fixes in a cell: device, threads, clock, GPU model and price."""
    return {
        "runner": runner,
        "device": p.device,
        "threads": p.resolved_threads(),
        "clock": p.clock,
        "gpu": p.gpu,
        "price_per_hour": p.price_per_hour,
        "price_source": f"{p.price_source} ({p.price_date})",
    }
