"""The MLflow names ../shared/DESIGN.md fixes, written out here so tests check them
independently of the code that logs them."""

METRICS = (
    "test_score",
    "val_score",
    "fit_seconds",
    "overrun_seconds",
    "time_to_best_seconds",
    "predict_seconds",
    "predict_rows_per_second",
    "peak_rss_mb",
    "peak_vram_mb",
    "cost_usd",
    "n_trials",
    "n_trials_pruned",
    "n_trials_failed",
    "featurize_seconds",
    "overhead_seconds",
)
PARAMS = ("n", "seed", "budget_seconds", "threads", "price_per_hour")
TAGS = (
    "cell_id",
    "resume_key",
    "suite",
    "dataset",
    "modality",
    "task",
    "contender",
    "family",
    "runner",
    "device",
    "status",
    "error",
)
