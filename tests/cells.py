"""A cell for tests that need one without a suite: adult, xgboost on the CPU, 1 s, seed 0;
any field given replaces the default (a float budget becomes a Budget)."""

from __future__ import annotations

from typing import Any

from treeline.data import DatasetRef
from treeline.execute.budget import Budget
from treeline.execute.cell import Cell, ContenderSpec


def a_cell(contender: str = "xgboost", family: str = "tree", **fields: Any) -> Cell:
    defaults: dict[str, Any] = {
        "suite": "t",
        "dataset": DatasetRef(label="adult", name="adult"),
        "modality": "tabular",
        "task": "binary",
        "n": 200,
        "contender": ContenderSpec(contender),
        "family": family,
        "runner": "cpu",
        "device": "cpu",
        "threads": 2,
        "gpu": None,
        "price_per_hour": 0.1,
        "price_source": "test",
        "seed": 0,
        "budget": Budget(1.0),
    }
    merged = {**defaults, **fields}
    if not isinstance(merged["budget"], Budget):
        merged["budget"] = Budget(float(merged["budget"]))
    return Cell(**merged)
