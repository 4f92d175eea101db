"""Executors: where a run's cells execute. The run (run.py) decides which cell goes next, claims
it and records it; an executor only starts cells it has room for and hands back their results.

- `LocalExecutor`: this machine, up to `--jobs N` cells at once, each a worker process
  (supervise.py); never more threads in flight than cores, one GPU cell per GPU.
- `RayExecutor` (ray_executor.py): each cell a Ray task on a cluster.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from treeline.config.runner_profile import RunnerProfile, usable_cores
from treeline.execute.cell import Cell
from treeline.execute.result import CellResult


class Executor(Protocol):
    def notes(self) -> list[str]:
        """What the user should know before the run (e.g. fewer jobs than asked for)."""

    def never_fits(self, cell: Cell) -> str | None:
        """Why this cell can never start here (it is recorded `skipped`), or None."""

    def fits(self, cell: Cell) -> bool:
        """Whether the cell can start now."""

    def submit(self, cell: Cell, profile: RunnerProfile, log_path: Path) -> Future[CellResult]:
        """Start the cell; the future's result is its CellResult."""

    def done(self, cell: Cell) -> None:
        """The cell's future has finished: its resources are free."""

    def close(self, cancel: bool = False) -> None:
        """Stop; with `cancel`, kill the cells in flight."""


def gpu_ids() -> list[str]:
    """The GPUs a cell may be given, as CUDA_VISIBLE_DEVICES names them to a child."""
    from treeline.config.runner_profile import visible_gpus

    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [g.strip() for g in listed.split(",") if g.strip() and g.strip() != "-1"]
    return [str(i) for i in range(len(visible_gpus()))]


class LocalExecutor:
    """Up to `jobs` cells at once on this machine, each in its own worker process."""

    def __init__(self, jobs: int, cells: list[Cell]):
        from treeline.execute import warm

        self.jobs = max(1, jobs)
        self.cores = usable_cores()
        self.gpus = gpu_ids() if any(c.device == "cuda" for c in cells) else []
        self.free_gpus = list(self.gpus)
        self.threads: dict[str, int] = {}  # cell id -> threads, for the cells in flight
        self.gpu_of: dict[str, str] = {}
        self.cancel = threading.Event()
        self.pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="cell")
        self.in_flight: set[Future[CellResult]] = set()
        self.preload = warm.preload_for(cells) if warm.enabled() else None
        self.widths = sorted({c.threads for c in cells})

    def notes(self) -> list[str]:
        # Per thread count: a suite may mix one-thread cells, which fit side by side, with
        # cells that take every core, which run alone.
        over = [w for w in self.widths if self.jobs > 1 and self.jobs * w > self.cores]
        if not over:
            return []
        at_once = "; ".join(
            f"{min(self.jobs, max(1, self.cores // w))} at once with {w} thread(s) each"
            for w in over
        )
        return [
            f"--jobs {self.jobs} would need more threads than this machine's {self.cores} "
            f"cores: cells run {at_once}, never more threads than cores"
        ]

    def never_fits(self, cell: Cell) -> str | None:
        return None  # supervise skips a cell whose device is absent, with the reason

    def fits(self, cell: Cell) -> bool:
        if len(self.threads) >= self.jobs:
            return False
        if cell.device == "cuda" and self.gpus and not self.free_gpus:
            return False
        # A cell wider than the machine still runs, alone.
        return not self.threads or sum(self.threads.values()) + cell.threads <= self.cores

    def submit(self, cell: Cell, profile: RunnerProfile, log_path: Path) -> Future[CellResult]:
        from treeline.execute.supervise import execute

        gpu = self.free_gpus.pop(0) if cell.device == "cuda" and self.free_gpus else None
        if gpu is not None:
            self.gpu_of[cell.id] = gpu
        self.threads[cell.id] = cell.threads
        future = self.pool.submit(
            execute, cell, profile, log_path, preload=self.preload, gpu=gpu, cancel=self.cancel
        )
        self.in_flight.add(future)
        future.add_done_callback(self.in_flight.discard)
        return future

    def done(self, cell: Cell) -> None:
        self.threads.pop(cell.id, None)
        gpu = self.gpu_of.pop(cell.id, None)
        if gpu is not None:
            self.free_gpus.append(gpu)

    def close(self, cancel: bool = False) -> None:
        if cancel:
            from concurrent.futures import wait

            from treeline.execute import warm

            self.cancel.set()  # each cell's supervisor kills its worker within a second
            wait(self.in_flight, timeout=3)
            # A cell still waiting is waiting on a warm worker stuck in its imports.
            warm.shutdown(now=True)
        self.pool.shutdown(wait=True, cancel_futures=True)


def make_executor(kind: str, jobs: int, address: str | None, cells: list[Cell]) -> Executor:
    if kind == "ray":
        from treeline.execute.ray_executor import RayExecutor

        ray = RayExecutor(address, cells)
        if jobs > 1:
            ray.extra_notes.append(
                f"--jobs {jobs} is for the local executor: Ray starts as many cells as the "
                "cluster has CPUs and GPUs for"
            )
        return ray
    return LocalExecutor(jobs, cells)
