"""What a plan will cost before it runs (`treeline plan`): each cell's expected wall-clock and
dollars on its runner, and the warnings a practitioner wants before the bill — featurization
that alone eats the budget, a cell whose last run stayed untuned or budget-bound.

A cell's wall-clock is its budget plus what its worker spends beyond it (start-up, loading,
scoring the test set): the mean of that over the recorded cells of the same contender on the
same runner, else on runners of the same device, else on any, else a stated guess. A network
whose recorded throughput on the same dataset and runner cannot finish one epoch over the
cell's rows within its budget is warned of. Preparing a dataset the first time
(downloads, synthesis, shared feature caches) is not in it.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from treeline.execute.cell import Cell
    from treeline.execute.result import CellResult

# Seconds a cell's worker spends beyond its budget where nothing of its contender is recorded:
# the mean over the atlas reference's 78 cells on 2 cores was 12 s (0.2 s to 87 s).
STARTUP_GUESS = 12.0
TRAIN_SHARE = 0.8  # of a cell's n rows, the training split (the rest validates)
EPOCH_MARGIN = 1.5  # a first epoch this many budgets long is past doubt


@dataclass(frozen=True)
class CellEstimate:
    cell: Cell
    seconds: float  # expected wall-clock of the cell
    startup: float  # of which outside the budget
    basis: str  # where `startup` comes from: recorded here, on other runners, or a guess
    warnings: tuple[str, ...] = ()

    @property
    def usd(self) -> float:
        return self.seconds / 3600 * self.cell.price_per_hour


def estimate(
    cells: list[Cell], recorded: list[CellResult], gpu_memory: dict[str, float | None] | None = None
) -> list[CellEstimate]:
    """Each cell's estimate, read against the results recorded so far (any suite's);
    `gpu_memory`: GiB of each CUDA runner's GPU (its profile's), for the memory check."""
    gpu_memory = gpu_memory or {}
    beyond: dict[tuple[str, str, str], list[float]] = {}  # (contender, device, runner)
    for r in recorded:
        extra = r.measurements.wall_seconds - r.cell.budget.seconds
        if r.status == "ok" and math.isfinite(extra):
            key = (r.cell.contender.label, r.cell.device, r.cell.runner)
            beyond.setdefault(key, []).append(max(extra, 0.0))
    last = {r.cell.id: r for r in sorted(recorded, key=lambda r: r.started_at)}
    ok = [r for r in recorded if r.status == "ok"]
    out = []
    for c in cells:
        who = c.contender.label
        here = beyond.get((who, c.device, c.runner), [])
        device = [x for (w, d, _), xs in beyond.items() if (w, d) == (who, c.device) for x in xs]
        anywhere = [x for (w, _, _), xs in beyond.items() if w == who for x in xs]
        if here:
            startup, basis = statistics.fmean(here), f"recorded ({len(here)} cells)"
        elif device:  # start-up differs by device (CUDA's context, the warm-up kernels)
            startup, basis = statistics.fmean(device), f"recorded on other {c.device} runners"
        elif anywhere:
            startup, basis = statistics.fmean(anywhere), "recorded on other devices"
        else:
            startup, basis = STARTUP_GUESS, "guess"
        warnings = [
            *_featurize_warning(c),
            *_first_epoch_warning(c, ok),
            *_memory_warning(c, ok, gpu_memory.get(c.runner)),
            *_last_run_warning(last.get(c.id)),
        ]
        out.append(CellEstimate(c, c.budget.seconds + startup, startup, basis, tuple(warnings)))
    return out


def _first_epoch_warning(c: Cell, ok: list[CellResult]) -> list[str]:
    """A network whose first epoch over the cell's training rows would outlast its budget, from
    the throughput (training rows per second) recorded for it on the same dataset and runner."""
    if c.family != "deep":
        return []
    rates = []
    for r in ok:
        same = (r.cell.contender.label, r.cell.dataset.label, r.cell.runner)
        m = r.measurements
        if same != (c.contender.label, c.dataset.label, c.runner) or not m.work_epochs > 0:
            continue
        rates.append(m.work_epochs * m.n_train / max(m.fit_wall_seconds, 1e-9))
    if not rates:
        return []
    # Training rows per second, with validation passes and a featurizer's charge in the time:
    # a floor, so only an epoch well past the budget is warned of.
    rate = statistics.median(rates)
    first = TRAIN_SHARE * c.n / rate
    if first < EPOCH_MARGIN * c.budget.seconds:
        return []
    return [
        f"one epoch over its ~{TRAIN_SHARE * c.n:,.0f} training rows takes ~{first:,.0f} s at the "
        f"{rate:,.0f} rows/s recorded for it here, past its {c.budget.seconds:g} s budget: "
        "no complete epoch, no tuning"
    ]


def _featurize_warning(c: Cell) -> list[str]:
    """A cached featurizer's measured seconds per row × the cell's rows, against its budget:
    timed on the cell's own kind of device where it has been, else on another kind (said)."""
    if not c.contender.featurizer:
        return []
    from treeline.data import CachedDataset
    from treeline.featurize import featurizer_class
    from treeline.featurize.apply import Where, cache_folder, cost_per_row

    f = featurizer_class(c.contender.featurizer)(c.contender.featurize, c.device)
    if f.fitted:
        return []
    try:
        dataset = c.dataset.build()
    except Exception:  # a plan never fails for a dataset it cannot build here
        return []
    if not isinstance(dataset, CachedDataset):
        return []
    meta_file = cache_folder(f, dataset) / "meta.json"
    if not meta_file.is_file():
        return []
    meta = json.loads(meta_file.read_text())
    where = Where(f.device, c.gpu if f.device == "cuda" else None, c.threads, c.clock)
    per_row, on = cost_per_row(meta, where), f"on {where.kind}"
    if per_row is None:  # not timed on this kind yet: what another kind paid, named
        others = {k: v for k, v in meta.get("costs", {}).items() if k.startswith(f.device)}
        if not others:
            return []
        kind, cost = next(iter(others.items()))
        per_row = cost[c.clock] / max(cost["rows"], 1)
        on = f"on {kind}; {where.kind} is timed by its first cell"
    seconds = per_row * c.n
    if seconds < c.budget.seconds:
        return []
    return [
        f"featurizing {c.n:,} rows with {f.name}{'-' + f.variant if f.variant else ''} costs "
        f"{seconds:,.0f} s (measured {on}) of its {c.budget.seconds:g} s budget: one cut "
        "trial at most"
    ]


def _memory_warning(c: Cell, ok: list[CellResult], gib: float | None) -> list[str]:
    """Peak GPU memory recorded for the same contender and dataset on a GPU, scaled up in
    proportion to the rows where the cell has more (the networks keep their splits on the
    device), against the runner's GPU memory."""
    if c.device != "cuda" or gib is None:
        return []
    seen = [
        (r.cell.n, r.measurements.peak_vram_mb, r.cell.runner)
        for r in ok
        if r.cell.device == "cuda"
        and (r.cell.contender.label, r.cell.dataset.label) == (c.contender.label, c.dataset.label)
        and r.measurements.peak_vram_mb > 0  # NaN: not measured
    ]
    if not seen:
        return []
    n, mb, runner = max(seen)
    need = mb * max(c.n / n, 1.0)
    if need <= gib * 1024:
        return []
    return [
        f"needs ~{need / 1024:,.1f} GiB of GPU memory ({mb:,.0f} MiB recorded at n={n:,} on "
        f"{runner}, scaled to its rows), more than the {gib:g} GiB of its {c.gpu or 'GPU'}"
    ]


def _last_run_warning(r: CellResult | None) -> list[str]:
    """What the last recorded run of this very cell (same id) says about its budget."""
    if r is None or r.status != "ok":
        return [f"its last run ended {r.status}: {r.error[:120]}"] if r is not None else []
    from treeline.execute.result import cell_flags

    flags = [f for f in cell_flags(r.measurements) if f != "contended"]
    if not flags:
        return []
    trials = r.measurements.n_trials
    return [
        f"its last run at {r.cell.budget.seconds:g} s: {', '.join(flags)} "
        f"({trials:g} trial{'' if trials == 1 else 's'})"
    ]
