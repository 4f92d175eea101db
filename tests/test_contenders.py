"""The shared conformance test every contender passes (as every Optuna sampler passes one)."""

from __future__ import annotations

import time

import numpy as np
import optuna
import pytest

from treeline.contenders import REGISTRY, load
from treeline.contenders._base import FitContext
from treeline.datasets import DataBundle, get_dataset
from treeline.datasets.synthetic import Synthetic, SyntheticOptions
from treeline.measure import BudgetClock

CONTENDERS = sorted(REGISTRY)
# Settings that would train for a long time if the contender ignored its clock.
SLOW = {
    "xgboost": {"learning_rate": 1e-3, "max_depth": 10},
    "lightgbm": {"learning_rate": 1e-3, "num_leaves": 700, "min_child_samples": 2},
    "catboost": {"learning_rate": 1e-3, "depth": 10},
    "mlp": {"n_blocks": 8, "d_block": 512, "lr": 1e-5},
    "resnet": {"n_blocks": 8, "d_block": 512, "lr": 1e-5},
    "ft-transformer": {"n_blocks": 4, "d_block": 256, "lr": 1e-5},
    "tabm": {"n_blocks": 4, "d_block": 1024, "k": 32, "lr": 1e-5},
}


def _bundle(task: str) -> DataBundle:
    if task == "binary":
        return get_dataset("adult").bundle(600, 0)
    if task == "regression":
        return get_dataset("diamonds").bundle(600, 0)
    opts = SyntheticOptions(task="multiclass", classes=4, categorical=2, informative=4)
    return Synthetic(opts, "multi").bundle(600, 0)


def _defaults(c, data: DataBundle) -> dict:
    """The default configuration, cut to 2 epochs for networks (fixed work, not time)."""
    extra = {"max_epochs": 2} if c.info.family == "deep" else {}
    return {**c.default_params(data), **extra}


def _ctx(budget: float = 60.0) -> FitContext:
    return FitContext(
        device="cpu", threads=1, seed=0, clock=BudgetClock(budget), report=lambda step, value: None
    )


@pytest.fixture(scope="module", params=["binary", "multiclass", "regression"])
def data(request: pytest.FixtureRequest) -> DataBundle:
    return _bundle(request.param)


@pytest.mark.parametrize("name", CONTENDERS)
def test_predictions_have_the_right_shape(name: str, data: DataBundle) -> None:
    c = load(name)
    ctx = _ctx()
    model = c.fit(data, c.prepare(data, ctx), _defaults(c, data), ctx)
    pred = c.predict(model, data.test.X, data)
    if data.task == "regression":
        assert pred.shape == (len(data.test),)
    else:
        assert pred.shape == (len(data.test), data.schema.n_classes)
        np.testing.assert_allclose(pred.sum(axis=1), 1.0, atol=1e-5)
    assert np.isfinite(pred).all()


@pytest.mark.parametrize("name", CONTENDERS)
def test_same_seed_same_predictions(name: str, data: DataBundle) -> None:
    c = load(name)
    preds = []
    for _ in range(2):
        ctx = _ctx()
        model = c.fit(data, c.prepare(data, ctx), _defaults(c, data), ctx)
        preds.append(c.predict(model, data.test.X, data))
    np.testing.assert_array_equal(preds[0], preds[1])


@pytest.mark.parametrize("name", CONTENDERS)
def test_stops_before_its_deadline(name: str) -> None:
    data = _bundle("binary")
    c = load(name)
    ctx = _ctx(budget=0.5)
    prepared = c.prepare(data, ctx)
    params = {**c.default_params(data), **SLOW[name]}
    t0 = time.perf_counter()
    model = c.fit(data, prepared, params, ctx)
    took = time.perf_counter() - t0
    assert took < 0.5 + 0.5, f"{name} ran {took:.2f} s on a 0.5 s clock"
    assert c.predict(model, data.val.X, data).shape[0] == len(data.val)


@pytest.mark.parametrize("name", CONTENDERS)
def test_search_space_samples_are_valid_configurations(name: str) -> None:
    data = _bundle("binary")
    c = load(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    prepared = c.prepare(data, _ctx())
    for _ in range(6):
        trial = study.ask()
        params = c.suggest(trial, data)
        model = c.fit(data, prepared, params, _ctx(budget=0.5))
        assert np.isfinite(c.predict(model, data.val.X, data)).all(), params
        study.tell(trial, 0.0)
