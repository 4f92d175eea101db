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
    # An address-space limit (ulimit -v) raises MemoryError: out of memory too.
    assert failure_reason(MemoryError()) == "oom"
    assert failure_reason(MemoryError("Unable to allocate 8.00 GiB for an array")) == "oom"
    assert failure_reason(ValueError("x")) == "error"


def test_deep_out_of_memory_fails_the_trial_not_the_study(adult) -> None:
    import torch  # noqa: F401  (as the worker does: imports are not charged to the budget)

    r = tune(
        fault_contenders.DeepOOM(), adult, device="cpu", threads=1, seed=0, clock=BudgetClock(4.0)
    )
    assert r.n_oom == 2 and r.n_failed == 2
    assert all("OutOfMemoryError" in e for e in r.trial_errors)
    assert r.n_trials >= 4 and r.best_model is not None  # the study went on after the OOMs


def _run(name: str, data, clock: BudgetClock, **kw):
    return tune(load(name), data, device="cpu", threads=1, seed=0, clock=clock, **kw)


def test_a_schedule_replays_to_the_same_trials_work_and_best_model(adult) -> None:
    """Tuned to a clock, then replayed on the recorded work with a clock that never runs out:
    the same trials, outcomes and rounds, the same best trial and the same predictions."""
    recorded = _run("lightgbm", adult, BudgetClock(2.0))
    assert recorded.n_trials >= 3 and recorded.schedule[-1].number == recorded.n_trials - 1
    replayed = _run("lightgbm", adult, BudgetClock(float("inf")), replay=recorded.schedule)
    assert [t.number for t in replayed.schedule] == [t.number for t in recorded.schedule]
    assert all(a.same_work(b) for a, b in zip(recorded.schedule, replayed.schedule, strict=True))
    assert (replayed.best_trial, replayed.best_params) == (
        recorded.best_trial,
        recorded.best_params,
    )
    assert replayed.best_val.score == recorded.best_val.score
    c = load("lightgbm")
    assert (
        c.predict(replayed.best_model, adult.val.X, adult)
        == c.predict(recorded.best_model, adult.val.X, adult)
    ).all()


def test_a_replay_obeys_the_recorded_schedule_not_the_clock_or_the_pruner(adult) -> None:
    """Pruning and cuts come from the record: trial 1 pruned at round 20, trial 2 cut at its
    35th check, on a clock that has already run out."""
    from treeline.execute.schedule import TrialRecord

    c = load("xgboost")
    params = c.default_params(adult)
    schedule = [
        TrialRecord(0, dict(params)),
        TrialRecord(1, {**params, "max_depth": 3}, "pruned", pruned_at=20),
        TrialRecord(2, {**params, "max_depth": 4}, cut_at_check=35),
    ]
    r = _run("xgboost", adult, BudgetClock(0.0), replay=schedule)
    t0, t1, t2 = r.schedule
    assert t0.outcome == "complete" and t0.cut_at_check is None  # ran to early stopping
    assert t1.outcome == "pruned" and t1.work == {"rounds": 20}
    assert t2.outcome == "complete" and t2.cut_at_check == 35 and t2.work == {"rounds": 35}
    assert r.n_trials == 3 and r.n_pruned == 1


def test_the_schedule_records_every_trial_with_its_work_and_cut(adult) -> None:
    r = _run("xgboost", adult, BudgetClock(1.5))
    s = r.schedule
    assert [t.number for t in s] == list(range(r.n_trials))
    assert s[0].params == load("xgboost").default_params(adult)
    assert all(t.work.get("rounds", 0) > 0 for t in s if t.outcome != "failed")
    done = [t for t in s if t.outcome == "complete"]
    assert max(t.val_score for t in done) == r.best_val.score
    # Only the last trial can have been cut by the deadline.
    assert all(t.cut_at_check is None for t in s[:-1])


def test_a_schedule_reads_back_exactly_from_its_json(adult) -> None:
    from treeline.execute.schedule import dumps, loads

    r = _run("xgboost", adult, BudgetClock(1.0))
    back = loads(dumps(r.schedule))
    assert back == r.schedule  # every float parameter bit for bit
    with pytest.raises(ValueError, match="schedule format"):
        loads('{"format": 99, "trials": []}')
