"""Late fusion of a text, an image or a recording with a table: a text tower (the bag of word and
hashed-bigram embeddings of text/base.py, from scratch, mean over the document), an image tower
(a small CNN from scratch: the conv-BN-ReLU-pool blocks of image/cnn.py, then global average
pooling to one vector) or an audio tower (audio/base.py's log-mel spectrogram computed on the
device, the same blocks, then the mean and max over the clip's real frames) beside a table
tower (an MLP on the quantile-normal numeric and one-hot categorical columns of
tabular/base.py), concatenated, then a hidden layer and the classifier — the standard two-tower
network for tables with a text, a photo or a recording column, trained end to end by the shared
loop.

Default (trial 0): text 100 dimensions (image: 2 blocks from 32 channels), table tower two
layers of 128, fused hidden layer 128, dropout 0.2, AdamW at lr 3e-3, batch 64. Search space:
text dimensions {50, 100, 200} (image: blocks UniformInt[1, 3] as the side allows, first-block
channels {16, 32, 64}; audio: 2 blocks of 16 by default, blocks UniformInt[1, 3], channels
{8, 16, 32}), table layers UniformInt[1, 3] of UniformInt[16, 256] units, fused hidden
{64, 128, 256}, dropout Uniform[0, 0.5], lr LogUniform[1e-4, 3e-2], weight decay
{0, LogUniform[1e-6, 1e-3]}, batch {32, 64, 128}.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from treeline.contenders.base import FitContext
from treeline.contenders.deep.image.cnn import max_blocks
from treeline.contenders.deep.loop import DeepContender
from treeline.contenders.deep.text.base import training_space

if TYPE_CHECKING:
    import optuna
    import torch

    from treeline.contenders.deep.image.base import ImageTensors
    from treeline.contenders.deep.tabular.base import Tensors
    from treeline.contenders.deep.text.base import TokenTensors
    from treeline.data import FitData
    from treeline.data.inputs import Multimodal


TOWERS = ("text", "image", "audio")  # the parts beside the table a tower takes


def _parts(X: Multimodal) -> tuple[Any, Any]:
    """(the text or image part, the table part) of a multimodal input."""
    by_kind = {p.modality: p for p in X.parts.values()}
    if len(by_kind) != 2 or "tabular" not in by_kind or not set(by_kind) & set(TOWERS):
        raise ValueError(f"fusion takes a text or an image and a table; got {sorted(by_kind)}")
    other = next(k for k in by_kind if k != "tabular")
    return by_kind[other], by_kind["tabular"]


@dataclass
class FusedTensors:
    other: TokenTensors | ImageTensors
    table: Tensors
    y: torch.Tensor | None

    def __len__(self) -> int:
        return len(self.other)

    def batch(self, idx: Any) -> tuple[Any, ...]:
        return (*self.other.batch(idx), self.table.batch(idx)[0])


class FusionPreprocessor:
    def __init__(self, data: FitData, seed: int):
        from treeline.contenders.deep.image.base import ImagePreprocessor
        from treeline.contenders.deep.tabular.base import Preprocessor
        from treeline.contenders.deep.text.base import TokenPreprocessor
        from treeline.data import Split

        other, table = _parts(data.train.X)  # type: ignore[arg-type]
        self.kind = other.modality
        alone = replace(data, train=Split(other, data.train.y))
        from treeline.contenders.deep.audio.base import AudioPreprocessor

        self.other: TokenPreprocessor | ImagePreprocessor | AudioPreprocessor
        if self.kind == "text":
            self.other = TokenPreprocessor(alone)
        elif self.kind == "image":
            self.other = ImagePreprocessor(alone, pretrained=False, size=None)
        else:
            self.other = AudioPreprocessor(alone)
        self.table = Preprocessor(replace(data, train=Split(table, data.train.y)), True, seed)
        self.y_mean, self.y_std = 0.0, 1.0

    def tensors(self, X: Multimodal, y: np.ndarray | None, device: str) -> FusedTensors:
        other, table = _parts(X)
        t = self.other.tensors(other, y, device)
        return FusedTensors(t, self.table.tensors(table, None, device), t.y)


class Fusion(DeepContender):
    name = "fusion"
    library = "torch"
    modalities = ("multimodal",)
    multimodal_parts = TOWERS
    regression = False
    description = (
        "late fusion: a bag-of-embeddings text tower, or a CNN image or log-mel audio tower, "
        "+ an MLP table tower, trained jointly"
    )
    libraries = ("torch", "torch._dynamo", "sklearn.preprocessing")
    eval_batch = 1024

    def preprocess(self, data: FitData, ctx: FitContext) -> FusionPreprocessor:
        if data.task == "regression":
            raise ValueError("fusion classifies; the task is regression")
        return FusionPreprocessor(data, ctx.seed)

    def default_params(self, data: FitData, device: str = "cpu") -> dict[str, Any]:
        kind, side = _tower(data)
        tower = {
            "text": {"dim": 100},
            "image": {"n_blocks": min(2, max_blocks(side)), "channels": 32},
            "audio": {"n_blocks": 2, "channels": 16},
        }[kind]
        return {
            **tower,
            "table_layers": 2,
            "table_units": 128,
            "hidden": 128,
            "dropout": 0.2,
            "lr": 3e-3,
            "weight_decay": 0.0,
            "batch_size": 64,
        }

    def suggest(self, trial: optuna.Trial, data: FitData, device: str = "cpu") -> dict[str, Any]:
        kind, side = _tower(data)
        if kind == "text":
            tower = {"dim": trial.suggest_categorical("dim", [50, 100, 200])}
        else:
            most = max_blocks(side) if kind == "image" else 3
            widths = [16, 32, 64] if kind == "image" else [8, 16, 32]
            tower = {
                "n_blocks": trial.suggest_int("n_blocks", 1, most),
                "channels": trial.suggest_categorical("channels", widths),
            }
        return {
            **tower,
            "table_layers": trial.suggest_int("table_layers", 1, 3),
            "table_units": trial.suggest_int("table_units", 16, 256),
            "hidden": trial.suggest_categorical("hidden", [64, 128, 256]),
            **training_space(trial),
        }

    def build(self, params: dict[str, Any], pre: Any, d_out: int, train: Any) -> torch.nn.Module:
        from torch import nn

        from treeline.contenders.deep.blocks import conv_blocks
        from treeline.contenders.deep.text.base import bag_class

        tower: nn.Module
        if pre.kind == "text":
            tower, width = bag_class()(pre.other.n_ids, params["dim"]), params["dim"]
        elif pre.kind == "image":
            layers, width = conv_blocks(
                2, pre.other.channels, params["channels"], params["n_blocks"]
            )
            tower = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        else:
            tower = _audio_tower()(pre.other.sample_rate, params)
            width = tower.width
        return _module()(tower, width, pre.table.n_num_features, params, d_out)


def _tower(data: FitData) -> tuple[str, int]:
    """The kind of the part beside the table, and an image's shorter side (else 0)."""
    other, _ = _parts(data.train.X)  # type: ignore[arg-type]
    return other.modality, (min(other.shape[1:]) if other.modality == "image" else 0)


@cache
def _audio_tower():
    from torch import nn

    from treeline.contenders.deep.audio.base import log_mel_class
    from treeline.contenders.deep.blocks import conv_blocks
    from treeline.contenders.deep.sequence.base import masked_pool, scaled_lengths

    class AudioTower(nn.Module):
        """Waveforms → the device's log-mel spectrogram → CNN blocks → the mean over bands,
        then the mean and max over the clip's real frames (padding left out, as audio-cnn)."""

        def __init__(self, sample_rate: int, params: dict[str, Any]):
            super().__init__()
            self.mel = log_mel_class()(sample_rate)
            layers, channels = conv_blocks(2, 1, params["channels"], params["n_blocks"])
            self.conv, self.width = nn.Sequential(*layers), 2 * channels

        def forward(self, wave, lengths):
            spec = self.mel(wave, lengths)  # (n, 1, mels, frames)
            h = self.conv(spec).mean(dim=2)  # (n, C, frames')
            frames = self.mel.frames(lengths).clamp(max=spec.shape[-1])
            return masked_pool(h, scaled_lengths(frames, spec.shape[-1], h.shape[-1]))

    return AudioTower


@cache
def _module():
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(
            self, tower: nn.Module, dim: int, d_table: int, params: dict[str, Any], d_out: int
        ):
            super().__init__()
            units, p = params["table_units"], params["dropout"]
            self.tower = tower
            layers: list[nn.Module] = []
            width = d_table
            for _ in range(params["table_layers"]):
                layers += [nn.Linear(width, units), nn.ReLU(), nn.Dropout(p)]
                width = units
            self.table = nn.Sequential(*layers)
            self.head = nn.Sequential(
                nn.Dropout(p),
                nn.Linear(dim + width, params["hidden"]),
                nn.ReLU(),
                nn.Dropout(p),
                nn.Linear(params["hidden"], d_out),
            )

        def forward(self, *inputs):
            *other, x_num = inputs  # (ids, lengths) of a text, or (pixels,) of an image
            return self.head(torch.cat([self.tower(*other), self.table(x_num)], dim=1))

    return Net


CONTENDER = Fusion
