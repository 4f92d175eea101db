"""A comparison's finished cells in the results frame, and the numbers read off them.

Shared by the report's text (content) and its plots, which must agree on what they show.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from treeline.data.metrics import number, value_of

if TYPE_CHECKING:
    import pandas as pd

    from treeline.analysis.boundary import Comparison


def cells_of(frame: pd.DataFrame, c: Comparison) -> pd.DataFrame:
    """The comparison's dataset × runner cells that finished with a score."""
    return frame[
        (frame["dataset"] == c.dataset) & (frame["runner"] == c.runner) & (frame["status"] == "ok")
    ]


def metric_of(frame: pd.DataFrame, c: Comparison) -> str:
    cells = cells_of(frame, c)
    return str(cells["metric"].iloc[0]) if "metric" in cells and len(cells) else ""


def score_text(metric: str, score: float, scale: float | None = None) -> str:
    """A higher-is-better score printed as its metric (RMSE positive), in the metric's format."""
    return number(metric, value_of(metric, score) if score is not None else None, scale)


def scale_of(frame: pd.DataFrame, c: Comparison) -> float | None:
    """A typical metric value of the comparison: fixes the decimals of its RMSE/MAE column."""
    cells = cells_of(frame, c)
    return float(cells["test_score"].abs().median()) if len(cells) else None


def mean_of(scores: dict[int, float]) -> float:
    return sum(scores.values()) / len(scores) if scores else math.nan


def cost_points(frame: pd.DataFrame, c: Comparison) -> list[tuple[float, float, Any]]:
    """(USD per cell, score, (contender, n, family)), each the mean over seeds."""
    means = (
        cells_of(frame, c)
        .groupby(["contender", "n", "family"])
        .agg(cost=("cost_usd", "mean"), score=("test_score", "mean"))
        .reset_index()
    )
    return [(r.cost, r.score, (r.contender, r.n, r.family)) for r in means.itertuples()]
