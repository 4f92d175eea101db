"""One scoring rule for every contender: the primary metric and `test_score` (higher is better).

The metric is the task's default (accuracy; RMSE) unless a suite chooses another per dataset:
classification accuracy, ROC-AUC (one-vs-rest, macro, for multiclass) or log-loss; regression
RMSE, MAE or R². Tuning selects on the same metric on validation that is reported on test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from treeline.data.dataset import Task

METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("accuracy", "roc_auc", "log_loss"),
    "multiclass": ("accuracy", "roc_auc", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})  # negated in `score`


@dataclass(frozen=True)
class Score:
    metric: str  # e.g. "accuracy", "rmse"
    value: float  # the metric as usually reported
    score: float  # oriented so that higher is better (RMSE is negated)


def default_metric(task: Task) -> str:
    return METRICS[task][0]


def score(task: Task, y_true: np.ndarray, pred: np.ndarray, metric: str | None = None) -> Score:
    """`pred`: class probabilities (n, k) for classification, values (n,) for regression."""
    metric = metric or default_metric(task)
    if metric not in METRICS[task]:
        raise ValueError(f"metric '{metric}' does not fit task {task}: {METRICS[task]}")
    pred = np.asarray(pred, dtype=np.float64)
    if task == "regression":
        err = pred - y_true
        if metric == "rmse":
            value = float(np.sqrt(np.mean(err**2)))
        elif metric == "mae":
            value = float(np.mean(np.abs(err)))
        else:
            total = float(np.sum((y_true - np.mean(y_true)) ** 2))
            value = 1.0 - float(np.sum(err**2)) / total if total > 0 else 0.0
    elif metric == "accuracy":
        value = float(np.mean(pred.argmax(axis=1) == y_true))
    elif metric == "log_loss":
        p = np.clip(pred[np.arange(len(y_true)), y_true.astype(np.int64)], 1e-15, 1.0)
        value = float(-np.mean(np.log(p)))
    else:
        value = _roc_auc(y_true.astype(np.int64), pred)
    return Score(metric, value, -value if metric in LOWER_IS_BETTER else value)


def _roc_auc(y: np.ndarray, proba: np.ndarray) -> float:
    """Binary: AUC of P(class 1). Multiclass: mean one-vs-rest AUC over the classes present
    with both positives and negatives (a class absent from a split cannot be ranked)."""
    classes = [1] if proba.shape[1] == 2 else range(proba.shape[1])
    aucs = [_auc(y == c, proba[:, c]) for c in classes if 0 < np.sum(y == c) < len(y)]
    return float(np.mean(aucs)) if aucs else float("nan")


def _auc(positive: np.ndarray, s: np.ndarray) -> float:
    """Mann-Whitney: the chance a positive outranks a negative, ties counting half."""
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    start = 0
    for end in np.append(np.flatnonzero(np.diff(sorted_s)) + 1, len(s)):  # average tied ranks
        ranks[order[start:end]] = (start + end + 1) / 2
        start = end
    n_pos = int(positive.sum())
    n_neg = len(s) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def trivial_score(
    task: Task, y_train: np.ndarray, y_test: np.ndarray, n_classes: int, metric: str | None = None
) -> Score:
    """The baseline a cell must beat: the training class frequencies (whose most frequent
    class is the majority guess), or the training mean."""
    if task == "regression":
        pred = np.full(len(y_test), float(np.mean(y_train)))
        return score(task, y_test, pred, metric)
    prior = np.bincount(y_train, minlength=n_classes) / max(len(y_train), 1)
    return score(task, y_test, np.tile(prior, (len(y_test), 1)), metric)


NAMES = {
    "accuracy": "accuracy",
    "roc_auc": "ROC-AUC",
    "log_loss": "log-loss",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
}
_UNBOUNDED = frozenset({"rmse", "mae"})  # in the target's units: any magnitude


def heading(metric: str) -> str:
    """`RMSE ↓`, `accuracy ↑`: the metric's name and which way is better."""
    return f"{NAMES.get(metric, metric)} {'↓' if metric in LOWER_IS_BETTER else '↑'}"


def value_of(metric: str, score: float) -> float:
    """The metric as usually reported, from its higher-is-better `score`."""
    return -score if metric in LOWER_IS_BETTER else score


def number(metric: str, x: float | None, scale: float | None = None, sign: bool = False) -> str:
    """One format per metric wherever a value is printed: four decimals for accuracy, ROC-AUC,
    log-loss and R²; four significant digits for RMSE and MAE (target units), fixed by `scale`
    (a typical value of the same table, so a column keeps one number of decimals)."""
    import math

    if x is None or not math.isfinite(x):
        return "–"
    plus = "+" if sign else ""
    if metric not in _UNBOUNDED:
        return f"{x:{plus}.4f}"
    ref = abs(scale if scale is not None and math.isfinite(scale) and scale else x)
    decimals = min(6, max(0, 3 - math.floor(math.log10(ref)))) if ref else 4
    return f"{x:{plus},.{decimals}f}"
