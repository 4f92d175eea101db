"""The equal-budget tuning loop: an Optuna study that runs until the cell's clock runs out.

Trial 0 is the contender's default configuration; later trials come from a seeded TPE sampler;
a median pruner stops trials whose intermediate validation scores lag. A trial that raises fails
alone. Every new best validation score is scored on test with the clock paused: the anytime
curve, from which results for any smaller budget can be read. The test split is not an argument:
the caller passes `score_test`, a function of a model, so nothing here hands it to a contender.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from treeline.contenders.base import Contender, FitContext
from treeline.data.metrics import Score, score
from treeline.execute.budget import BudgetClock
from treeline.execute.result import AnytimePoint

if TYPE_CHECKING:
    from collections.abc import Callable

    from treeline.data import FitData

PRUNER_STARTUP_TRIALS = 5
PRUNER_WARMUP_STEPS = 30


class NoTrialSucceeded(RuntimeError):
    """Every trial failed or was pruned: the cell has no model."""


@dataclass
class TuneResult:
    best_params: dict[str, Any]
    best_model: Any
    best_val: Score
    best_trial: int
    time_to_best: float
    n_trials: int = 0
    n_pruned: int = 0
    n_failed: int = 0
    n_oom: int = 0
    anytime: list[AnytimePoint] = field(default_factory=list)
    trial_errors: list[str] = field(default_factory=list)


def failure_reason(exc: BaseException) -> str:
    """'oom' for out-of-memory errors (torch, CUDA, the allocator), else 'error'."""
    text = f"{type(exc).__name__} {exc}".lower()
    return "oom" if ("outofmemory" in text or "out of memory" in text) else "error"


def tune(
    contender: Contender,
    data: FitData,
    *,
    device: str,
    threads: int,
    seed: int,
    clock: BudgetClock,
    score_test: Callable[[Any], float] | None = None,
    max_trials: int | None = None,
) -> TuneResult:
    """Run trials until `clock` expires (or `max_trials` ran); return the best model."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=PRUNER_WARMUP_STEPS
        ),
    )
    base = FitContext(
        device=device, threads=threads, seed=seed, clock=clock, report=lambda step, value: None
    )
    prepared = contender.prepare(data, base)
    best: TuneResult | None = None
    counts = {"n_trials": 0, "n_pruned": 0, "n_failed": 0, "n_oom": 0}
    anytime: list[AnytimePoint] = []
    errors: list[str] = []

    # Trial 0 always runs (it stops at its first deadline check), so every cell has a model.
    while counts["n_trials"] == 0 or not (
        clock.expired() or (max_trials is not None and counts["n_trials"] >= max_trials)
    ):
        trial = study.ask()
        counts["n_trials"] += 1

        def report(step: int, value: float, trial: optuna.Trial = trial) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        ctx = FitContext(device=device, threads=threads, seed=seed, clock=clock, report=report)
        try:
            params = (
                contender.default_params(data, device)
                if trial.number == 0
                else contender.suggest(trial, data, device)
            )
            model = contender.fit(data, prepared, params, ctx)
            # A contender that already scored validation (deep: its best epoch) hands it over.
            val_pred = getattr(model, "val_pred", None)
            if val_pred is None:
                val_pred = contender.predict(model, data.val.X, data)
            val = score(data.task, data.val.y, val_pred)
        except optuna.TrialPruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            counts["n_pruned"] += 1
            continue
        except Exception as exc:  # a trial's failure is recorded, the study goes on
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            counts["n_failed"] += 1
            if failure_reason(exc) == "oom":
                counts["n_oom"] += 1
                _release_gpu_memory()
            errors.append(f"trial {trial.number}: {type(exc).__name__}: {exc}"[:500])
            continue
        study.tell(trial, val.score)
        if best is None or val.score > best.best_val.score:
            elapsed = clock.elapsed()
            best = TuneResult(dict(params), model, val, trial.number, elapsed)
            if score_test is not None:
                with clock.paused():
                    test_score = score_test(model)
                anytime.append(AnytimePoint(elapsed, trial.number, val.score, test_score))
        del model

    if best is None:
        detail = "; ".join(errors[-3:]) or "every trial was pruned"
        raise NoTrialSucceeded(f"no trial succeeded in {counts['n_trials']} trials: {detail}")
    for key, value in counts.items():
        setattr(best, key, value)
    best.anytime, best.trial_errors = anytime, errors
    return best


def _release_gpu_memory() -> None:
    import gc
    import sys

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
