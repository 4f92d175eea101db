"""CatBoost: oblivious trees, ordered target statistics for categorical columns.

Search space: Gorishniy et al. 2021, "Revisiting Deep Learning Models for Tabular Data",
Appendix (CatBoost): depth UniformInt[3, 10], l2_leaf_reg LogUniform[1, 10],
bagging_temperature Uniform[0, 1], leaf_estimation_iterations UniformInt[1, 10], learning_rate
LogUniform[1e-5, 1] (floor raised to 1e-3 for the budget reason given in xgboost.py);
2000 iterations, early stopping after 50. Default configuration (trial 0): the library's defaults
(its learning rate is chosen automatically from the data) plus early stopping.

On text (alone or with a table) without a featurizer, CatBoost takes the text as its native text
feature: its default tokenization, dictionaries and text estimators (classification only).
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
)

if TYPE_CHECKING:
    import optuna
    import pandas as pd

    from treeline.data import FitData, Inputs

_LOSS = {"regression": "RMSE", "binary": "Logloss", "multiclass": "MultiClass"}


def _catboost_frame(X: pd.DataFrame, categorical: tuple[str, ...]) -> pd.DataFrame:
    """CatBoost wants categorical values as strings, with no missing values."""
    if not categorical:
        return X
    X = X.copy()
    for col in categorical:
        X[col] = X[col].astype("string").fillna("__missing__").astype(object)
    return X


def _pool(X: Inputs, y: np.ndarray | None) -> Any:
    """A Pool of the frame, or of a sparse table's CSR matrix. CatBoost's categorical features
    must be integers or strings, which a float CSR matrix cannot hold: there, a table's
    categorical columns are taken by their codes as numbers."""
    from catboost import Pool

    if X.modality in ("text", "multimodal"):
        return _text_pool(X, y)
    if X.is_sparse:  # type: ignore[attr-defined]
        matrix, names, _ = X.csr()  # type: ignore[attr-defined]
        return Pool(matrix, y, feature_names=names)
    cats = X.categorical  # type: ignore[attr-defined]
    return Pool(_catboost_frame(X.frame, cats), y, cat_features=list(cats))  # type: ignore[attr-defined]


def _text_pool(X: Inputs, y: np.ndarray | None) -> Any:
    """Text (alone, or with a table's columns) as CatBoost's native text feature: its own
    tokenizer, dictionaries and bag-of-words / naive-Bayes estimators, classification only."""
    import pandas as pd
    from catboost import Pool

    parts = X.parts if X.modality == "multimodal" else {"text": X}  # type: ignore[attr-defined]
    frames, cats, texts = [], [], []
    for name, part in parts.items():
        if part.modality == "text":
            frames.append(pd.DataFrame({name: part.strings}))
            texts.append(name)
        else:
            cats += list(part.categorical)
            frames.append(_catboost_frame(part.frame.reset_index(drop=True), part.categorical))
    frame = pd.concat(frames, axis=1)
    return Pool(frame, y, cat_features=cats, text_features=texts)


class CatBoost(Contender):
    name = "catboost"
    family = "tree"
    devices = ("cpu", "cuda")
    library = "catboost"
    description = "CatBoost, ordered target statistics for categoricals; native text features"
    # Text as its own tokenized features (classification on CPU), alone or beside a table.
    modalities = ("tabular", "text", "multimodal")
    multimodal_parts = ("text",)  # its native text features; images need a featurizer
    libraries = ("catboost",)
    takes_sparse = True

    def prepare(self, data: FitData, ctx: FitContext) -> Any:

        return tuple(_pool(s.X, s.y) for s in (data.train, data.val))

    def default_params(self, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {}

    def suggest(self, trial: optuna.Trial, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {
            "depth": trial.suggest_int("depth", 3, 10),
            "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 1.0, 10.0, log=True),
            "bagging_temperature": trial.suggest_float("bagging_temperature", 0.0, 1.0),
            "leaf_estimation_iterations": trial.suggest_int("leaf_estimation_iterations", 1, 10),
            "learning_rate": trial.suggest_float("learning_rate", 1e-3, 1.0, log=True),
        }

    def fit(self, data: FitData, prepared: Any, params: dict[str, Any], ctx: FitContext) -> Any:
        from catboost import CatBoost as Model

        train, val = prepared
        loss = _LOSS[data.task]
        pruned: list[BaseException] = []

        class Deadline:
            def after_iteration(self, info: Any) -> bool:
                ctx.did("rounds")
                if info.iteration % REPORT_EVERY == 0:
                    try:
                        ctx.report(info.iteration, -float(info.metrics["validation"][loss][-1]))
                    except BaseException as exc:  # TrialPruned: stop here, re-raise after fit
                        pruned.append(exc)
                        return False
                return not ctx.expired()

        full = {
            **params,
            "loss_function": loss,
            "eval_metric": loss,
            "iterations": MAX_ROUNDS,
            "od_type": "Iter",
            "od_wait": PATIENCE,
            "use_best_model": True,
            "random_seed": ctx.seed,
            "thread_count": ctx.threads,
            "verbose": False,
            "allow_writing_files": False,
        }
        if data.task == "multiclass":
            full["class_names"] = list(range(data.n_classes))
        if ctx.device == "cuda":
            full.update(task_type="GPU", devices="0")
        model = Model(full)
        model.fit(train, eval_set=val, callbacks=[Deadline()])
        if pruned:
            raise pruned[0]
        return model

    def predict(self, model: Any, X: Inputs, data: FitData) -> np.ndarray:
        pool = _pool(X, None)
        if data.task == "regression":
            return np.asarray(model.predict(pool))
        return as_proba(model.predict(pool, prediction_type="Probability"), data.n_classes)


CONTENDER = CatBoost
