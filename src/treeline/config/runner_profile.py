"""Runner profiles (`runners/NAME.yaml`): where a cell runs and what an hour of it costs."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

from treeline.config.schema_problems import pydantic_problems
from treeline.config.yaml_source import load_yaml
from treeline.errors import ConfigError, unknown_name
from treeline.locate import named_files


def usable_cores() -> int:
    """The cores this process may run on (its affinity), not the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class RunnerProfile(BaseModel):
    """A device, a thread count and a dated price per hour."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    device: Literal["cpu", "cuda"]
    threads: PositiveInt | Literal["auto"] = "auto"
    # What a budget counts: wall seconds, or the worker's CPU seconds per thread (`cpu`), so
    # that a shared machine's neighbours do not decide how many trials a cell gets. Cost stays
    # on wall seconds, what a machine is paid for.
    clock: Literal["wall", "cpu"] = "wall"
    # The GPU model this price is for; a CUDA profile runs only on a matching GPU.
    gpu: str | None = None
    gpu_memory_gib: float | None = Field(None, gt=0, allow_inf_nan=False)  # what `plan` fits
    price_per_hour: float = Field(ge=0, allow_inf_nan=False)
    price_source: str = Field(min_length=1)
    price_date: date

    def resolved_threads(self) -> int:
        """`auto` is every core the process may use."""
        return usable_cores() if self.threads == "auto" else int(self.threads)

    def unavailable_reason(self) -> str | None:
        """Why this profile cannot run on this machine, or None when it can."""
        if self.device == "cpu":
            return None
        gpus = visible_gpus()
        if not gpus:
            return f"runner '{self.name}' needs a CUDA GPU ({self.gpu or 'any'}); none is visible"
        if self.gpu and not any(self.gpu.lower() in g.lower() for g in gpus):
            return (
                f"runner '{self.name}' is priced for {self.gpu}, but this machine has "
                f"{', '.join(gpus)}; pick the matching profile"
            )
        return None


def visible_gpus() -> list[str]:
    """GPU model names from NVML (through nvidia-smi), without importing torch."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return []
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    import subprocess

    try:
        out = subprocess.run(
            [exe, "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def available_runners() -> dict[str, Path]:
    return named_files("runners")


def load_runner(path: Path) -> RunnerProfile:
    """Load and validate one profile file."""
    src = load_yaml(path)
    if not isinstance(src.data, dict):
        raise ConfigError([*src.problems, src.problem((), "a runner profile must be a mapping")])
    try:
        profile = RunnerProfile.model_validate(src.data)
    except ValidationError as exc:
        problems = pydantic_problems(src, exc, RunnerProfile.model_fields)
        raise ConfigError([*src.problems, *problems]) from None
    if src.problems:
        raise ConfigError(src.problems)
    if profile.name != path.stem:
        raise ConfigError(
            [
                src.problem(
                    ("name",), f"must match the file name '{path.stem}', got '{profile.name}'"
                )
            ]
        )
    return profile


def get_runner(name: str) -> RunnerProfile:
    files = available_runners()
    if name not in files:
        raise ConfigError.single("--runner", None, "", unknown_name("runner", name, files))
    return load_runner(files[name])
