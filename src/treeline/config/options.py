"""The options of a suite run, defined once for `treeline run` and `pytest benchmarks/`."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A number > 0 and finite: `float` alone takes 'inf' and 'nan', which no budget can use."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "--runner",
        {
            "action": "append",
            "metavar": "R",
            "help": "runner profile(s) to use instead of the suite's (repeatable)",
        },
    ),
    (
        "--budget-scale",
        {
            "type": positive_float,
            "default": 1.0,
            "metavar": "F",
            "help": "multiply every cell's budget by F",
        },
    ),
    (
        "--max-trials",
        {
            "type": positive_int,
            "metavar": "N",
            "help": "stop each cell's tuning after N trials even if budget is left (instead of "
            "the suite's max_trials; default: until the budget is spent)",
        },
    ),
    (
        "--tracking-uri",
        {
            "metavar": "URI",
            "help": "MLflow tracking URI (default: MLFLOW_TRACKING_URI or "
            "sqlite:///results/mlflow.db)",
        },
    ),
    (
        "--only",
        {
            "action": "append",
            "metavar": "GLOB",
            "help": "run only cells whose id matches (repeatable), e.g. 'adult/*'",
        },
    ),
    (
        "--rerun-failed",
        {
            "action": "store_true",
            "help": "run again cells recorded as failed, timeout or oom",
        },
    ),
    (
        "--rerun-all",
        {
            "action": "store_true",
            "help": "run every cell again, replacing its recorded run (a fresh measurement)",
        },
    ),
    (
        "--jobs",
        {
            "type": positive_int,
            "default": 1,
            "metavar": "N",
            "help": "run up to N cells at once on this machine, each with its runner's threads, "
            "never more threads than cores in total (default: 1)",
        },
    ),
    (
        "--executor",
        {
            "choices": ("local", "ray"),
            "default": "local",
            "help": "where cells run: this machine (local, the default) or a Ray cluster (ray: "
            "each cell a task with its runner's CPUs and GPUs; pip install -e '.[ray]')",
        },
    ),
    (
        "--address",
        {
            "metavar": "ADDR",
            "help": "the Ray cluster to use with --executor ray (default: RAY_ADDRESS, else the "
            "cluster `ray start` runs on this machine)",
        },
    ),
    (
        "--allow-skipped",
        {
            "action": "store_true",
            "help": "exit 0 even when every cell was skipped (by default that is a failure: "
            "nothing that was asked for was measured)",
        },
    ),
)


def add_run_options(add: Callable[..., Any]) -> None:
    """Register the options with `argparse`'s add_argument or pytest's addoption."""
    for flag, kwargs in OPTIONS:
        add(flag, **kwargs)


@dataclass(frozen=True)
class RunOptions:
    runners: list[str] | None = None
    budget_scale: float = 1.0
    max_trials: int | None = None
    tracking_uri: str | None = None
    only: list[str] | None = None
    rerun_failed: bool = False
    rerun_all: bool = False
    allow_skipped: bool = False
    jobs: int = 1
    executor: str = "local"
    address: str | None = None

    @classmethod
    def read(cls, get: Callable[[str], Any]) -> RunOptions:
        """From parsed options: `get(dest)` is getattr(args, dest) or config.getoption(dest)."""
        return cls(
            runners=get("runner"),
            budget_scale=get("budget_scale"),
            max_trials=get("max_trials"),
            tracking_uri=get("tracking_uri"),
            only=get("only"),
            rerun_failed=get("rerun_failed"),
            rerun_all=get("rerun_all"),
            allow_skipped=get("allow_skipped"),
            jobs=get("jobs"),
            executor=get("executor"),
            address=get("address"),
        )
