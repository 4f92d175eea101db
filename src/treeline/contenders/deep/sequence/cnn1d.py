"""A 1-D CNN from scratch: blocks of convolution, batch norm, ReLU and 2× max-pooling over time,
then mean and max over the real steps, dropout and a linear layer.

Default (trial 0): three blocks of 32, 64 and 128 channels, kernel 5 (the MNIST-1D paper's CNN
has three convolutions of 25 channels, kernel 5, stride 2); AdamW at lr 1e-3, batch 128, no
augmentation. Search space: 1-4 blocks (no more poolings than the length allows), first-block
channels UniformInt[16, 64] doubling per block, kernel {3, 5, 7}, dropout Uniform[0, 0.5],
lr LogUniform[1e-4, 1e-2], weight decay {0, LogUniform[1e-6, 1e-3]}, batch {32, 64, 128, 256},
augmentation {none, shift, shift+noise}.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from treeline.contenders.deep.blocks import conv_blocks
from treeline.contenders.deep.sequence.base import SequenceNetwork, training_space

if TYPE_CHECKING:
    import optuna
    import torch

    from treeline.data import FitData


def max_blocks(length: int) -> int:
    """Poolings that leave at least 2 steps (length 24: 3; 40: 4)."""
    return max(1, min(4, length.bit_length() - 2))


def _length(data: FitData) -> int:
    return int(data.train.X.lengths.max())  # type: ignore[union-attr]


class CNN1D(SequenceNetwork):
    name = "cnn1d"
    library = "torch"
    description = "1-D CNN from scratch (conv-BN-ReLU-pool blocks, masked mean/max pooling)"

    def default_params(self, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {
            "n_blocks": min(3, max_blocks(_length(data))),
            "channels": 32,
            "kernel": 5,
            "dropout": 0.1,
            "lr": 1e-3,
            "weight_decay": 0.0,
            "batch_size": 128,
            "augment": "none",
        }

    def suggest(self, trial: optuna.Trial, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {
            "n_blocks": trial.suggest_int("n_blocks", 1, max_blocks(_length(data))),
            "channels": trial.suggest_int("channels", 16, 64),
            "kernel": trial.suggest_categorical("kernel", [3, 5, 7]),
            **training_space(trial, [32, 64, 128, 256]),
        }

    def build(self, params: dict[str, Any], pre: Any, d_out: int, train: Any) -> torch.nn.Module:
        return _module()(pre.channels, params, d_out)


@cache  # built on first use, so reading the catalogue does not import torch
def _module():
    from torch import nn

    from treeline.contenders.deep.sequence.base import masked_pool, scaled_lengths

    class Net(nn.Module):
        def __init__(self, c_in: int, params: dict[str, Any], d_out: int):
            super().__init__()
            layers, c_in = conv_blocks(
                1, c_in, params["channels"], params["n_blocks"], params["kernel"], ceil=True
            )
            self.body = nn.Sequential(*layers)
            self.head = nn.Sequential(nn.Dropout(params["dropout"]), nn.Linear(2 * c_in, d_out))

        def forward(self, x, lengths):
            h = self.body(x)
            return self.head(masked_pool(h, scaled_lengths(lengths, x.shape[-1], h.shape[-1])))

    return Net


CONTENDER = CNN1D
