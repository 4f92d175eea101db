"""Deterministic, nested, stratified subsampling.

A seed fixes one ordering of a dataset's labelled pool; the first `n` rows of that ordering are
the cell's labelled examples, so a seed's n=1 000 is a subset of its n=10 000. For
classification the ordering interleaves the classes in proportion (each class's rows get evenly
spaced, jittered keys), so every prefix is stratified to within one row per class.
"""

from __future__ import annotations

import numpy as np

# Streams of the data layer's random generators, kept apart from the tuners' seeds.
TEST_STREAM = 7_301
SUBSAMPLE_STREAM = 7_302
VAL_EVERY = 5  # every 5th labelled row is validation: an 80/20 split that is nested too


def stratified_order(y: np.ndarray, classification: bool, seed: int, stream: int) -> np.ndarray:
    """A permutation of `range(len(y))` whose prefixes are (class-)stratified samples."""
    rng = np.random.default_rng([stream, seed])
    if not classification:
        return rng.permutation(len(y))
    key = np.empty(len(y), dtype=np.float64)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(len(idx))]
        key[idx] = (np.arange(len(idx)) + rng.random(len(idx))) / len(idx)
    return np.argsort(key, kind="stable")


def train_val_positions(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions 0..n-1 split 80/20: validation is every 5th position."""
    pos = np.arange(n)
    is_val = pos % VAL_EVERY == VAL_EVERY - 1
    return pos[~is_val], pos[is_val]
