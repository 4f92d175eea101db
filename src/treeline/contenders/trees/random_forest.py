"""Random forest (scikit-learn): bagged deep trees, the classic baseline boosting is measured
against. Not boosted, so no rounds and no early stopping: trees are added in blocks
(`warm_start`) until `max_trees` or the deadline, and the forest so far is the model.

Search space: Probst, Wright & Boulesteix 2019, "Hyperparameters and tuning strategies for random
forest" (WIREs): max_features Uniform[0.05, 1] (as a fraction), min_samples_leaf LogUniformInt
[1, 64], bootstrap sample fraction Uniform[0.2, 1], split criterion gini/entropy (squared error
for regression). Default (trial 0): scikit-learn's (sqrt features; all of them for regression).
Categorical columns enter as their integer codes (missing → NaN, which scikit-learn's trees
route natively).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from treeline.contenders.base import Contender, FitContext, as_proba

if TYPE_CHECKING:
    import optuna

    from treeline.data import FitData, Inputs

BLOCK = 20  # trees added between deadline checks
MAX_TREES = 500


def _matrix(X: Inputs) -> Any:
    if X.is_sparse:  # type: ignore[attr-defined]
        return X.csr()[0]  # type: ignore[attr-defined]  # scikit-learn's forests take CSR
    frame = X.frame  # type: ignore[attr-defined]
    cols = [
        np.where(frame[c].cat.codes < 0, np.nan, frame[c].cat.codes)
        if c in X.categorical  # type: ignore[attr-defined]
        else frame[c].to_numpy(dtype=np.float32)
        for c in frame.columns
    ]
    return np.column_stack(cols).astype(np.float32) if cols else np.zeros((len(frame), 0))


class RandomForest(Contender):
    name = "random-forest"
    family = "tree"
    devices = ("cpu",)
    device_note = "scikit-learn's forests run on CPU only"
    library = "scikit-learn"
    description = "Random forest (scikit-learn), trees added until the deadline"
    libraries = ("sklearn.ensemble",)
    takes_sparse = True

    def prepare(self, data: FitData, ctx: FitContext) -> Any:
        return _matrix(data.train.X)

    def default_params(self, data: FitData, device: str = "cpu") -> dict[str, Any]:
        regression = data.task == "regression"
        return {
            "max_features": 1.0 if regression else "sqrt",
            "min_samples_leaf": 1,
            "max_samples": None,
            "criterion": "squared_error" if regression else "gini",
        }

    def suggest(self, trial: optuna.Trial, data: FitData, device: str = "cpu") -> dict[str, Any]:
        criteria = ["squared_error"] if data.task == "regression" else ["gini", "entropy"]
        return {
            "max_features": trial.suggest_float("max_features", 0.05, 1.0),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 64, log=True),
            "max_samples": trial.suggest_float("max_samples", 0.2, 1.0),
            "criterion": trial.suggest_categorical("criterion", criteria),
        }

    def fit(self, data: FitData, prepared: Any, params: dict[str, Any], ctx: FitContext) -> Any:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        cls = RandomForestRegressor if data.task == "regression" else RandomForestClassifier
        model = cls(
            n_estimators=0,
            warm_start=True,
            n_jobs=ctx.threads,
            random_state=ctx.seed,
            bootstrap=True,
            **params,
        )
        while model.n_estimators < MAX_TREES and not (model.n_estimators and ctx.expired()):
            model.n_estimators += BLOCK
            model.fit(prepared, data.train.y)
            ctx.did("trees", BLOCK)
        return model

    def predict(self, model: Any, X: Inputs, data: FitData) -> np.ndarray:
        if data.task == "regression":
            return model.predict(_matrix(X)).astype(np.float64)
        proba = np.zeros((len(X), data.n_classes))
        proba[:, model.classes_] = model.predict_proba(_matrix(X))
        return as_proba(proba, data.n_classes)


CONTENDER = RandomForest
