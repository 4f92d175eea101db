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


class NotEnoughData(ValueError):
    """The data cannot give this cell what it needs (a class in both train and validation):
    the cell is skipped with this reason, never scored at the trivial baseline."""


def every_class_twice(order: np.ndarray, y: np.ndarray, n: int, name: str = "") -> np.ndarray:
    """The first `n` of `order`, but with at least two rows of every class (one for train, one
    for validation): a class short in that prefix gets its earliest rows in `order` instead of
    the prefix's last rows of classes that can spare them. The same as `order[:n]` whenever
    every class is there twice. The rows brought forward are each class's first in the seed's
    ordering, so a smaller n stays a subset of a larger one unless the larger one's evictions
    reach back below the smaller n (only when the two differ by fewer rows than it brings in)."""
    take = order[:n]
    classes, pool_counts = np.unique(y, return_counts=True)
    scarce = classes[pool_counts < 2]
    if len(scarce):
        raise NotEnoughData(
            f"{name}: class code(s) {', '.join(map(str, scarce.tolist()))} have fewer than 2 "
            "labelled examples: none can be in both train and validation"
        )
    if n < 2 * len(classes):
        raise NotEnoughData(
            f"{name}: n={n} cannot hold one example of each of its {len(classes)} classes in "
            f"both train and validation (n >= {2 * len(classes)} needed)"
        )
    counts = {c: int((y[take] == c).sum()) for c in classes}
    short = [c for c in classes if counts[c] < 2]
    if not short:
        return take
    chosen = set(take.tolist())
    extra = []
    for c in short:
        for row in order[y[order] == c]:
            if counts[c] >= 2:
                break
            if row not in chosen:
                extra.append(row)
                chosen.add(row)
                counts[c] += 1
    keep = list(take)
    for _ in extra:  # evict from the end, never leaving a class with fewer than 2
        for i in range(len(keep) - 1, -1, -1):
            c = y[keep[i]]
            if counts[c] > 2 and keep[i] not in extra:
                counts[c] -= 1
                del keep[i]
                break
    return np.asarray(keep + extra, dtype=order.dtype)


def every_class_on_both_sides(
    y: np.ndarray, tr: np.ndarray, va: np.ndarray, name: str = "", n: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Train/validation positions with every class on both sides where it has 2 rows: a class
    missing from one side swaps one of its rows with a row of the class that side has most of.
    Unchanged when every class is already on both sides."""
    tr, va = tr.copy(), va.copy()
    k = len(np.unique(y))
    if len(va) < k:
        raise NotEnoughData(
            f"{name}: n={n} leaves {len(va)} validation rows for its {k} classes: every class "
            f"cannot be in both train and validation (n >= {k * VAL_EVERY} needed)"
        )
    for c in np.unique(y):
        for src, dst in ((tr, va), (va, tr)):
            if (y[dst] == c).any():
                continue
            mine = np.flatnonzero(y[src] == c)
            if len(mine) < 2:
                raise NotEnoughData(
                    f"{name}: n={n} leaves class code {c} with a single example: it cannot be "
                    "in both train and validation"
                )
            dst_classes, dst_counts = np.unique(y[dst], return_counts=True)
            if dst_counts.max() < 2:  # nothing on that side can be spared
                raise NotEnoughData(
                    f"{name}: n={n} is too small to put every class in both train and validation"
                )
            other = dst_classes[np.argmax(dst_counts)]
            j = np.flatnonzero(y[dst] == other)[-1]
            i = mine[-1]
            src[i], dst[j] = dst[j], src[i]
    return np.sort(tr), np.sort(va)
