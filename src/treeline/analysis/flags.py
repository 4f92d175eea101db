"""Scores that do not mean what they seem: a contender no better than the trivial baseline
(majority class / mean), or one that ran only its default configuration. Shown wherever such a
score appears, so "trees win" is not read where "the networks never got started" is true."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from treeline.execute.result import BASELINE_FLAG as BASELINE
from treeline.execute.result import UNTUNED_FLAG


def flags(cells: pd.DataFrame) -> list[str]:
    """Flags of one contender's finished cells at one size (its seeds): '≈ baseline' when its
    mean test score is no better than the trivial model's, 'untuned: 1 trial' when no seed ran
    more than its default trial."""
    if cells.empty:
        return []
    out = []
    baseline = cells.get("baseline_test_score")
    known = baseline is not None and baseline.notna().any()
    if known and cells["test_score"].mean() <= baseline.mean() + 1e-12:
        out.append(BASELINE)
    if "n_trials" in cells and cells["n_trials"].notna().all() and cells["n_trials"].max() <= 1:
        out.append(UNTUNED_FLAG)
    return out


def label(name: str | None, cell_flags: list[str]) -> str:
    """`mlp`, or `mlp (≈ baseline; untuned: 1 trial)`."""
    if not name:
        return "–"
    return f"{name} ({'; '.join(cell_flags)})" if cell_flags else name
