"""Harness overhead: trials per minute through Treeline's tuning loop vs a bare Optuna + XGBoost
loop over the same data, search space, sampler, pruner and early stopping, in one process.

Both loops run the same fixed number of trials; with the same seeds they sample the same
configurations, so the difference is the harness (clock checks, reporting, the anytime curve's
test scoring, which Treeline's budget clock does not charge). Single-threaded, interleaved,
medians of several rounds, reported as ratios. Run: `pytest benchmarks/test_overhead.py`.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest

TRIALS = 20
ROUNDS = 5


@pytest.fixture(scope="module")
def data():
    from treeline.data import get_dataset

    return get_dataset("adult").bundle(5000, 0).fitdata()


def bare_loop(data) -> int:
    """What a practitioner writes by hand: Optuna ask/tell around xgb.train."""
    import optuna
    import xgboost as xgb

    from treeline.contenders.trees.xgboost import XGBoost

    space = XGBoost()  # the same search space, nothing else of the harness
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=30),
    )
    dtrain = xgb.DMatrix(data.train.X.frame, data.train.y, enable_categorical=True, nthread=1)
    dval = xgb.DMatrix(data.val.X.frame, data.val.y, enable_categorical=True, nthread=1)

    class Prune(xgb.callback.TrainingCallback):
        def __init__(self, trial):
            self.trial = trial

        def after_iteration(self, model, epoch, evals_log) -> bool:
            if epoch % 10 == 9:
                self.trial.report(-evals_log["val"]["logloss"][-1], epoch + 1)
                if self.trial.should_prune():
                    raise optuna.TrialPruned()
            return False

    for _ in range(TRIALS):
        trial = study.ask()
        params = space.default_params(data) if trial.number == 0 else space.suggest(trial, data)
        try:
            booster = xgb.train(
                {
                    **params,
                    "objective": "binary:logistic",
                    "eval_metric": "logloss",
                    "tree_method": "hist",
                    "nthread": 1,
                    "seed": 0,
                    "verbosity": 0,
                },
                dtrain,
                num_boost_round=2000,
                evals=[(dval, "val")],
                verbose_eval=False,
                callbacks=[xgb.callback.EarlyStopping(rounds=50, save_best=True), Prune(trial)],
            )
        except optuna.TrialPruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            continue
        proba = booster.predict(dval)
        study.tell(trial, float(np.mean((proba > 0.5) == data.val.y)))
    return TRIALS


def treeline_loop(data) -> tuple[int, float]:
    from treeline.contenders import load
    from treeline.execute.budget import BudgetClock
    from treeline.execute.tuning import tune

    clock = BudgetClock(float("inf"))
    r = tune(load("xgboost"), data, device="cpu", threads=1, seed=0, clock=clock, max_trials=TRIALS)
    return r.n_trials, clock.elapsed()


def test_tuning_overhead_vs_bare_optuna_xgboost(benchmark, data, pytestconfig) -> None:
    if pytestconfig.getoption("--suite"):
        pytest.skip("a harness benchmark, not a suite cell: run it without --suite")
    bare, wall, charged = [], [], []

    def one_round() -> None:
        t0 = time.perf_counter()
        bare_loop(data)
        bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        n, budget_seconds = treeline_loop(data)
        wall.append(time.perf_counter() - t0)
        charged.append(budget_seconds)
        assert n == TRIALS

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    b, w, c = (statistics.median(x) for x in (bare, wall, charged))
    info = {
        "trials": TRIALS,
        "rounds": ROUNDS,
        "bare_trials_per_minute": TRIALS / b * 60,
        "treeline_trials_per_budget_minute": TRIALS / c * 60,
        "treeline_trials_per_wall_minute": TRIALS / w * 60,
        "ratio_budget": b / c,  # what the budget buys through Treeline vs by hand
        "ratio_wall": b / w,  # including the anytime curve's test scoring
    }
    benchmark.extra_info.update(info)
    print("\n" + "\n".join(f"{k}: {v:.3f}" for k, v in info.items()))
    assert info["ratio_budget"] >= 0.9  # goal 0.97; looser here for a shared, noisy machine
