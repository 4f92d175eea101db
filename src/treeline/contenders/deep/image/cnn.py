"""A small CNN trained from scratch: blocks of convolution, batch norm, ReLU and 2×2 max-pooling,
then a dense layer with dropout.

Default (trial 0): the layout of Keras' MNIST example (`mnist_cnn.py`, Chollet): two 3×3
convolutions of 32 and 64 channels, 2×2 max-pooling, dense 128, dropout 0.25 (batch norm after
each convolution, a pooling per block); AdamW at lr 1e-3, batch 128, no augmentation. The
Fashion-MNIST authors' convnet (Xiao et al. 2017, `benchmark/convnet.py`: 5×5 kernels, dense
1024, dropout 0.4) is in the space; on 2 CPU cores its epochs take twice as long (1,200 against
2,450 images/s), which at a budget of seconds costs more than it gains (0.827 against 0.863 on
Fashion-MNIST n = 5,000 in 18 s).

Search space around both: 1-3 blocks (no more poolings than the image side allows), first-block
channels UniformInt[16, 64] doubling per block, kernel {3, 5}, dense width
{128, 256, 512, 1024}, dropout Uniform[0, 0.5], lr LogUniform[1e-4, 1e-2] and weight decay
{0, LogUniform[1e-6, 1e-3]} (the ranges Gorishniy et al. 2021 give their MLP), batch
{64, 128, 256}, augmentation {none, crop, crop+flip}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from treeline.contenders.base import log_uniform_or_zero
from treeline.contenders.deep.blocks import conv_blocks
from treeline.contenders.deep.image.base import AUGMENTATIONS, ImageNetwork

if TYPE_CHECKING:
    import optuna
    import torch

    from treeline.contenders.deep.image.base import ImagePreprocessor, ImageTensors
    from treeline.data import FitData


def max_blocks(side: int) -> int:
    """Poolings that leave at least 2×2 pixels (8×8 digits: 2; 28×28: 3)."""
    return max(1, min(3, side.bit_length() - 2))


class CNN(ImageNetwork):
    name = "cnn"
    library = "torch"
    description = "Small CNN from scratch (conv-BN-ReLU-pool blocks, dense, dropout)"

    def default_params(self, data: FitData, device: str = "cpu") -> dict[str, Any]:
        side = min(data.train.X.shape[1:])  # type: ignore[union-attr]
        return {
            "n_blocks": min(2, max_blocks(side)),
            "channels": 32,
            "kernel": 3,
            "d_dense": 128,
            "dropout": 0.25,
            "lr": 1e-3,
            "weight_decay": 0.0,
            "batch_size": 128,
            "augment": "none",
        }

    def suggest(self, trial: optuna.Trial, data: FitData, device: str = "cpu") -> dict[str, Any]:
        side = min(data.train.X.shape[1:])  # type: ignore[union-attr]
        return {
            "n_blocks": trial.suggest_int("n_blocks", 1, max_blocks(side)),
            "channels": trial.suggest_int("channels", 16, 64),
            "kernel": trial.suggest_categorical("kernel", [3, 5]),
            "d_dense": trial.suggest_categorical("d_dense", [128, 256, 512, 1024]),
            "dropout": trial.suggest_float("dropout", 0.0, 0.5),
            "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
            "weight_decay": log_uniform_or_zero(trial, "weight_decay", 1e-6, 1e-3),
            "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256]),
            "augment": trial.suggest_categorical("augment", list(AUGMENTATIONS)),
        }

    def build(
        self, params: dict[str, Any], pre: ImagePreprocessor, d_out: int, train: ImageTensors
    ) -> torch.nn.Module:
        from torch import nn

        n = params["n_blocks"]
        layers, c_in = conv_blocks(2, pre.channels, params["channels"], n, params["kernel"])
        h, w = (side // 2**n for side in pre.image_shape[1:])
        return nn.Sequential(
            *layers,
            nn.Flatten(),
            nn.Linear(c_in * h * w, params["d_dense"]),
            nn.ReLU(inplace=True),
            nn.Dropout(params["dropout"]),
            nn.Linear(params["d_dense"], d_out),
        )


CONTENDER = CNN
