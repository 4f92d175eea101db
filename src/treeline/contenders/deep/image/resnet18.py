"""ResNet18 (He et al. 2016, torchvision's), trained from scratch, with the stem adapted to small
images as He et al. do for CIFAR-10 (§4.2): a 3×3 stride-1 first convolution and no max-pool,
so a 28×28 image keeps its resolution into the first stage.

Search space (AdamW; the tabular networks' optimizer): lr LogUniform[1e-4, 3e-3], weight decay
LogUniform[1e-5, 5e-2] (decoupled, Loshchilov and Hutter 2019, whose CIFAR ResNets use
normalized decay of this order), batch {64, 128, 256}, augmentation {none, crop, crop+flip}.
Default (trial 0): lr 1e-3, weight decay 5e-4 (the usual CIFAR value), batch 128, crop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from treeline.contenders.deep.image.base import AUGMENTATIONS, ImageNetwork

if TYPE_CHECKING:
    import optuna
    import torch

    from treeline.contenders.deep.image.base import ImagePreprocessor, ImageTensors
    from treeline.data import FitData


class ResNet18(ImageNetwork):
    name = "resnet18"
    library = "torchvision"
    description = "ResNet18 from scratch, 3×3 stem without max-pool for small images"
    libraries = ("torch", "torch._dynamo", "torchvision.models")

    def default_params(self, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {"lr": 1e-3, "weight_decay": 5e-4, "batch_size": 128, "augment": "crop"}

    def suggest(self, trial: optuna.Trial, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {
            "lr": trial.suggest_float("lr", 1e-4, 3e-3, log=True),
            "weight_decay": trial.suggest_float("weight_decay", 1e-5, 5e-2, log=True),
            "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256]),
            "augment": trial.suggest_categorical("augment", list(AUGMENTATIONS)),
        }

    def build(
        self, params: dict[str, Any], pre: ImagePreprocessor, d_out: int, train: ImageTensors
    ) -> torch.nn.Module:
        from torch import nn
        from torchvision.models import resnet18

        net = resnet18(weights=None, num_classes=d_out)
        net.conv1 = nn.Conv2d(pre.channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
        return net


CONTENDER = ResNet18
