"""LightGBM: leaf-wise histogram trees with native categorical splits. CPU only here: the PyPI
wheel has no CUDA build, so on a GPU runner its cells are skipped with that reason.

Search space, modelled on the LightGBM spaces of Gorishniy et al. (TabR 2023, TabM 2024/2025,
appendices): num_leaves UniformInt[4, 768], min_child_samples UniformInt[2, 100],
min_sum_hessian_in_leaf LogUniform[1e-5, 1e2], learning_rate LogUniform[1e-3, 1],
feature_fraction Uniform[0.5, 1], bagging_fraction Uniform[0.5, 1] (bagging every round),
lambda_l2 {0, LogUniform[1e-5, 1e2]}; 2000 rounds, early stopping after 50. The learning-rate
floor is 1e-3 for the same budget reason as in xgboost.py. Default configuration (trial 0): the
library's defaults plus early stopping.
"""

from __future__ import annotations

import re
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


def _input(X: Inputs) -> tuple[Any, dict[str, Any]]:
    """The frame (native categoricals), or for a sparse table one CSR matrix with its names and
    categorical columns; names as LightGBM takes them."""
    if not X.is_sparse:  # type: ignore[attr-defined]
        frame = X.frame  # type: ignore[attr-defined]
        names = _safe_names([str(c) for c in frame.columns])
        return frame.set_axis(names, axis=1, copy=False) if names != list(
            frame.columns
        ) else frame, {}
    matrix, names, cats = X.csr()  # type: ignore[attr-defined]
    return matrix, {"feature_name": _safe_names(names), "categorical_feature": cats or "auto"}


_JSON_SPECIAL = re.compile(r'["\',:\[\]{}]')


def _safe_names(names: list[str]) -> list[str]:
    """LightGBM refuses feature names with JSON's special characters (a user's `Unnamed: 0`,
    `price [$]`): each replaced by `_`, numbered where that makes two names the same."""
    out, seen = [], set()
    for name in names:
        safe = _JSON_SPECIAL.sub("_", name)
        while safe in seen:
            safe += "_"
        seen.add(safe)
        out.append(safe)
    return out


def _objective(data: FitData) -> dict[str, Any]:
    if data.task == "regression":
        return {"objective": "regression", "metric": "rmse"}
    if data.task == "binary":
        return {"objective": "binary", "metric": "binary_logloss"}
    return {
        "objective": "multiclass",
        "metric": "multi_logloss",
        "num_class": data.n_classes,
    }


class LightGBM(Contender):
    name = "lightgbm"
    family = "tree"
    devices = ("cpu",)
    device_note = "the PyPI build of LightGBM has no CUDA support"
    library = "lightgbm"
    description = "LightGBM, leaf-wise trees, native categoricals"
    libraries = ("lightgbm",)
    takes_sparse = True

    def prepare(self, data: FitData, ctx: FitContext) -> Any:
        import lightgbm as lgb

        # feature_pre_filter off: the tuned min_child_samples must not depend on trial 0's.
        params = {"feature_pre_filter": False, "verbosity": -1, "num_threads": ctx.threads}
        X, kw = _input(data.train.X)
        train = lgb.Dataset(X, data.train.y, params=params, free_raw_data=False, **kw)
        X, kw = _input(data.val.X)
        val = lgb.Dataset(X, data.val.y, reference=train, params=params, free_raw_data=False, **kw)
        return train, val

    def default_params(self, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {
            "num_leaves": 31,
            "min_child_samples": 20,
            "min_sum_hessian_in_leaf": 1e-3,
            "learning_rate": 0.1,
            "feature_fraction": 1.0,
            "bagging_fraction": 1.0,
            "lambda_l2": 0.0,
        }

    def suggest(self, trial: optuna.Trial, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {
            "num_leaves": trial.suggest_int("num_leaves", 4, 768),
            "min_child_samples": trial.suggest_int("min_child_samples", 2, 100),
            "min_sum_hessian_in_leaf": trial.suggest_float(
                "min_sum_hessian_in_leaf", 1e-5, 1e2, log=True
            ),
            "learning_rate": trial.suggest_float("learning_rate", 1e-3, 1.0, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
            "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
            "lambda_l2": log_uniform_or_zero(trial, "lambda_l2", 1e-5, 1e2),
        }

    def fit(self, data: FitData, prepared: Any, params: dict[str, Any], ctx: FitContext) -> Any:
        import lightgbm as lgb

        train, val = prepared
        best = {"score": -np.inf, "iteration": 0}

        def deadline(env: Any) -> None:
            ctx.did("rounds")
            _, _, value, higher_better = env.evaluation_result_list[0][:4]
            s = value if higher_better else -value
            if s > best["score"]:
                best.update(score=s, iteration=env.iteration)
            if env.iteration % REPORT_EVERY == REPORT_EVERY - 1:
                ctx.report(env.iteration + 1, s)
            if ctx.expired():
                raise lgb.callback.EarlyStopException(best["iteration"], env.evaluation_result_list)

        full = {
            **_objective(data),
            **params,
            "bagging_freq": 1 if params["bagging_fraction"] < 1 else 0,
            "num_threads": ctx.threads,
            "seed": ctx.seed,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
            "device_type": "cpu",
        }
        return lgb.train(
            full,
            train,
            num_boost_round=MAX_ROUNDS,
            valid_sets=[val],
            valid_names=["val"],
            callbacks=[lgb.early_stopping(PATIENCE, verbose=False), deadline],
        )

    def predict(self, model: Any, X: Inputs, data: FitData) -> np.ndarray:
        pred = model.predict(_input(X)[0], num_iteration=model.best_iteration or None)
        return pred if data.task == "regression" else as_proba(pred, data.n_classes)


CONTENDER = LightGBM
