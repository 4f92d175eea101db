"""Time and cost to a target score, read off the anytime curves (as DAWNBench ranks by time and
cost to an accuracy): at equal budgets every cell costs budget × price, so what discriminates is
how soon each contender came within a stated distance of the best score at that size.

A cell's anytime curve holds a point each time its validation score improved, with that model's
test score: per seed, the score at time t is the test score of the best model by validation so
far (never the best test score, which would select on test). The target at one (dataset, runner,
n) is the best contender's seed-mean final score less one point (`boundary.one_point`).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

from treeline.analysis.boundary import one_point
from treeline.execute.budget import Budget

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class ToTarget:
    """One contender's way to the target at one size."""

    dataset: str
    runner: str
    n: int
    contender: str
    family: str
    target: float  # the score (higher is better) to reach
    seconds: float  # median over the seeds that reached it, on the budget clock; NaN if none
    usd: float  # seconds × the runner's price
    reached: int  # seeds that reached it
    seeds: int
    budget: float

    @property
    def text(self) -> str:
        if not self.reached:
            return f"not reached within {self.budget:g} s"
        return f"{self.seconds:.1f} s"


def first_reach(curve: list[tuple[float, float]], target: float, budget: float) -> float:
    """Budget-clock seconds at which the best-by-validation model's test score first reached
    `target` (NaN if never). A point within the grace after the budget counts at the budget, as
    the cell's own result does."""
    limit = Budget(budget).limit
    for elapsed, score in sorted(curve):
        if elapsed > limit:
            break
        if score >= target:
            return min(elapsed, budget)
    return math.nan


def to_target(frame: pd.DataFrame) -> list[ToTarget]:
    """Every contender at every (dataset, runner, n) with finished cells, fastest first."""
    ok = frame[frame["status"] == "ok"]
    out: list[ToTarget] = []
    for (dataset, runner, n), at_n in ok.groupby(["dataset", "runner", "n"], sort=True):
        means = at_n.groupby("contender")["test_score"].mean()
        best = float(means.max())
        target = best - one_point(str(at_n["task"].iloc[0]), best)
        rows = []
        for contender, cells in at_n.groupby("contender"):
            budget = float(cells["budget"].max())
            times = [first_reach(list(a), target, budget) for a in cells["anytime"]]
            hit = [t for t in times if not math.isnan(t)]
            seconds = statistics.median(hit) if hit else math.nan
            price = float(cells["price_per_hour"].iloc[0])
            rows.append(
                ToTarget(
                    str(dataset),
                    str(runner),
                    int(n),
                    str(contender),
                    str(cells["family"].iloc[0]),
                    target,
                    seconds,
                    seconds * price / 3600,
                    len(hit),
                    len(times),
                    budget,
                )
            )
        out += sorted(rows, key=lambda r: (-r.reached / r.seeds, _or_inf(r.seconds)))
    return out


def _or_inf(x: float) -> float:
    return math.inf if math.isnan(x) else x
