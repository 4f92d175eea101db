"""A bidirectional GRU: the series' steps (normalized channels) in both directions, packed so a
ragged series is read to its own end and never into padding; the last hidden state of each
direction (of the top layer) into dropout and a linear layer.

Default (trial 0): one layer of 64 units per direction; AdamW at lr 3e-3, batch 128, no
augmentation (the MNIST-1D paper's GRU: 6 units, bidirectional). Search space: 1-2 layers,
hidden UniformInt[16, 256] (log), dropout Uniform[0, 0.5] (between layers and before the head),
lr LogUniform[1e-4, 1e-2], weight decay {0, LogUniform[1e-6, 1e-3]}, batch {32, 64, 128, 256},
augmentation {none, shift, shift+noise}.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from treeline.contenders.deep.sequence.base import SequenceNetwork, training_space

if TYPE_CHECKING:
    import optuna
    import torch

    from treeline.data import FitData


class GRU(SequenceNetwork):
    name = "gru"
    library = "torch"
    description = "Bidirectional GRU, packed for ragged lengths, last states into a linear head"

    def default_params(self, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {
            "n_layers": 1,
            "hidden": 64,
            "dropout": 0.1,
            "lr": 3e-3,
            "weight_decay": 0.0,
            "batch_size": 128,
            "augment": "none",
        }

    def suggest(self, trial: optuna.Trial, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {
            "n_layers": trial.suggest_int("n_layers", 1, 2),
            "hidden": trial.suggest_int("hidden", 16, 256, log=True),
            **training_space(trial, [32, 64, 128, 256]),
        }

    def build(self, params: dict[str, Any], pre: Any, d_out: int, train: Any) -> torch.nn.Module:
        return _module()(pre.channels, params, d_out, packed=pre.ragged)


@cache
def _module():
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence

    class Net(nn.Module):
        def __init__(self, c_in: int, params: dict[str, Any], d_out: int, packed: bool):
            super().__init__()
            self.packed = packed  # equal lengths (training split): no packing to pay for
            self.gru = nn.GRU(
                c_in,
                params["hidden"],
                num_layers=params["n_layers"],
                batch_first=True,
                bidirectional=True,
                dropout=params["dropout"] if params["n_layers"] > 1 else 0.0,
            )
            self.head = nn.Sequential(
                nn.Dropout(params["dropout"]), nn.Linear(2 * params["hidden"], d_out)
            )

        def forward(self, x, lengths):
            steps = x.transpose(1, 2)  # (n, T, C)
            if self.packed or bool((lengths < steps.shape[1]).any()):
                steps = pack_padded_sequence(
                    steps, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False
                )
            _, h = self.gru(steps)  # (layers × 2, n, hidden)
            return self.head(torch.cat([h[-2], h[-1]], dim=1))

    return Net


CONTENDER = GRU
