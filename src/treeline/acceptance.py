"""The GPU acceptance (`acceptance: gpu` in a suite; suites/gpu-smoke.yaml): what must hold
once every CUDA cell has run, each as one line that passes or fails, so a fresh GPU machine is
known good in minutes.

- every CUDA cell is ok — or skipped because its contender has no CUDA build (LightGBM), which
  is what should happen;
- its peak VRAM was measured and is above zero (torch's allocator for networks, NVML for the
  tree libraries);
- a network trained under bf16 autocast, and an image network's convolutions ran channels-last,
  as read off torch inside its first forward pass (worker.py, loop.device_settings);
- a device featurizer's features were computed and timed on this GPU (its cost is kept under
  the GPU's kind in the feature cache);
- one tree cell run on the CPU runner and replayed on the GPU runner does the identical work
  (same trials, same rounds), and the ratio of their fit times is the GPU's speed-up.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from treeline.config.runner_profile import RunnerProfile
    from treeline.execute.result import CellResult


@dataclass(frozen=True)
class Check:
    ok: bool
    line: str


def no_device(profiles: dict[str, RunnerProfile]) -> str | None:
    """Why none of these runners can run here because no GPU is visible, or None: the GPU
    acceptance on a machine without one skips every cell and says so once."""
    from treeline.config.runner_profile import visible_gpus

    if not profiles or any(p.device != "cuda" for p in profiles.values()) or visible_gpus():
        return None
    names = ", ".join(sorted(profiles))
    return f"no CUDA GPU is visible on this machine: runner{'s' * (len(profiles) > 1)} {names}"


def gpu_checks(results: list[CellResult]) -> list[Check]:
    """One check per CUDA cell of the run."""
    return [_cell_check(r) for r in results if r.cell.device == "cuda"]


def _cell_check(r: CellResult) -> Check:
    from treeline.contenders import contender_class

    c, m = r.cell, r.measurements
    if r.status == "skipped":
        expected = "cuda" not in contender_class(c.contender.name).devices
        how = "skipped, as it should be" if expected else "skipped"
        return Check(expected, f"{c.id}: {how}: {r.error}")
    if r.status != "ok":
        return Check(False, f"{c.id}: {r.status}: {r.error[:200]}")
    problems, said = [], [f"test {m.test_score:.4g}", f"{m.fit_seconds:.1f} s"]
    if math.isfinite(m.peak_vram_mb) and m.peak_vram_mb > 0:
        said.append(f"peak VRAM {m.peak_vram_mb:,.0f} MiB")
    else:
        problems.append(f"peak VRAM not measured ({m.peak_vram_mb})")
    if c.family == "deep":
        if m.bf16_autocast == 1:
            said.append("bf16 autocast")
        else:
            problems.append("trained without bf16 autocast")
        if c.modality == "image" and m.channels_last != 1:
            problems.append("convolutions not channels-last")
        elif m.channels_last == 1:
            said.append("channels-last")
    if c.contender.featurizer:
        problems.extend(_featurizer_problems(r))
    if problems:
        return Check(False, f"{c.id}: {'; '.join(problems)}")
    return Check(True, f"{c.id}: {', '.join(said)}")


def _featurizer_problems(r: CellResult) -> list[str]:
    """A device featurizer's cost must be kept under this GPU's kind: it computed here."""
    from treeline.data import CachedDataset
    from treeline.featurize import featurizer_class
    from treeline.featurize.apply import Where, cache_folder

    c = r.cell
    f = featurizer_class(c.contender.featurizer)(c.contender.featurize, c.device)  # type: ignore[arg-type]
    if f.device != "cuda":
        return []
    dataset = c.dataset.build()
    if not isinstance(dataset, CachedDataset):
        return []
    meta = cache_folder(f, dataset) / "meta.json"
    kind = Where("cuda", c.gpu).kind
    costs = json.loads(meta.read_text()).get("costs", {}) if meta.is_file() else {}
    return [] if kind in costs else [f"{f.name} has no cost measured on {kind}"]


def replay_check(results: list[CellResult], profiles: dict[str, RunnerProfile]) -> Check:
    """The first ok CUDA tree cell, run on the CPU runner, replayed on its GPU runner."""
    from treeline.config.runner_profile import get_runner
    from treeline.execute.supervise import execute
    from treeline.locate import cell_log

    trees = (r for r in results if r.status == "ok" and r.cell.family == "tree")
    gpu = next((r for r in trees if r.cell.device == "cuda"), None)
    if gpu is None:
        return Check(False, "replay: no CUDA tree cell ran ok, so nothing to replay")
    cpu_profile = get_runner("cpu")
    cpu_cell = gpu.cell.on("cpu", cpu_profile)
    cpu = execute(cpu_cell, cpu_profile, cell_log(cpu_cell.suite, cpu_cell.id, replay=True))
    if cpu.status != "ok":
        return Check(False, f"replay: {cpu_cell.id} on the CPU: {cpu.status}: {cpu.error[:200]}")
    log = cell_log(gpu.cell.suite, gpu.cell.id + ".from-cpu", replay=True)
    again = execute(gpu.cell, profiles[gpu.cell.runner], log, replay=cpu.schedule)
    if again.status != "ok":
        return Check(False, f"replay: {gpu.cell.id}: {again.status}: {again.error[:200]}")
    same = len(again.schedule) == len(cpu.schedule) and all(
        a.same_work(b) for a, b in zip(cpu.schedule, again.schedule, strict=True)
    )
    work = ", ".join(f"{v:g} {k}" for k, v in _work(cpu).items())
    speedup = cpu.measurements.fit_seconds / max(again.measurements.fit_seconds, 1e-9)
    line = (
        f"replay: {cpu_cell.id} on {gpu.cell.runner}: "
        f"{'the identical work' if same else 'DIFFERENT work'} ({work}); "
        f"{cpu.measurements.fit_seconds:.2f} s on the CPU, "
        f"{again.measurements.fit_seconds:.2f} s on the GPU: {speedup:.2f}× "
        f"(test {cpu.measurements.test_score:.4g} → {again.measurements.test_score:.4g})"
    )
    return Check(same, line)


def _work(r: CellResult) -> dict[str, float]:
    from treeline.execute.schedule import totals

    return totals(r.schedule)
