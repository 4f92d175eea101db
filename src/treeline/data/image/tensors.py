"""uint8 images into a network's float input, on whatever device they are: scaled to [0, 1],
grey repeated to the network's channels, resized, normalized per channel. Shared by the image
networks and the pretrained-embedding featurizer."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def to_input(
    x: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    channels: int,
    size: int | None = None,
) -> torch.Tensor:
    """`x`: (n, C, H, W) uint8; `mean`/`std`: (1, channels, 1, 1) in [0, 1] units."""
    import torch.nn.functional as F

    x = x.float().div_(255.0)
    if x.shape[1] != channels:  # grey into a colour network: the same plane on every channel
        x = x.expand(-1, channels, -1, -1)
    if size is not None and x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return (x - mean) / std
