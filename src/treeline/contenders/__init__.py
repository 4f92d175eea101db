"""The contender registry: one entry per contender, its implementation imported on demand."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from treeline.errors import TreelineError, unknown_name

if TYPE_CHECKING:
    from treeline.contenders._base import Contender

Family = Literal["tree", "deep"]


@dataclass(frozen=True)
class ContenderInfo:
    """What the suite validator and `treeline ls contenders` need, without importing anything."""

    name: str
    family: Family
    modalities: tuple[str, ...]
    devices: tuple[str, ...]
    module: str
    library: str
    description: str
    device_note: str = ""


REGISTRY: dict[str, ContenderInfo] = {
    info.name: info
    for info in [
        ContenderInfo(
            "xgboost",
            "tree",
            ("tabular",),
            ("cpu", "cuda"),
            "treeline.contenders.xgboost",
            "xgboost",
            "XGBoost, hist trees, native categoricals",
        ),
        ContenderInfo(
            "catboost",
            "tree",
            ("tabular",),
            ("cpu", "cuda"),
            "treeline.contenders.catboost",
            "catboost",
            "CatBoost, ordered target statistics for categoricals",
        ),
        ContenderInfo(
            "lightgbm",
            "tree",
            ("tabular",),
            ("cpu",),
            "treeline.contenders.lightgbm",
            "lightgbm",
            "LightGBM, leaf-wise trees, native categoricals",
            device_note="the PyPI build of LightGBM has no CUDA support",
        ),
        ContenderInfo(
            "mlp",
            "deep",
            ("tabular",),
            ("cpu", "cuda"),
            "treeline.contenders.mlp",
            "rtdl-revisiting-models",
            "MLP, one-hot categoricals (Gorishniy et al. 2021)",
        ),
        ContenderInfo(
            "resnet",
            "deep",
            ("tabular",),
            ("cpu", "cuda"),
            "treeline.contenders.resnet",
            "rtdl-revisiting-models",
            "ResNet for tables (Gorishniy et al. 2021)",
        ),
        ContenderInfo(
            "ft-transformer",
            "deep",
            ("tabular",),
            ("cpu", "cuda"),
            "treeline.contenders.ft_transformer",
            "rtdl-revisiting-models",
            "FT-Transformer, feature tokens + attention (Gorishniy et al. 2021)",
        ),
        ContenderInfo(
            "tabm",
            "deep",
            ("tabular",),
            ("cpu", "cuda"),
            "treeline.contenders.tabm",
            "tabm, rtdl-num-embeddings",
            "TabM, parameter-efficient MLP ensemble "
            "(Gorishniy et al. 2024), optional piecewise-linear embeddings",
        ),
    ]
}


def contender_names() -> list[str]:
    return list(REGISTRY)


def get_info(name: str) -> ContenderInfo:
    if name not in REGISTRY:
        raise TreelineError(unknown_name("contender", name, REGISTRY))
    return REGISTRY[name]


def load(name: str) -> Contender:
    """Import a registered contender (imports its library)."""
    return import_contender(get_info(name).module)


def import_contender(path: str) -> Contender:
    """`package.module` (its CONTENDER) or `package.module:ATTRIBUTE`."""
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr or "CONTENDER")
