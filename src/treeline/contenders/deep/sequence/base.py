"""How sequences reach a network: padded N×C×T float32 tensors with their lengths, on the device,
normalized per channel with the training split's statistics (over real steps, not padding);
augmented a batch at a time on the device. Shared with audio (a waveform is a one-channel
sequence, not normalized: the network's front end takes it as it is).

Augmentation, a trial parameter: `shift` moves each series by up to a tenth of its padded length
(zeros enter on one side; a ragged series' length grows with it, up to the padded length),
`shift+noise` also adds Gaussian noise at 5 % of the normalized scale (for audio: at 20-40 dB
below the clip). The standard ones for time series and speech; tuning chooses.

The networks pool over time with a mask (mean and max over real steps), so padding never
reaches a prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from treeline.contenders.base import FitContext, log_uniform_or_zero
from treeline.contenders.deep.loop import DeepContender

if TYPE_CHECKING:
    import optuna
    import torch

    from treeline.data import FitData
    from treeline.data.inputs import Sequences

AUGMENTATIONS = ("none", "shift", "shift+noise")


def training_space(trial: optuna.Trial, batch_sizes: list[int]) -> dict[str, Any]:
    """What the sequence and audio networks tune alike: dropout Uniform[0, 0.5], AdamW's lr
    LogUniform[1e-4, 1e-2] and weight decay {0, LogUniform[1e-6, 1e-3]} (Gorishniy et al.
    2021's ranges), the batch size, and the augmentation."""
    return {
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
        "weight_decay": log_uniform_or_zero(trial, "weight_decay", 1e-6, 1e-3),
        "batch_size": trial.suggest_categorical("batch_size", batch_sizes),
        "augment": trial.suggest_categorical("augment", list(AUGMENTATIONS)),
    }


@dataclass
class PaddedTensors:
    """A split on the device: x (n, C, T) zero-padded (float32; float16 for audio, half the
    memory, -66 dB rounding); lengths (n,) int64."""

    x: torch.Tensor
    lengths: torch.Tensor
    y: torch.Tensor | None
    audio: bool = False

    def __len__(self) -> int:
        return len(self.x)

    def batch(self, idx: Any, augment: str = "none", gen: Any = None) -> tuple[Any, ...]:
        x, lengths = self.x[idx].float(), self.lengths[idx]  # audio is stored as float16
        if augment != "none":
            x, lengths = _shift(x, lengths, gen)
            if augment == "shift+noise":
                x = _noise(x, lengths, gen, self.audio)
        return x, lengths


def _shift(x: torch.Tensor, lengths: torch.Tensor, gen: Any) -> tuple[torch.Tensor, Any]:
    """Each row delayed by 0..T/10 steps: one gather for the batch."""
    import torch

    n, c, t = x.shape
    most = max(1, t // 10)
    delay = torch.randint(0, most + 1, (n, 1), device=x.device, generator=gen)
    src = torch.arange(t, device=x.device)[None, :] - delay  # (n, t): where step t comes from
    valid = (src >= 0)[:, None, :]
    out = torch.gather(x, 2, src.clamp(min=0)[:, None, :].expand(n, c, t)) * valid
    return out, torch.clamp(lengths + delay[:, 0], max=t)


def _noise(x: torch.Tensor, lengths: torch.Tensor, gen: Any, audio: bool) -> torch.Tensor:
    import torch

    noise = torch.randn(x.shape, device=x.device, generator=gen)
    if audio:  # 20-40 dB below each clip's RMS
        rms = x.pow(2).sum(dim=(1, 2), keepdim=True).div(lengths[:, None, None]).sqrt()
        db = 20 + 20 * torch.rand((len(x), 1, 1), device=x.device, generator=gen)
        noise = noise * rms / 10 ** (db / 20)
    else:
        noise = noise * 0.05
    mask = torch.arange(x.shape[2], device=x.device)[None, None, :] < lengths[:, None, None]
    return x + noise * mask


def masked_pool(h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(n, C, T') features and input lengths scaled to T' → (n, 2C): mean and max over real
    steps."""
    import torch

    t = h.shape[-1]
    mask = torch.arange(t, device=h.device)[None, None, :] < lengths.clamp(1, t)[:, None, None]
    mean = (h * mask).sum(-1) / mask.sum(-1).clamp(min=1)
    top = h.masked_fill(~mask, torch.finfo(h.dtype).min).amax(-1)
    return torch.cat([mean, top], dim=1)


def scaled_lengths(lengths: torch.Tensor, t_in: int, t_out: int) -> torch.Tensor:
    """Lengths after a stack of poolings took T to T' (ceil: a partial window is real)."""
    return (lengths * t_out + t_in - 1) // t_in


class SequencePreprocessor:
    """Per-channel mean and std of the training series (real steps only)."""

    y_mean, y_std = 0.0, 1.0

    def __init__(self, data: FitData):
        X: Sequences = data.train.X  # type: ignore[assignment]
        self.channels = X.channels
        self.length = int(X.lengths.max())  # every split is padded (or cut) to this
        self.ragged = X.dense is None
        sample = X.take(np.arange(min(len(X), 5_000)))
        steps = np.concatenate([sample.row(i) for i in range(len(sample))])  # (ΣT, C)
        self.mean = steps.mean(axis=0).astype(np.float32)
        self.std = np.maximum(steps.std(axis=0), 1e-6).astype(np.float32)

    def tensors(self, X: Sequences, y: np.ndarray | None, device: str) -> PaddedTensors:
        import torch

        values = X.padded(self.length)
        lengths = np.minimum(X.lengths, self.length)
        values = (values - self.mean[None, :, None]) / self.std[None, :, None]
        values *= np.arange(self.length)[None, None, :] < lengths[:, None, None]  # pad: 0
        y_t = None if y is None else torch.as_tensor(y.astype(np.int64), device=device)
        return PaddedTensors(
            torch.from_numpy(values.astype(np.float32)).to(device),
            torch.as_tensor(lengths.astype(np.int64), device=device),
            y_t,
        )


class SequenceNetwork(DeepContender):
    """A network on padded series (sequences; audio subclasses it); classification."""

    modalities = ("sequence",)
    regression = False
    eval_batch = 2048

    def preprocessor(self, data: FitData) -> Any:
        return SequencePreprocessor(data)

    def preprocess(self, data: FitData, ctx: FitContext) -> Any:
        if data.task == "regression":
            raise ValueError(f"{self.name} classifies {self.modalities[0]}; the task is regression")
        return self.preprocessor(data)

    def train_batch(
        self, train: Any, idx: torch.Tensor, params: dict[str, Any], gen: torch.Generator
    ) -> tuple[Any, ...]:
        return train.batch(idx, params.get("augment", "none"), gen)
