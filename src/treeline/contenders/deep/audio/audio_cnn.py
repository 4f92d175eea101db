"""A 2-D CNN on log-mel spectrograms (64 mel bands, 25 ms windows every 10 ms) computed on the
device from the waveforms and standardized per clip and band: blocks of 3×3 convolution, batch
norm, ReLU and 2×2 max-pooling, then every channel of every remaining band as a feature, its mean
and max over the clip's real frames, dropout and a linear layer — the standard small
keyword-spotting CNN. (Averaging over frequency instead, as a first version did, threw away the
spectral shape that tells words apart: 0.57 against 0.97 test accuracy on 2,000 clips after 8
epochs.)

Default (trial 0): three blocks of 16, 32 and 64 channels, dropout 0.2, AdamW at lr 1e-3, batch
64, no augmentation. Search space: 2-4 blocks, first-block channels UniformInt[8, 48] doubling,
dropout Uniform[0, 0.5], lr LogUniform[1e-4, 1e-2], weight decay {0, LogUniform[1e-6, 1e-3]},
batch {32, 64, 128}, augmentation {none, shift (delay up to a tenth of the clip), shift+noise
(20-40 dB below the clip)}.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from treeline.contenders.deep.audio.base import AudioNetwork
from treeline.contenders.deep.blocks import conv_blocks
from treeline.contenders.deep.sequence.base import training_space

if TYPE_CHECKING:
    import optuna
    import torch

    from treeline.data import FitData


class AudioCNN(AudioNetwork):
    name = "audio-cnn"
    library = "torch"
    description = "2-D CNN on log-mel spectrograms computed on the device (torch.stft)"
    libraries = ("torch", "torch._dynamo", "librosa.filters")

    def default_params(self, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {
            "n_blocks": 3,
            "channels": 16,
            "dropout": 0.2,
            "lr": 1e-3,
            "weight_decay": 0.0,
            "batch_size": 64,
            "augment": "none",
        }

    def suggest(self, trial: optuna.Trial, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {
            "n_blocks": trial.suggest_int("n_blocks", 2, 4),
            "channels": trial.suggest_int("channels", 8, 48),
            **training_space(trial, [32, 64, 128]),
        }

    def build(self, params: dict[str, Any], pre: Any, d_out: int, train: Any) -> torch.nn.Module:
        return _module()(pre.sample_rate, params, d_out)


@cache
def _module():
    from torch import nn

    from treeline.contenders.deep.audio.base import N_MELS, log_mel_class
    from treeline.contenders.deep.sequence.base import masked_pool, scaled_lengths

    class Net(nn.Module):
        def __init__(self, sample_rate: int, params: dict[str, Any], d_out: int):
            super().__init__()
            self.front = log_mel_class()(sample_rate)
            layers, c_in = conv_blocks(2, 1, params["channels"], params["n_blocks"], ceil=True)
            self.body = nn.Sequential(*layers)
            bands = -(-N_MELS // 2 ** params["n_blocks"])  # ceil-mode pooling
            self.head = nn.Sequential(
                nn.Dropout(params["dropout"]), nn.Linear(2 * c_in * bands, d_out)
            )

        def forward(self, wave, lengths):
            spec = self.front(wave, lengths)  # (n, 1, mels, frames)
            h = self.body(spec).flatten(1, 2)  # (n, C × mels', frames')
            frames = scaled_lengths(self.front.frames(lengths), spec.shape[-1], h.shape[-1])
            return self.head(masked_pool(h, frames))

    return Net


CONTENDER = AudioCNN
