"""Test-set bootstraps from stored predictions: how much of a score difference the test rows
alone could make. Scores are the higher-is-better `test_score` of data/metrics.py, recomputed
on resampled rows; two cells on the same test rows are resampled together (paired)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from treeline.data.metrics import score

if TYPE_CHECKING:
    from treeline.execute.predictions import Predictions

RESAMPLES = 1000
CHUNK = 2_000_000  # row indices drawn at a time: memory stays ~16 MB whatever the test size
_SLOW = 200  # resamples for metrics that are not a mean over rows (ROC-AUC)


def rescore(task: str, metric: str, p: Predictions) -> float:
    """The test score recomputed from the stored predictions."""
    return score(task, p.y, p.pred, metric).score  # type: ignore[arg-type]


def same_rows(a: Predictions, b: Predictions) -> bool:
    return a.y.shape == b.y.shape and bool(np.array_equal(a.y, b.y))


def indices(n: int, seed: int, resamples: int = RESAMPLES) -> list[np.ndarray]:
    """Bootstrap row indices, in chunks of (resamples, n)."""
    rng = np.random.default_rng(seed)
    per = max(1, CHUNK // max(n, 1))
    return [
        rng.integers(0, n, size=(min(per, resamples - i), n), dtype=np.int64)
        for i in range(0, resamples, per)
    ]


def scores(task: str, metric: str, p: Predictions, idx: list[np.ndarray]) -> np.ndarray:
    """The score on each resample of rows (`idx`: chunks from `indices`)."""
    y, pred = p.y, np.asarray(p.pred, dtype=np.float64)
    if task == "regression":
        err = pred - y
        if metric in ("rmse", "mae"):
            terms = err**2 if metric == "rmse" else np.abs(err)
            means = np.concatenate([terms[i].mean(axis=1) for i in idx])
            return -np.sqrt(means) if metric == "rmse" else -means
        sse = np.concatenate([(err**2)[i].sum(axis=1) for i in idx])  # R²
        ys = [y[i] for i in idx]
        sst = np.concatenate([((v - v.mean(axis=1, keepdims=True)) ** 2).sum(axis=1) for v in ys])
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(sst > 0, 1.0 - sse / sst, 0.0)
    labels = y.astype(np.int64)
    if metric == "accuracy":
        terms = (pred.argmax(axis=1) == labels).astype(np.float64)
        return np.concatenate([terms[i].mean(axis=1) for i in idx])
    if metric == "log_loss":
        terms = np.log(np.clip(pred[np.arange(len(labels)), labels], 1e-15, 1.0))
        return np.concatenate([terms[i].mean(axis=1) for i in idx])
    rows = np.concatenate(idx)[:_SLOW]  # ROC-AUC ranks each resample whole
    return np.array([score(task, y[r], pred[r], metric).score for r in rows])  # type: ignore[arg-type]


def paired_difference(
    task: str, metric: str, base: Predictions, new: Predictions, seed: int = 0
) -> tuple[np.ndarray, bool]:
    """Resampled new − base test scores, and whether they were paired (the same test rows on
    both sides, resampled together); otherwise each side is resampled on its own rows."""
    paired = same_rows(base, new)
    idx_b = indices(len(base.y), seed)
    idx_n = idx_b if paired else indices(len(new.y), seed + 1)
    a, b = scores(task, metric, base, idx_b), scores(task, metric, new, idx_n)
    k = min(len(a), len(b))
    return b[:k] - a[:k], paired


def interval(draws: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def pooled(draws: list[np.ndarray], seed: int = 0) -> np.ndarray:
    """Resampled means of several cells' differences (seeds, sizes): the cells resampled with
    replacement, and each drawn cell's own test-set resample — both sources at once."""
    k = min(len(d) for d in draws)
    d = np.stack([x[:k] for x in draws])  # (cells, resamples)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(draws), size=(len(draws), k))
    return d[pick, np.arange(k)].mean(axis=0)
