"""A bag of embeddings from scratch, fastText-style (Joulin et al. 2017, "Bag of Tricks for
Efficient Text Classification"): word and hashed-bigram embeddings averaged over the document,
dropout, an optional hidden layer, and a linear classifier. The from-scratch text model: no
pretrained knowledge, fast on a CPU.

Default (trial 0): 100 dimensions (fastText's 10 with bigrams, widened: AdamW, not its
hand-tuned SGD), no hidden layer, dropout 0.2, AdamW at lr 5e-3, batch 64. Search space:
dimensions {50, 100, 200}, hidden layer {0, 256}, dropout Uniform[0, 0.5], lr
LogUniform[1e-4, 3e-2], weight decay {0, LogUniform[1e-6, 1e-3]}, batch {32, 64, 128}.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from treeline.contenders.deep.text.base import TextNetwork, training_space

if TYPE_CHECKING:
    import optuna
    import torch

    from treeline.data import FitData


class EmbeddingBag(TextNetwork):
    name = "embedding-bag"
    library = "torch"
    description = "bag of word + hashed-bigram embeddings from scratch (fastText-style)"

    def default_params(self, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {
            "dim": 100,
            "hidden": 0,
            "dropout": 0.2,
            "lr": 5e-3,
            "weight_decay": 0.0,
            "batch_size": 64,
        }

    def suggest(self, trial: optuna.Trial, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {
            "dim": trial.suggest_categorical("dim", [50, 100, 200]),
            "hidden": trial.suggest_categorical("hidden", [0, 256]),
            **training_space(trial),
        }

    def build(self, params: dict[str, Any], pre: Any, d_out: int, train: Any) -> torch.nn.Module:
        return _module()(pre.n_ids, params, d_out)


@cache
def _module():
    from torch import nn

    from treeline.contenders.deep.text.base import bag_class

    class Net(nn.Module):
        def __init__(self, n_ids: int, params: dict[str, Any], d_out: int):
            super().__init__()
            dim, hidden = params["dim"], params["hidden"]
            self.bag = bag_class()(n_ids, dim)
            layers: list[nn.Module] = [nn.Dropout(params["dropout"])]
            if hidden:
                layers += [nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(params["dropout"])]
            self.head = nn.Sequential(*layers, nn.Linear(hidden or dim, d_out))

        def forward(self, ids, lengths):
            return self.head(self.bag(ids, lengths))

    return Net


CONTENDER = EmbeddingBag
