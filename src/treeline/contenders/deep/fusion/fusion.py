"""Late fusion of a text and a table: a text tower (the bag of word and hashed-bigram embeddings
of text/base.py, from scratch, mean over the document) and a table tower (an MLP on the
quantile-normal numeric and one-hot categorical columns of tabular/base.py), each to its own
vector, concatenated, then a hidden layer and the classifier — the standard two-tower network
for tables with a text column, trained end to end by the shared loop.

Default (trial 0): text 100 dimensions, table tower two layers of 128, fused hidden layer 128,
dropout 0.2, AdamW at lr 3e-3, batch 64. Search space: text dimensions {50, 100, 200}, table
layers UniformInt[1, 3] of UniformInt[16, 256] units, fused hidden {64, 128, 256}, dropout
Uniform[0, 0.5], lr LogUniform[1e-4, 3e-2], weight decay {0, LogUniform[1e-6, 1e-3]}, batch
{32, 64, 128}.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from treeline.contenders.base import FitContext
from treeline.contenders.deep.loop import DeepContender
from treeline.contenders.deep.text.base import training_space

if TYPE_CHECKING:
    import optuna
    import torch

    from treeline.contenders.deep.tabular.base import Tensors
    from treeline.contenders.deep.text.base import TokenTensors
    from treeline.data import FitData
    from treeline.data.inputs import Multimodal


def _parts(X: Multimodal) -> tuple[Any, Any]:
    """(the text part, the table part) of a text-with-table input."""
    by_kind = {p.modality: p for p in X.parts.values()}
    if set(by_kind) != {"text", "tabular"}:
        raise ValueError(f"fusion takes a text and a table; got {sorted(by_kind)}")
    return by_kind["text"], by_kind["tabular"]


@dataclass
class FusedTensors:
    text: TokenTensors
    table: Tensors
    y: torch.Tensor | None

    def __len__(self) -> int:
        return len(self.text)

    def batch(self, idx: Any) -> tuple[Any, ...]:
        ids, lengths = self.text.batch(idx)
        return ids, lengths, self.table.batch(idx)[0]


class FusionPreprocessor:
    def __init__(self, data: FitData, seed: int):
        from treeline.contenders.deep.tabular.base import Preprocessor
        from treeline.contenders.deep.text.base import TokenPreprocessor
        from treeline.data import Split

        text, table = _parts(data.train.X)  # type: ignore[arg-type]
        self.text = TokenPreprocessor(replace(data, train=Split(text, data.train.y)))
        self.table = Preprocessor(replace(data, train=Split(table, data.train.y)), True, seed)
        self.y_mean, self.y_std = 0.0, 1.0

    def tensors(self, X: Multimodal, y: np.ndarray | None, device: str) -> FusedTensors:
        text, table = _parts(X)
        t = self.text.tensors(text, y, device)
        return FusedTensors(t, self.table.tensors(table, None, device), t.y)


class Fusion(DeepContender):
    name = "fusion"
    library = "torch"
    modalities = ("multimodal",)
    description = "late fusion: bag-of-embeddings text tower + MLP table tower, trained jointly"
    libraries = ("torch", "torch._dynamo", "sklearn.preprocessing")
    eval_batch = 1024

    def preprocess(self, data: FitData, ctx: FitContext) -> FusionPreprocessor:
        if data.task == "regression":
            raise ValueError("fusion classifies; the task is regression")
        return FusionPreprocessor(data, ctx.seed)

    def default_params(self, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {
            "dim": 100,
            "table_layers": 2,
            "table_units": 128,
            "hidden": 128,
            "dropout": 0.2,
            "lr": 3e-3,
            "weight_decay": 0.0,
            "batch_size": 64,
        }

    def suggest(self, trial: optuna.Trial, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {
            "dim": trial.suggest_categorical("dim", [50, 100, 200]),
            "table_layers": trial.suggest_int("table_layers", 1, 3),
            "table_units": trial.suggest_int("table_units", 16, 256),
            "hidden": trial.suggest_categorical("hidden", [64, 128, 256]),
            **training_space(trial),
        }

    def build(self, params: dict[str, Any], pre: Any, d_out: int, train: Any) -> torch.nn.Module:
        return _module()(pre.text.n_ids, pre.table.n_num_features, params, d_out)


@cache
def _module():
    import torch
    from torch import nn

    from treeline.contenders.deep.text.base import bag_class

    class Net(nn.Module):
        def __init__(self, n_ids: int, d_table: int, params: dict[str, Any], d_out: int):
            super().__init__()
            dim, units, p = params["dim"], params["table_units"], params["dropout"]
            self.bag = bag_class()(n_ids, dim)
            layers: list[nn.Module] = []
            width = d_table
            for _ in range(params["table_layers"]):
                layers += [nn.Linear(width, units), nn.ReLU(), nn.Dropout(p)]
                width = units
            self.table = nn.Sequential(*layers)
            self.head = nn.Sequential(
                nn.Dropout(p),
                nn.Linear(dim + width, params["hidden"]),
                nn.ReLU(),
                nn.Dropout(p),
                nn.Linear(params["hidden"], d_out),
            )

        def forward(self, ids, lengths, x_num):
            return self.head(torch.cat([self.bag(ids, lengths), self.table(x_num)], dim=1))

    return Net


CONTENDER = Fusion
