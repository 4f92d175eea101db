"""The tuning loop: default first, anytime curve, failed and OOM trials, the budget clock."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from treeline.contenders import load
from treeline.data import get_dataset
from treeline.execute.budget import BudgetClock
from treeline.execute.tuning import NoTrialSucceeded, failure_reason, tune

sys.path.insert(0, str(Path(__file__).parent))
import fault_contenders


@pytest.fixture(scope="module")
def adult():
    return get_dataset("adult").bundle(1000, 0).fitdata()


def test_tune_runs_until_the_budget_and_records_the_anytime_curve(adult) -> None:
    clock = BudgetClock(3.0)
    r = tune(load("xgboost"), adult, device="cpu", threads=1, seed=0, clock=clock, score_test=_val)
    assert r.n_trials >= 3
    assert 3.0 <= clock.elapsed() < 3.5
    assert r.anytime[0].trial == 0  # the default configuration always runs first
    vals = [p.val_score for p in r.anytime]
    assert vals == sorted(vals) and len(set(vals)) == len(vals)
    times = [p.elapsed for p in r.anytime]
    assert times == sorted(times) and r.time_to_best == times[-1]
    assert r.best_val.score == vals[-1]


def _val(model) -> float:
    return 0.5  # the anytime curve's test scores come from the harness; any number will do


def test_failed_and_oom_trials_do_not_fail_the_cell(adult) -> None:
    r = tune(
        fault_contenders.Flaky(), adult, device="cpu", threads=1, seed=0, clock=BudgetClock(3.0)
    )
    assert r.n_failed == 3 and r.n_oom == 1
    assert any("injected failure" in e for e in r.trial_errors)
    assert any("out of memory" in e for e in r.trial_errors)
    assert r.best_model is not None


def test_a_cell_with_no_successful_trial_raises(adult) -> None:
    with pytest.raises(NoTrialSucceeded, match="bad configuration"):
        tune(
            fault_contenders.AlwaysRaises(),
            adult,
            device="cpu",
            threads=1,
            seed=0,
            clock=BudgetClock(0.5),
        )


def test_paused_time_is_not_charged() -> None:
    clock = BudgetClock(10.0)
    with clock.paused():
        time.sleep(0.3)
    assert clock.elapsed() < 0.05


def test_failure_reason_recognises_out_of_memory() -> None:
    assert failure_reason(RuntimeError("CUDA out of memory. Tried to allocate")) == "oom"
    assert failure_reason(MemoryError()) == "error"
    assert failure_reason(ValueError("x")) == "error"


def test_deep_out_of_memory_fails_the_trial_not_the_study(adult) -> None:
    import torch  # noqa: F401  (as the worker does: imports are not charged to the budget)

    r = tune(
        fault_contenders.DeepOOM(), adult, device="cpu", threads=1, seed=0, clock=BudgetClock(4.0)
    )
    assert r.n_oom == 2 and r.n_failed == 2
    assert all("OutOfMemoryError" in e for e in r.trial_errors)
    assert r.n_trials >= 4 and r.best_model is not None  # the study went on after the OOMs
