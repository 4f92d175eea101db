"""The equal-budget tuning loop: an Optuna study that runs until the cell's clock runs out.

Trial 0 is the contender's default configuration; later trials come from a seeded TPE sampler;
a median pruner stops trials whose intermediate validation scores lag. A trial that raises fails
alone. Every new best validation score is scored on test with the clock paused: the anytime
curve, from which results for any smaller budget can be read. The test split is not an argument:
the caller passes `score_test`, a function of a model, so nothing here hands it to a contender.

Every trial's parameters, outcome and work go into the cell's schedule (execute/schedule.py);
`tune(..., replay=schedule)` runs that schedule again with no sampler, no pruner and no clock
deciding anything: the recorded parameters, pruning steps and stopping checks do.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from treeline.contenders.base import Contender, FitContext, Pace
from treeline.data.metrics import Score, score
from treeline.execute.budget import BudgetClock
from treeline.execute.result import AnytimePoint
from treeline.execute.schedule import Allowance, Deadline, TrialRecord

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
    schedule: list[TrialRecord] = field(default_factory=list)


def one_line(exc: BaseException) -> str:
    """A readable one-line reason: the exception's first meaningful line, without the C++
    backtraces, timestamps and source paths some libraries put in their messages."""
    import re

    text = str(exc)
    lines = [
        ln.strip()
        for ln in text.splitlines()
        if ln.strip() and not re.match(r"\s*(\[bt\]|Stack trace|\d+[:#]\s+0x)", ln)
    ]
    head = lines[0] if lines else ""
    # XGBoost: "[12:34:56] /path/src/file.cc:123: Check failed: ..." → "Check failed: ..."
    head = re.sub(r"^\[\d\d:\d\d:\d\d\]\s+\S+:\d+:\s*", "", head)
    reason = f"{type(exc).__name__}: {head}" if head else type(exc).__name__
    return reason[:500]


def failure_reason(exc: BaseException) -> str:
    """'oom' for out-of-memory errors (Python's MemoryError under a memory or address-space
    limit, numpy's 'Unable to allocate', C++'s bad_alloc, torch and CUDA), else 'error'."""
    if isinstance(exc, MemoryError):
        return "oom"
    text = f"{type(exc).__name__} {exc}".lower()
    return "oom" if any(m in text for m in _OOM_MARKS) else "error"


_OOM_MARKS = (
    "outofmemory",
    "out of memory",
    "memoryerror",
    "bad_alloc",
    "cannot allocate memory",
    "unable to allocate",
)


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
    replay: list[TrialRecord] | None = None,
    on_trial: Callable[[TrialRecord], None] | None = None,
) -> TuneResult:
    """Run trials until `clock` expires (or `max_trials` ran); return the best model and the
    schedule of what every trial did. With `replay` (a recorded schedule) run exactly those
    trials instead, each stopped by its recorded work, and ignore the clock (it only measures)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    pace = Pace()  # the cell's: its first unit of work is warm-up, its later trials are not
    base = FitContext(device, threads, seed, clock, report=lambda step, value: None, pace=pace)
    prepared = contender.prepare(data, base)
    state = _State(clock, score_test, on_trial)

    def run(number: int, params: dict[str, Any], limit: Deadline | Allowance, report: Any):
        steps: list[int] = []
        curve = _Curve()

        def reporting(step: int, value: float) -> None:
            steps.append(step)  # a prune is raised at the last step reported
            curve.add(step, value)
            report(step, value)

        needs_model = state.best is None
        ctx = FitContext(
            device, threads, seed, limit, reporting, needs_model=needs_model, pace=pace
        )
        record = TrialRecord(number, params)
        t0 = time.perf_counter()
        try:
            model = contender.fit(data, prepared, params, ctx)
            # A contender that already scored validation (deep: its best epoch) hands it over.
            val_pred = getattr(model, "val_pred", None)
            if val_pred is None:
                val_pred = contender.predict(model, data.val.X, data)
            val = score(data.task, data.val.y, val_pred, data.metric)
        except optuna.TrialPruned:
            record.outcome, model, val = "pruned", None, None
            record.pruned_at = steps[-1] if steps else None
        except Exception as exc:  # a trial's failure is recorded, the study goes on
            record.outcome, model, val = "failed", None, None
            record.error = one_line(exc)
            if failure_reason(exc) == "oom":
                state.n_oom += 1
                _release_gpu_memory()
        record.seconds = time.perf_counter() - t0
        record.work, record.cut_at_check = dict(ctx.work), limit.cut_at
        curve.into(record)
        if val is not None:
            record.val_score = val.score
        state.add(record, model, val)
        return record

    if replay is not None:
        for recorded in replay:
            pruned_at = recorded.pruned_at if recorded.outcome == "pruned" else None

            def report(step: int, value: float, pruned_at: int | None = pruned_at) -> None:
                if step == pruned_at:  # the recorded pruning decision, not a new one
                    raise optuna.TrialPruned()

            run(recorded.number, dict(recorded.params), Allowance(recorded.cut_at_check), report)
        return state.result()

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=PRUNER_WARMUP_STEPS
        ),
    )
    # Trial 0 always runs (it stops at its first deadline check), so every cell has a model.
    while not state.schedule or not (
        clock.expired() or (max_trials is not None and len(state.schedule) >= max_trials)
    ):
        trial = study.ask()

        def report(step: int, value: float, trial: optuna.Trial = trial) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        try:
            params = (
                contender.default_params(data, device)
                if trial.number == 0
                else contender.suggest(trial, data, device)
            )
        except Exception as exc:  # a search space that cannot sample fails its trial
            params, failed = {}, exc
        else:
            failed = None
        if failed is None:
            record = run(trial.number, params, Deadline(clock), report)
        else:
            record = TrialRecord(trial.number, params, "failed", error=f"{failed}"[:500])
            state.add(record, None, None)
        if record.outcome == "pruned":
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif record.outcome == "failed":
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(trial, record.val_score)
    return state.result()


class _Curve:
    """A trial's reported validation scores, as much of them as convergence needs."""

    def __init__(self) -> None:
        self.best, self.best_step, self.last_step = -math.inf, None, None
        self.reports = self.since_best = 0

    def add(self, step: int, value: float) -> None:
        self.reports += 1
        self.last_step = step
        if value > self.best:  # NaN never improves
            self.best, self.best_step, self.since_best = value, step, 0
        else:
            self.since_best += 1

    def into(self, record: TrialRecord) -> None:
        record.last_step, record.best_step = self.last_step, self.best_step
        record.reports, record.reports_since_best = self.reports, self.since_best


class _State:
    """The best model so far, the anytime curve and the schedule, as trials end."""

    def __init__(
        self,
        clock: BudgetClock,
        score_test: Callable[[Any], float] | None,
        on_trial: Callable[[TrialRecord], None] | None = None,
    ):
        self.clock, self.score_test, self.on_trial = clock, score_test, on_trial
        self.best: TuneResult | None = None
        self.schedule: list[TrialRecord] = []
        self.anytime: list[AnytimePoint] = []
        self.n_oom = 0

    def add(self, record: TrialRecord, model: Any, val: Score | None) -> None:
        self.schedule.append(record)
        if self.on_trial is not None:
            self.on_trial(record)
        if val is None or (self.best is not None and val.score <= self.best.best_val.score):
            return
        elapsed = self.clock.elapsed()
        self.best = TuneResult(dict(record.params), model, val, record.number, elapsed)
        if self.score_test is not None:
            with self.clock.paused():
                test_score = self.score_test(model)
            self.anytime.append(AnytimePoint(elapsed, record.number, val.score, test_score))

    def result(self) -> TuneResult:
        trials = self.schedule
        errors = [f"trial {t.number}: {t.error}" for t in trials if t.outcome == "failed"]
        if self.best is None:
            detail = "; ".join(errors[-3:]) or "every trial was pruned"
            raise NoTrialSucceeded(f"no trial succeeded in {len(trials)} trials: {detail}")
        best = self.best
        best.n_trials = len(trials)
        best.n_pruned = sum(t.outcome == "pruned" for t in trials)
        best.n_failed = sum(t.outcome == "failed" for t in trials)
        best.n_oom = self.n_oom
        best.anytime, best.trial_errors, best.schedule = self.anytime, errors, trials
        return best


def _release_gpu_memory() -> None:
    import gc
    import sys

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
