"""A Cell: one (dataset, n, contender, runner, seed) of a suite. Its id is the pytest id, the
MLflow run name and the log file name; its resume key says whether it has run already."""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from treeline.datasets import DatasetRef
from treeline.suite import Suite


@dataclass(frozen=True)
class Cell:
    suite: str
    dataset: DatasetRef
    modality: str
    task: str
    n: int
    contender: str
    runner: str
    seed: int
    budget: float

    @property
    def id(self) -> str:
        return f"{self.dataset.label}/n={self.n}/{self.contender}/{self.runner}/s{self.seed}"

    def resume_key(self, runner_config: dict[str, Any]) -> str:
        """Hash of everything that defines the cell's outcome: its data, contender, seed,
        budget and the runner's device, threads and price."""
        blob = json.dumps(
            {
                "id": self.id,
                "data": self.dataset.identity(),
                "budget": self.budget,
                "runner": runner_config,
            },
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["dataset"] = asdict(self.dataset)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Cell:
        return cls(**{**d, "dataset": DatasetRef(**d["dataset"])})


def expand(
    suite: Suite,
    runners: list[str] | None = None,
    budget_scale: float = 1.0,
    only: list[str] | None = None,
) -> list[Cell]:
    """Dataset × n × contender × runner × seed, in the order a person reads a results table.

    `only`: glob patterns on cell ids (e.g. `adult/*/xgboost/*`).
    """
    cells = [
        Cell(
            suite.name,
            ds.ref,
            ds.modality,
            ds.task,
            n,
            contender,
            runner,
            seed,
            suite.budget * budget_scale,
        )
        for ds in suite.datasets
        for n in ds.sizes
        for runner in (runners or suite.runners)
        for seed in suite.seeds
        for contender in suite.contenders
    ]
    if only:
        cells = [c for c in cells if any(fnmatch.fnmatchcase(c.id, pat) for pat in only)]
    return cells
