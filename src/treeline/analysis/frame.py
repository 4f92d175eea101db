"""The analysis's view of recorded results: one row per cell, read off `CellResult`s."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from treeline.execute.result import CellResult

if TYPE_CHECKING:
    import pandas as pd


def results_frame(results: list[CellResult]) -> pd.DataFrame:
    import pandas as pd

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
                "budget": c.budget,
                "price_per_hour": c.price_per_hour,
                "test_score": m.test_score,
                "fit_seconds": fit,
                "featurize_seconds": m.featurize_seconds,
                "cost_usd": m.cost_usd,
                "peak_rss_mb": m.peak_rss_mb,
                "peak_vram_mb": m.peak_vram_mb,
                "n_trials": m.n_trials,
                "trials_per_second": m.n_trials / fit if fit and not math.isnan(fit) else math.nan,
                "anytime": [(p.elapsed, p.test_score) for p in r.anytime],
            }
        )
    return pd.DataFrame(rows)
