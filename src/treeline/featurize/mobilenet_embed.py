"""MobileNetV2 embeddings: the 1,280 pooled features of torchvision's ImageNet MobileNetV2,
frozen — the hybrid practitioners use, a pretrained network's features under a tree ensemble.

Images are resized to 64×64 (small images upsampled: ImageNet features of a 28×28 input are a
single 1×1 map; 96×96 costs 1.8× the time — 7 ms against 4 ms per image on 2 CPU threads),
grey repeated to three channels, normalized with ImageNet's statistics. Computed on the cell's
device — the CPU with the runner's threads, or CUDA with bf16 autocast and channels-last — once
per dataset and device and cached; each cell is charged the seconds per row measured on its own
kind of device. No int8 path: PyTorch's dynamic quantization takes linear layers, and this
encoder is convolutions. Weights: data/pretrained.py (offline from a package).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from treeline.featurize.base import Featurizer

if TYPE_CHECKING:
    from treeline.data.inputs import Images, Table

SIZE = 64
BATCH = {"cpu": 256, "cuda": 1024}


class MobileNetEmbed(Featurizer):
    name = "mobilenet-embed"
    modalities = ("image",)
    description = "frozen ImageNet MobileNetV2 features (1,280), images resized to 64×64"
    library = "torchvision"
    libraries = ("torch", "torchvision.models")
    devices = ("cpu", "cuda")

    @property
    def variant(self) -> str:
        return "bf16" if self.device == "cuda" else ""

    def setup(self) -> None:
        import torch
        from torchvision.models import mobilenet_v2

        from treeline.data.pretrained import MOBILENET_V2, ensure

        super().setup()
        ensure(MOBILENET_V2)  # before the clock: a first fetch is not the features' cost
        net = mobilenet_v2(weights="IMAGENET1K_V1").eval().to(self.device)
        if self.device == "cuda":
            net = net.to(memory_format=torch.channels_last)
        self.net = net

    def transform(self, X: Images) -> Table:  # type: ignore[override]
        import contextlib

        import pandas as pd
        import torch

        from treeline.data.image.tensors import IMAGENET_MEAN, IMAGENET_STD, to_input
        from treeline.data.inputs import Table

        net, device, batch = self.net, self.device, BATCH[self.device]
        mean = torch.tensor(IMAGENET_MEAN, device=device).reshape(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=device).reshape(1, 3, 1, 1)
        cuda = device == "cuda"
        amp = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else contextlib.nullcontext()
        out = np.empty((len(X), net.last_channel), dtype=np.float32)
        with torch.inference_mode(), amp:
            for start in range(0, len(X), batch):
                block = X.take(np.arange(start, min(start + batch, len(X)))).pixels
                pixels = torch.from_numpy(np.array(block)).to(device, non_blocking=cuda)
                x = to_input(pixels, mean, std, 3, SIZE)
                if cuda:
                    x = x.contiguous(memory_format=torch.channels_last)
                feats = net.features(x).mean(dim=(2, 3))  # global average pool, as the classifier
                out[start : start + len(block)] = feats.float().cpu().numpy()
        columns = [f"mnv2_{k}" for k in range(out.shape[1])]
        return Table(pd.DataFrame(out, columns=columns, copy=False), tuple(columns), ())


FEATURIZER = MobileNetEmbed
