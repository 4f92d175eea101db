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


class XGBoost(Contender):
    name = "xgboost"
    family = "tree"
    devices = ("cpu", "cuda")
    exact_on = ("cpu", "cuda")  # hist histograms are deterministic on GPU too (XGBoost >= 2)
    library = "xgboost"
    description = "XGBoost, hist trees, native categoricals"
    libraries = ("xgboost",)

    def prepare(self, data: FitData, ctx: FitContext) -> Any:
        import xgboost as xgb

        kw = {"enable_categorical": True, "nthread": ctx.threads}
        return (
            xgb.DMatrix(data.train.X.frame, data.train.y, **kw),
            xgb.DMatrix(data.val.X.frame, data.val.y, **kw),
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
        import xgboost as xgb

        pred = model.predict(xgb.DMatrix(X.frame, enable_categorical=True))
        return pred if data.task == "regression" else as_proba(pred, data.n_classes)


CONTENDER = XGBoost
