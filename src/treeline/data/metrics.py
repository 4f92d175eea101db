"""One scoring rule for every contender: the primary metric and `test_score` (higher is better)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from treeline.data.dataset import Task


@dataclass(frozen=True)
class Score:
    metric: str  # e.g. "accuracy", "rmse"
    value: float  # the metric as usually reported
    score: float  # oriented so that higher is better (RMSE is negated)


def score(task: Task, y_true: np.ndarray, pred: np.ndarray) -> Score:
    """`pred`: class probabilities (n, k) for classification, values (n,) for regression."""
    if task == "regression":
        rmse = float(np.sqrt(np.mean((np.asarray(pred, dtype=np.float64) - y_true) ** 2)))
        return Score("rmse", rmse, -rmse)
    acc = float(np.mean(np.asarray(pred).argmax(axis=1) == y_true))
    return Score("accuracy", acc, acc)


def trivial_score(task: Task, y_train: np.ndarray, y_test: np.ndarray, n_classes: int) -> Score:
    """The baseline a cell must beat: the training majority class, or the training mean."""
    if task == "regression":
        pred = np.full(len(y_test), float(np.mean(y_train)))
        return score(task, y_test, pred)
    counts = np.bincount(y_train, minlength=n_classes)
    proba = np.zeros((len(y_test), n_classes))
    proba[:, int(counts.argmax())] = 1.0
    return score(task, y_test, proba)
