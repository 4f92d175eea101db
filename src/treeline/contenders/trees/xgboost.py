"""XGBoost: histogram trees with native categorical splits.

Search space: Gorishniy et al. 2021, "Revisiting Deep Learning Models for Tabular Data"
(NeurIPS), Appendix (XGBoost): max_depth UniformInt[3, 10], min_child_weight
LogUniform[1e-8, 1e5], subsample Uniform[0.5, 1], learning_rate LogUniform[1e-5, 1],
colsample_bylevel and colsample_bytree Uniform[0.5, 1], gamma, lambda, alpha each
{0, LogUniform[1e-8, 1e2]}; 2000 rounds with early stopping after 50. One deviation: the learning
rate starts at 1e-3, not 1e-5 — under a budget of seconds to minutes a 1e-5 trial cannot move
off the prior in 2000 rounds, so it only burns the budget (the paper ran 100 trials regardless
of time). Default configuration (trial 0): the library's defaults plus the same early stopping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from treeline.contenders.base import (
    MAX_ROUNDS,
    PATIENCE,
    REPORT_EVERY,
    Contender,
    FitContext,
    as_proba,
    log_uniform_or_zero,
)

if TYPE_CHECKING:
    import optuna

    from treeline.data import FitData, Inputs


def _objective(data: FitData) -> dict[str, Any]:
    if data.task == "regression":
        return {"objective": "reg:squarederror", "eval_metric": "rmse"}
    if data.task == "binary":
        return {"objective": "binary:logistic", "eval_metric": "logloss"}
    return {
        "objective": "multi:softprob",
        "eval_metric": "mlogloss",
        "num_class": data.n_classes,
    }


def _dmatrix(X: Inputs, y: np.ndarray | None, threads: int | None = None) -> Any:
    """A table as a DMatrix: the frame with native categoricals, or (sparse tables) one CSR
    matrix whose categorical columns are typed 'c'."""
    import xgboost as xgb

    if not X.is_sparse:  # type: ignore[attr-defined]
        return xgb.DMatrix(X.frame, y, enable_categorical=True, nthread=threads)  # type: ignore[attr-defined]
    matrix, names, cats = X.csr()  # type: ignore[attr-defined]
    types = ["c" if i in set(cats) else "q" for i in range(len(names))]
    return xgb.DMatrix(
        matrix, y, feature_names=names, feature_types=types, enable_categorical=True,
        nthread=threads,
    )  # fmt: skip


class XGBoost(Contender):
    name = "xgboost"
    family = "tree"
    devices = ("cpu", "cuda")
    exact_on = ("cpu", "cuda")  # hist histograms are deterministic on GPU too (XGBoost >= 2)
    library = "xgboost"
    description = "XGBoost, hist trees, native categoricals"
    libraries = ("xgboost",)
    takes_sparse = True

    def prepare(self, data: FitData, ctx: FitContext) -> Any:

        return (
            _dmatrix(data.train.X, data.train.y, ctx.threads),
            _dmatrix(data.val.X, data.val.y, ctx.threads),
        )

    def default_params(self, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {
            "max_depth": 6,
            "learning_rate": 0.3,
            "min_child_weight": 1.0,
            "subsample": 1.0,
            "colsample_bytree": 1.0,
            "colsample_bylevel": 1.0,
            "gamma": 0.0,
            "lambda": 1.0,
            "alpha": 0.0,
        }

    def suggest(self, trial: optuna.Trial, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {
            "max_depth": trial.suggest_int("max_depth", 3, 10),
            "min_child_weight": trial.suggest_float("min_child_weight", 1e-8, 1e5, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "learning_rate": trial.suggest_float("learning_rate", 1e-3, 1.0, log=True),
            "colsample_bylevel": trial.suggest_float("colsample_bylevel", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
            "gamma": log_uniform_or_zero(trial, "gamma", 1e-8, 1e2),
            "lambda": log_uniform_or_zero(trial, "lambda", 1e-8, 1e2),
            "alpha": log_uniform_or_zero(trial, "alpha", 1e-8, 1e2),
        }

    def fit(self, data: FitData, prepared: Any, params: dict[str, Any], ctx: FitContext) -> Any:
        import xgboost as xgb

        dtrain, dval = prepared
        metric = _objective(data)["eval_metric"]

        class Deadline(xgb.callback.TrainingCallback):
            def after_iteration(self, model: Any, epoch: int, evals_log: dict) -> bool:
                ctx.did("rounds")
                if epoch % REPORT_EVERY == REPORT_EVERY - 1:
                    ctx.report(epoch + 1, -float(evals_log["val"][metric][-1]))
                return ctx.expired()

        full = {
            **_objective(data),
            **params,
            "tree_method": "hist",
            "nthread": ctx.threads,
            "seed": ctx.seed,
            "device": "cuda" if ctx.device == "cuda" else "cpu",
            "verbosity": 0,
        }
        return xgb.train(
            full,
            dtrain,
            num_boost_round=MAX_ROUNDS,
            evals=[(dval, "val")],
            verbose_eval=False,
            callbacks=[xgb.callback.EarlyStopping(rounds=PATIENCE, save_best=True), Deadline()],
        )

    def predict(self, model: Any, X: Inputs, data: FitData) -> np.ndarray:
        pred = model.predict(_dmatrix(X, None))
        return pred if data.task == "regression" else as_proba(pred, data.n_classes)


CONTENDER = XGBoost
