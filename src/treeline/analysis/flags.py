"""Scores that do not mean what they seem, and results the budget or the machine decided: a
contender no better than the trivial baseline (majority class / mean), one that completed only
one trial, one still improving when its budget ended (budget-bound), one measured on a machine
loaded by other processes (contended). Shown wherever such a score appears, so "trees win" is
not read where "the networks never got started" is true.

Each is decided per cell, so per seed: a contender's seeds carry a flag when any of them does,
with how many where not all do (`≈ baseline (1/3 seeds)`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from treeline.execute.result import FLAGS


def flags(cells: pd.DataFrame) -> list[str]:
    """Flags of one contender's finished cells at one size (its seeds), from each cell's own
    (frame column `flags`)."""
    if cells.empty or "flags" not in cells:
        return []
    per_cell = [set(f) for f in cells["flags"]]
    out = []
    for flag in FLAGS:
        k = sum(flag in f for f in per_cell)
        if k == len(per_cell):
            out.append(flag)
        elif k:
            out.append(f"{flag} ({k}/{len(per_cell)} seeds)")
    return out


def has(cell_flags: list[str] | tuple[str, ...], flag: str) -> bool:
    """Whether `flag` is among a group's flags, on every seed or some."""
    return any(f == flag or f.startswith(f"{flag} (") for f in cell_flags)


def label(name: str | None, cell_flags: list[str]) -> str:
    """`mlp`, or `mlp (≈ baseline; untuned: 1 complete trial)`."""
    if not name:
        return "–"
    return f"{name} ({'; '.join(cell_flags)})" if cell_flags else name
