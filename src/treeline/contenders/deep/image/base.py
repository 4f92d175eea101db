"""How images reach a network: uint8 tensors on the device, converted, normalized and augmented
there a batch at a time, with no per-sample Python.

Normalization: each channel by the training split's mean and standard deviation (a pretrained
network uses ImageNet's statistics instead, after its grey channel is repeated to three).
Augmentation, a trial parameter: `crop` shifts each image by up to `pad` pixels (zero padding,
random crop back to size: the standard small-image augmentation), `crop+flip` also mirrors half
of the images left-right (standard for photographs and clothes, not for digits, so tuning
chooses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from pydantic import Field

from treeline.contenders.base import FitContext
from treeline.contenders.deep.loop import DeepContender, DeepOptions
from treeline.data.image.tensors import IMAGENET_MEAN, IMAGENET_STD, to_input

if TYPE_CHECKING:
    import torch

    from treeline.data import FitData
    from treeline.data.inputs import Images

AUGMENTATIONS = ("none", "crop", "crop+flip")


class ImageOptions(DeepOptions):
    """Fixed by a suite: the side images are resized to (None: their own size)."""

    # At least 8 pixels: a smaller side leaves a network nothing to pool (a CNN's blocks halve
    # it), so every trial would fail at run time instead of the suite at validation.
    size: Annotated[int, Field(ge=8, le=1024)] | None = None


@dataclass
class ImageTensors:
    """A split's images as uint8 on the device (a quarter of float32's memory)."""

    pixels: torch.Tensor  # (n, C, H, W) uint8
    y: torch.Tensor | None
    mean: torch.Tensor  # (1, C', 1, 1) in [0, 1] units, C' the network's channels
    std: torch.Tensor
    channels: int  # what the network takes: the images' own, or 3 for a pretrained one
    size: int | None  # resize to size × size; None keeps the images' size
    channels_last: bool

    def __len__(self) -> int:
        return len(self.pixels)

    def batch(self, idx: Any, augment: str = "none", gen: Any = None) -> tuple[torch.Tensor]:
        import torch

        x = self.pixels[idx]
        if augment != "none":
            x = _shift(x, pad=max(1, x.shape[-1] // 8), gen=gen)
            if augment == "crop+flip":
                mirror = torch.rand(len(x), device=x.device, generator=gen) < 0.5
                x = torch.where(mirror[:, None, None, None], x.flip(-1), x)
        x = to_input(x, self.mean, self.std, self.channels, self.size)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return (x,)


def _shift(x: torch.Tensor, pad: int, gen: Any) -> torch.Tensor:
    """Random crop of each zero-padded image back to its size: one gather for the batch."""
    import torch
    import torch.nn.functional as F

    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n, 1), device=x.device, generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (n, 1), device=x.device, generator=gen)
    rows = (dy + torch.arange(h, device=x.device))[:, None, :, None]  # (n, 1, h, 1)
    cols = (dx + torch.arange(w, device=x.device))[:, None, None, :]  # (n, 1, 1, w)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, chans, rows, cols]


class ImagePreprocessor:
    """Per-channel statistics of the training images (or ImageNet's), and where they go."""

    y_mean, y_std = 0.0, 1.0

    def __init__(self, data: FitData, pretrained: bool, size: int | None):
        images: Images = data.train.X  # type: ignore[assignment]
        self.image_shape = images.shape
        self.pretrained, self.size = pretrained, size
        if pretrained:
            self.channels, mean, std = 3, IMAGENET_MEAN, IMAGENET_STD
        else:
            sample = images.take(np.arange(min(len(images), 10_000))).pixels / 255.0
            self.channels = images.shape[0]
            mean = tuple(sample.mean(axis=(0, 2, 3)))
            std = tuple(np.maximum(sample.std(axis=(0, 2, 3)), 1e-3))
        self.mean, self.std = mean, std

    def tensors(self, X: Images, y: np.ndarray | None, device: str) -> ImageTensors:
        import torch

        def stat(values: tuple[float, ...]) -> torch.Tensor:
            return torch.tensor(values, dtype=torch.float32, device=device).reshape(1, -1, 1, 1)

        y_t = None if y is None else torch.as_tensor(y.astype(np.int64), device=device)
        return ImageTensors(
            torch.from_numpy(np.array(X.pixels)).to(device),  # a copy: the cache is read-only
            y_t,
            stat(self.mean),
            stat(self.std),
            self.channels,
            self.size,
            channels_last=device == "cuda",
        )


class ImageNetwork(DeepContender):
    """A network on images; classification (the image datasets' tasks)."""

    modalities = ("image",)
    regression = False
    Options = ImageOptions
    pretrained = False  # takes 3 channels with ImageNet statistics
    eval_batch = 1024

    def preprocess(self, data: FitData, ctx: FitContext) -> ImagePreprocessor:
        if data.task == "regression":
            raise ValueError(f"{self.name} classifies images; the task is regression")
        return ImagePreprocessor(data, self.pretrained, self.size(ctx.device))

    def size(self, device: str) -> int | None:
        return self.options.size

    def train_batch(
        self, train: Any, idx: torch.Tensor, params: dict[str, Any], gen: torch.Generator
    ) -> tuple[Any, ...]:
        return train.batch(idx, params.get("augment", "none"), gen)

    def on_device(self, module: torch.nn.Module, device: str) -> torch.nn.Module:
        import torch

        module = module.to(device)
        return module.to(memory_format=torch.channels_last) if device == "cuda" else module
