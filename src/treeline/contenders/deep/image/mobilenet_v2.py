"""MobileNetV2 (Sandler et al. 2018) with torchvision's ImageNet weights, transferred: the
classifier replaced for the dataset's classes, then the whole network fine-tuned, or only the
new head on a frozen backbone (batch-norm statistics frozen too).

Images are resized (suite option `size`; default 64 on CPU, 128 on CUDA: ImageNet features of a
28×28 input are a single 1×1 map), grey repeated to three channels, ImageNet's normalization.
Search space after Kornblith et al. 2019 ("Do Better ImageNet Models Transfer Better?", their
fine-tuning grid: learning rate and weight decay on log scales), with AdamW: lr
LogUniform[1e-5, 1e-2], weight decay {0, LogUniform[1e-6, 1e-3]}, classifier dropout
Uniform[0, 0.5], batch {32, 64, 128}, augmentation {none, crop, crop+flip}, and frozen backbone
{yes, no} unless the suite fixes it (option `frozen`). Default (trial 0): fine-tune everything,
lr 1e-3, no weight decay, dropout 0.2 (torchvision's), batch 64, no augmentation.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from treeline.contenders.base import log_uniform_or_zero
from treeline.contenders.deep.image.base import AUGMENTATIONS, ImageNetwork, ImageOptions

if TYPE_CHECKING:
    import optuna
    import torch

    from treeline.contenders.deep.image.base import ImagePreprocessor, ImageTensors
    from treeline.data import FitData


class MobileNetOptions(ImageOptions):
    frozen: bool | None = None  # None: tuned; True: only the head trains; False: everything


class MobileNetV2(ImageNetwork):
    name = "mobilenet-v2"
    library = "torchvision"
    description = "MobileNetV2, ImageNet weights, fine-tuned or frozen backbone (transfer)"
    # torch.load imports its serialization config on first use: before the clock, not on it.
    libraries = ("torch", "torch._dynamo", "torchvision.models", "torch.utils.serialization")
    Options = MobileNetOptions
    pretrained = True

    def import_libraries(self) -> None:
        """And the weights, before the clock: a first fetch is not the model's training time."""
        from treeline.data.pretrained import MOBILENET_V2, ensure

        super().import_libraries()
        ensure(MOBILENET_V2)

    def size(self, device: str) -> int | None:
        return self.options.size or (128 if device == "cuda" else 64)

    def default_params(self, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {
            "frozen": bool(self.options.frozen),
            "lr": 1e-3,
            "weight_decay": 0.0,
            "dropout": 0.2,
            "batch_size": 64,
            "augment": "none",
        }

    def suggest(self, trial: optuna.Trial, data: FitData, device: str = "cpu") -> dict[str, Any]:
        frozen = self.options.frozen
        if frozen is None:
            frozen = trial.suggest_categorical("frozen", [True, False])
        return {
            "frozen": frozen,
            "lr": trial.suggest_float("lr", 1e-5, 1e-2, log=True),
            "weight_decay": log_uniform_or_zero(trial, "weight_decay", 1e-6, 1e-3),
            "dropout": trial.suggest_float("dropout", 0.0, 0.5),
            "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128]),
            "augment": trial.suggest_categorical("augment", list(AUGMENTATIONS)),
        }

    def build(
        self, params: dict[str, Any], pre: ImagePreprocessor, d_out: int, train: ImageTensors
    ) -> torch.nn.Module:
        from torch import nn
        from torchvision.models import mobilenet_v2

        net = mobilenet_v2(weights="IMAGENET1K_V1")
        net.classifier = nn.Sequential(
            nn.Dropout(params["dropout"]), nn.Linear(net.last_channel, d_out)
        )
        if not params["frozen"]:
            return net
        for p in net.features.parameters():
            p.requires_grad_(False)
        return _frozen_class()(net)


@cache  # built on first use, so reading the catalogue does not import torch
def _frozen_class():
    from torch import nn

    class FrozenFeatures(nn.Module):
        """The backbone stays in eval mode (batch-norm statistics are ImageNet's) while the
        loop switches the module to training."""

        def __init__(self, net: nn.Module):
            super().__init__()
            self.net = net

        def train(self, mode: bool = True):
            super().train(mode)
            self.net.features.eval()
            return self

        def forward(self, x):
            return self.net(x)

    return FrozenFeatures


CONTENDER = MobileNetV2
