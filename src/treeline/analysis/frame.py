"""The analysis's view of recorded results: one row per cell, read off `CellResult`s."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from treeline.execute.result import CellResult, Replay, cell_flags, complete_trials, latest

if TYPE_CHECKING:
    import pandas as pd

    from treeline.record.store import Recorded


def records_frame(records: list[Recorded]) -> pd.DataFrame:
    """`results_frame` of full records, with each cell's stored test predictions (column
    `predictions`: .npz bytes or None), which give intervals over the test rows."""
    kept = latest(records, lambda r: r.result)
    frame = results_frame([r.result for r in kept])
    frame.attrs["superseded"] = len(records) - len(kept)
    if not frame.empty:
        frame["predictions"] = [r.predictions for r in kept]
    return frame


def results_frame(results: list[CellResult]) -> pd.DataFrame:
    """One row per cell id: where a store holds the same cell more than once (run again at
    another budget scale, which is another resume key), the latest record stands; how many were
    set aside is `frame.attrs["superseded"]`, so a report can say so."""
    import pandas as pd

    kept = latest(results, lambda r: r)
    superseded = len(results) - len(kept)
    results = kept
    rows = []
    for r in results:
        c, m = r.cell, r.measurements
        fit = m.fit_seconds
        rows.append(
            {
                "cell_id": c.id,
                "dataset": c.dataset.label,
                "runner": c.runner,
                "device": c.device,
                "modality": c.modality,
                "contender": c.contender.label,
                "family": c.family,
                "task": c.task,
                "metric": r.metric,
                "status": r.status,
                "error": r.error,
                "n": c.n,
                "seed": c.seed,
                "budget": c.budget.seconds,
                "price_per_hour": c.price_per_hour,
                "test_score": m.test_score,
                "fit_seconds": fit,
                "baseline_test_score": m.baseline_test_score,
                "wall_seconds": m.wall_seconds,
                "overhead_seconds": m.overhead_seconds,
                "featurize_seconds": m.featurize_seconds,
                "cost_usd": m.cost_usd,
                "peak_rss_mb": m.peak_rss_mb,
                "peak_vram_mb": m.peak_vram_mb,
                "n_trials": m.n_trials,
                "complete_trials": complete_trials(m),
                "converged": m.converged,
                "contended": m.contended,
                "cpu_share": m.cpu_share,
                "flags": cell_flags(m) if r.status == "ok" else [],
                "trials_per_second": m.n_trials / fit if fit and not math.isnan(fit) else math.nan,
                "anytime": [(p.elapsed, p.test_score) for p in r.anytime],
            }
        )
    frame = pd.DataFrame(rows)
    frame.attrs["superseded"] = superseded
    return frame


REPLAY_COLUMNS = (
    "cell_id", "dataset", "n", "contender", "status", "recorded_runner", "runner",
    "recorded_device", "device", "recorded_test_score", "test_score", "difference", "bit_equal",
    "exact_expected", "same_work", "recorded_fit_seconds", "fit_seconds", "speedup",
    "recorded_cost_usd", "cost_usd",
)  # fmt: skip


def replays_frame(replays: list[Replay]) -> pd.DataFrame:
    """One row per recorded replay: the replayed cell beside the recording it repeats."""
    import pandas as pd

    rows = []
    for r in replays:
        c, m = r.replayed.cell, r.replayed.measurements
        rows.append(
            {
                "cell_id": c.id,
                "dataset": c.dataset.label,
                "n": c.n,
                "contender": c.contender.label,
                "status": r.replayed.status,
                "recorded_runner": r.recorded_runner,
                "runner": c.runner,
                "recorded_device": r.recorded_device,
                "device": c.device,
                "recorded_test_score": r.recorded_test_score,
                "test_score": m.test_score,
                "difference": r.difference,
                "bit_equal": r.bit_equal,
                "exact_expected": r.exact_expected,
                "same_work": r.same_work,
                "recorded_fit_seconds": r.recorded_fit_seconds,
                "fit_seconds": m.fit_seconds,
                "speedup": r.speedup,
                "recorded_cost_usd": r.recorded_cost_usd,
                "cost_usd": m.cost_usd,
            }
        )
    return pd.DataFrame(rows, columns=list(REPLAY_COLUMNS))
