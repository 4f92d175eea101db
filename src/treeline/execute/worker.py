"""The worker: one cell in its own process (`python -m treeline.execute.worker SPEC FD`).

It reports progress to the parent as JSON lines on file descriptor FD: `loaded` when the data
is ready and the budget clock starts, `tuned` when tuning has stopped, `scored` after each chunk
of test rows is predicted, then `result` or `error`.
Thread counts come from the environment the parent set before this interpreter started, so
every library (OpenMP, BLAS, torch, the boosting libraries) sees them. The test split stays
here: the contender is handed `FitData` (train and validation), and test scores come from
`score_test`, a closure of this module.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

from treeline.execute.events import Event


def run(spec: dict[str, Any], send: Any) -> dict[str, Any]:
    import contextlib
    import dataclasses

    from treeline.catalogue import import_path
    from treeline.data.metrics import score, trivial_score
    from treeline.execute.budget import BudgetClock, cpu_seconds_per_thread
    from treeline.execute.cell import Cell
    from treeline.execute.measure import CpuShare, NvmlSampler, peak_rss_mb
    from treeline.execute.result import Measurements
    from treeline.execute.schedule import TrialRecord, totals
    from treeline.execute.tuning import tune

    cell = Cell.from_json(spec["cell"])
    device, threads = cell.device, cell.threads
    if device == "cuda" and cell.family == "deep":
        _deterministic_torch()  # recordings too: a replay can only match a deterministic run
    t0 = time.perf_counter()
    dataset = cell.dataset.build()
    bundle = dataset.bundle(cell.n, cell.seed)
    data_seconds = time.perf_counter() - t0
    print(
        f"data: {cell.dataset.label}, n={cell.n}, seed {cell.seed}: {len(bundle.train)} train, "
        f"{len(bundle.val)} validation, {len(bundle.test)} test rows ({data_seconds:.2f} s)",
        flush=True,
    )
    for note in bundle.notes:  # how preparation handled the data: in the cell's log too
        print(f"data: {note}", flush=True)
    featurize_fit = featurize_test = 0.0
    if spec.get("featurizer"):
        from treeline.featurize.apply import Where, featurize

        featurizer = import_path(spec["featurizer"])(cell.contender.featurize, device)
        featurizer.setup()
        on = "cuda" if featurizer.device == "cuda" else "cpu"  # where it computes
        where = Where(on, cell.gpu if on == "cuda" else None, threads, cell.clock)
        bundle, cost = featurize(featurizer, dataset, bundle, where)
        featurize_fit, featurize_test = cost.fit_seconds, cost.test_seconds
        how = "computed once per dataset, charged per row" if cost.cached else "fitted here"
        variant = f", {featurizer.variant}" if featurizer.variant else ""
        print(
            f"features: {featurizer.name} ({how}) on {where.kind}{variant}: "
            f"{featurize_fit:.2f} s on the budget for train + validation, "
            f"{featurize_test:.2f} s with prediction for test",
            flush=True,
        )
    # The parent resolved the catalogue entry; the worker imports exactly that class.
    contender = import_path(spec["contender"])(cell.contender.options)
    import optuna  # noqa: F401  (imports are not the contender's training time)

    contender.import_libraries()  # threads: OMP_NUM_THREADS here, each library per call
    sync = None
    if device == "cuda" and cell.family == "deep":
        import torch

        torch.cuda.reset_peak_memory_stats()
        sync = torch.cuda.synchronize
    send(Event.LOADED, data_seconds=data_seconds)

    data, test = dataclasses.replace(bundle.fitdata(), metric=cell.metric), bundle.test

    def predict_test(model: Any) -> Any:
        return predict_in_chunks(contender, model, test.X, data, lambda: send(Event.SCORED))

    def score_test(model: Any) -> float:
        return score(data.task, test.y, predict_test(model), cell.metric).score

    sampler = NvmlSampler() if device == "cuda" else contextlib.nullcontext()
    replay = None
    if spec.get("replay") is not None:  # a recorded schedule: run its work, not the clock's
        replay = [TrialRecord(**t) for t in spec["replay"]]

    # Featurizing the cell's train + validation rows is charged to its budget up front.
    def on_pause(seconds: float | None) -> None:
        if seconds is None:
            send(Event.PAUSE)
        else:
            send(Event.RESUME, seconds=seconds)

    timer = cpu_seconds_per_thread(threads) if cell.clock == "cpu" else time.perf_counter
    clock = BudgetClock(
        cell.budget.seconds, sync, spent=featurize_fit, on_pause=on_pause, timer=timer
    )
    share = CpuShare(threads)
    with sampler, share:
        result = tune(
            contender,
            data,
            device=device,
            threads=threads,
            seed=cell.seed,
            clock=clock,
            score_test=score_test,
            replay=replay,
            on_trial=_print_trial,
            max_trials=cell.max_trials,
        )
        fit_seconds, fit_wall_seconds = clock.elapsed(), clock.wall_elapsed()
    send(Event.TUNED, fit_seconds=fit_seconds)
    best = next(t for t in result.schedule if t.number == result.best_trial)
    seconds = "CPU seconds per thread" if cell.clock == "cpu" else "s"
    print(
        f"tuned: {result.n_trials} trial{'' if result.n_trials == 1 else 's'} "
        f"({result.n_pruned} pruned, "
        f"{result.n_failed} failed) "
        f"in {fit_seconds:.2f} {seconds}; best trial {result.best_trial}, validation "
        f"{result.best_val.score:.6g}, {_convergence(best)}",
        flush=True,
    )
    if share.share is not None:
        s = share.share
        print(
            f"machine: {s.cpu_share:.0%} of {threads} thread{'s' if threads > 1 else ''}' time, "
            f"other processes {s.machine_load:.2f} cores busy"
            + (" — contended" if s.contended else ""),
            flush=True,
        )

    t1 = time.perf_counter()
    pred = predict_test(result.best_model)
    predict_seconds = time.perf_counter() - t1 + featurize_test
    final = score(data.task, test.y, pred, cell.metric)
    if spec.get("predictions"):  # for re-scoring and test-set intervals, without a re-run
        from treeline.execute.predictions import save

        save(Path(spec["predictions"]), pred, test.y, data.task)
    print(f"test: {final.metric} {final.value:.6g} (predict {predict_seconds:.3f} s)", flush=True)
    baseline = trivial_score(data.task, data.train.y, test.y, data.n_classes, cell.metric)

    peak_vram = 0.0  # a CPU runner hides the GPU: nothing was allocated there
    if device == "cuda":
        if sync is not None:
            import torch

            peak_vram = torch.cuda.max_memory_allocated() / 2**20
        else:  # NaN, not 0, when NVML could not be read: unknown is not zero
            peak_mb = sampler.peak_mb if isinstance(sampler, NvmlSampler) else None
            peak_vram = float("nan") if peak_mb is None else peak_mb
    m = Measurements(
        test_score=final.score,
        test_metric=final.value,
        val_score=result.best_val.score,
        baseline_test_score=baseline.score,
        fit_seconds=fit_seconds,
        fit_wall_seconds=fit_wall_seconds,
        overrun_seconds=max(0.0, fit_seconds - cell.budget.seconds),
        time_to_best_seconds=result.time_to_best,
        data_seconds=data_seconds,
        featurize_seconds=featurize_fit + featurize_test if spec.get("featurizer") else 0.0,
        predict_seconds=predict_seconds,
        predict_rows_per_second=len(test) / max(predict_seconds, 1e-9),
        peak_rss_mb=peak_rss_mb(),
        peak_vram_mb=peak_vram,
        n_trials=result.n_trials,
        n_trials_pruned=result.n_pruned,
        n_trials_failed=result.n_failed,
        n_trials_oom=result.n_oom,
        n_train=len(data.train),
        n_val=len(data.val),
        n_test=len(test),
    )
    m.update(**{f"work_{unit}": amount for unit, amount in totals(result.schedule).items()})
    if best.converged is not None:
        m.update(converged=best.converged)
    if best.last_step is not None:
        m.update(steps_done=best.last_step)
    if best.best_step is not None:  # None where every reported score was NaN
        m.update(best_step=best.best_step)
    m.update(**getattr(result.best_model, "settings", {}))  # a network's autocast, layout
    if share.share is not None:
        s = share.share
        known = s.machine_load == s.machine_load  # NaN where /proc/stat could not be read
        m.update(cpu_share=s.cpu_share, machine_load=s.machine_load)
        m.update(contended=float(s.contended) if known else float("nan"))
    return {
        "metric": final.metric,
        "measurements": asdict(m),
        "params": result.best_params,
        "anytime": [asdict(p) for p in result.anytime],
        "trial_errors": result.trial_errors[-20:],
        "schedule": [asdict(t) for t in result.schedule],
        "data_notes": list(bundle.notes),
    }


def _convergence(t: Any) -> str:
    """'converged', or 'still improving', with the steps behind it."""
    where = f" (best at step {t.best_step} of {t.last_step})" if t.last_step is not None else ""
    if t.converged:
        how = "stopped by itself" if t.cut_at_check is None else "plateaued before the cut"
        return f"converged: {how}{where}"
    if t.last_step is None:
        return "cut by the budget (no validation curve reported)"
    return f"still improving when the budget ended{where}"


def _print_trial(t: Any) -> None:
    """One line per trial in the cell's log: what it was given and what it did."""
    work = ", ".join(f"{v} {k}" for k, v in t.work.items()) or "no work"
    how = {
        "complete": f"validation {t.val_score:.6g}" if t.val_score is not None else "complete",
        "pruned": f"pruned at step {t.pruned_at}"
        if t.pruned_at is not None
        else "pruned before its first score",
        "failed": f"failed: {t.error}",
    }[t.outcome]
    cut = f", cut by the deadline at check {t.cut_at_check}" if t.cut_at_check else ""
    print(f"trial {t.number}: {how}; {work}{cut}; {t.seconds:.2f} s; {t.params}", flush=True)


def _deterministic_torch() -> None:
    """Deterministic CUDA kernels where torch has them (a warning, not a failure, where it has
    none); cuBLAS needs its workspace fixed for that, before torch initializes CUDA."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch

    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def predict_in_chunks(contender: Any, model: Any, X: Any, data: Any, on_chunk: Any) -> Any:
    """`contender.predict` over `X` in chunks of SCORE_CHUNK_ROWS, calling `on_chunk` after each."""
    import numpy as np

    from treeline.execute.budget import SCORE_CHUNK_ROWS

    parts = []
    for start in range(0, len(X), SCORE_CHUNK_ROWS):
        chunk = X.take(np.arange(start, min(start + SCORE_CHUNK_ROWS, len(X))))
        parts.append(contender.predict(model, chunk, data))
        on_chunk()
    return np.concatenate(parts)


def main(argv: list[str]) -> int:
    """A fresh interpreter's entry: the spec from a file, or from stdin when it is `-`."""
    spec_path, fd = argv[0], int(argv[1])
    if spec_path == "-":  # the parent writes the spec to our stdin
        return serve(sys.stdin, fd)
    with open(spec_path) as f:
        return serve(f, fd)


def serve(spec_file: Any, fd: int) -> int:
    """Run the cell whose spec `spec_file` holds, reporting on file descriptor `fd`; the exit
    code. Also the entry of a child forked from a warm worker (warm.py)."""
    channel = os.fdopen(fd, "w", buffering=1)

    def send(event: Event, **payload: Any) -> None:
        channel.write(json.dumps({"event": event, **payload}, default=float) + "\n")
        channel.flush()

    try:
        spec = json.load(spec_file)
        send(Event.RESULT, result=run(spec, send))
        return 0
    except BaseException as exc:  # everything, so the parent always learns why
        from treeline.data.sources import DataUnavailable
        from treeline.data.split import NotEnoughData
        from treeline.execute.tuning import failure_reason, one_line

        # The data cannot support this cell, or is not on this machine (espeak-ng absent): say
        # why and skip; a later run tries it again.
        if isinstance(exc, NotEnoughData | DataUnavailable):
            send(Event.ERROR, reason="skipped", error=str(exc))
            return 0
        from treeline.data.cache_check import CacheDamaged

        if isinstance(exc, CacheDamaged):  # the cache's fault, not the contender's: not recorded
            send(Event.ERROR, reason="cache", error=str(exc))
            return 1
        traceback.print_exc()
        send(Event.ERROR, reason=failure_reason(exc), error=one_line(exc))
        return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
