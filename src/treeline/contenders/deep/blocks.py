"""Layers several networks share."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn


def conv_blocks(
    dims: int, c_in: int, channels: int, n_blocks: int, kernel: int = 3, ceil: bool = False
) -> tuple[list[nn.Module], int]:
    """`n_blocks` of convolution (no bias: batch norm follows), batch norm, ReLU and 2× max
    pooling, in 1 or 2 dimensions, channels doubling per block from `channels`. `ceil`: a
    partial pooling window is kept (masked sequences: it holds real steps). Returns the layers
    and the last block's channels."""
    from torch import nn

    conv, norm, pool = (
        (nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d) if dims == 1 else
        (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d)
    )  # fmt: skip
    layers: list[nn.Module] = []
    for i in range(n_blocks):
        c_out = channels * 2**i
        layers += [
            conv(c_in, c_out, kernel, padding=kernel // 2, bias=False),
            norm(c_out),
            nn.ReLU(inplace=True),
            pool(2, ceil_mode=ceil),
        ]
        c_in = c_out
    return layers, c_in
