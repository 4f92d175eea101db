"""The plan: a resolved `Suite` (every name checked, see resolve.py), expanded into the cells a
run executes. Nothing here checks anything: what reaches this module is valid."""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from treeline.config.options import RunOptions
from treeline.config.runner_profile import RunnerProfile
from treeline.data import DatasetRef
from treeline.execute.budget import Budget
from treeline.execute.cell import Cell, ContenderSpec, runner_fields


@dataclass(frozen=True)
class SuiteDataset:
    ref: DatasetRef
    sizes: tuple[int, ...]
    modality: str
    task: str
    metric: str | None = None
    budget: float | None = None  # its own budget per cell; None: the suite's
    # The suite's contenders that take this dataset's inputs (labels): a suite with images and
    # tables pairs each contender with the datasets of its modality.
    contenders: tuple[str, ...] = ()
    seeds: tuple[int, ...] | None = None  # its own seeds; None: the suite's
    picked: bool = False  # `contenders` named in the suite file, not every one that fits
    parts: tuple[str, ...] = ()  # a multimodal dataset's kinds of parts (Dataset.parts)

    @property
    def kind(self) -> str:
        """Its modality as a person says it: 'image + table' for a multimodal one."""
        if not self.parts:
            return self.modality
        return " + ".join("table" if p == "tabular" else p for p in self.parts)


@dataclass(frozen=True)
class Expectation:
    dataset: str
    contender: str
    n: int | None
    runner: str | None
    low: float
    high: float

    def applies(self, dataset: str, contender: str, n: int, runner: str) -> bool:
        return (
            self.dataset == dataset
            and self.contender == contender
            and self.n in (None, n)
            and self.runner in (None, runner)
        )


@dataclass(frozen=True)
class Suite:
    """A validated suite: every name resolved, every size checked."""

    name: str
    description: str
    path: Path
    budget: float
    seeds: tuple[int, ...]
    datasets: tuple[SuiteDataset, ...]
    contenders: tuple[ContenderSpec, ...]
    runners: tuple[str, ...]
    expectations: tuple[Expectation, ...]
    max_trials: int | None = None  # trials per cell at most, besides the budget
    acceptance: str | None = None  # checks run after the cells (acceptance.py)

    @property
    def digest(self) -> str:
        """Hash of the resolved configuration (not of the file's formatting)."""
        blob = json.dumps(
            {
                "budget": self.budget,
                "seeds": self.seeds,
                "datasets": [
                    (
                        d.ref.identity(),
                        d.sizes,
                        *([d.metric] if d.metric else []),
                        *([d.budget] if d.budget else []),
                        *([["seeds", *d.seeds]] if d.seeds else []),
                        *([["contenders", *d.contenders]] if d.picked else []),
                    )
                    for d in self.datasets
                ],
                "contenders": [c.__dict__ for c in self.contenders],
                "runners": self.runners,
                **({"max_trials": self.max_trials} if self.max_trials else {}),
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Plan:
    """What a run executes: the suite, the run's options, the runner profiles it uses (by
    name) and the cells, each with its final budget. Made by `resolve.resolve` only."""

    suite: Suite
    options: RunOptions
    profiles: dict[str, RunnerProfile]
    cells: list[Cell]


def expand(
    suite: Suite,
    profiles: dict[str, RunnerProfile],
    budget_scale: float = 1.0,
    only: list[str] | None = None,
    max_trials: int | None = None,
) -> list[Cell]:
    """Dataset × n × runner × seed × contender, in the order a person reads a results table.

    `profiles`: the runners to use, by name. `only`: glob patterns on cell ids. `max_trials`:
    the run's cap on trials per cell, in place of the suite's.
    """
    from treeline.contenders import contender_class

    cells = [
        Cell(
            suite=suite.name,
            dataset=ds.ref,
            modality=ds.modality,
            task=ds.task,
            n=n,
            contender=spec,
            family=contender_class(spec.name).family,
            **runner_fields(runner, p),
            seed=seed,
            budget=Budget((ds.budget or suite.budget) * budget_scale),
            metric=ds.metric,
            max_trials=max_trials or suite.max_trials,
        )
        for ds in suite.datasets
        for n in ds.sizes
        for runner, p in profiles.items()
        for seed in ds.seeds or suite.seeds
        for spec in suite.contenders
        if spec.label in ds.contenders
    ]
    if only:
        cells = [c for c in cells if any(fnmatch.fnmatchcase(c.id, pat) for pat in only)]
    return cells
