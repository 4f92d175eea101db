"""How audio reaches a network: waveforms as one-channel padded sequences on the device
(sequence/base.py's tensors, stored as float16), cut to the longest training clip (at most
MAX_SECONDS), and a log-mel spectrogram front end inside the network, computed on the device a
batch at a time with torch.stft (torchaudio has no build for this torch), in float32 even under
autocast, and standardized per clip and mel band over the clip's real frames.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from treeline.contenders.deep.sequence.base import PaddedTensors, SequenceNetwork

if TYPE_CHECKING:
    import torch

    from treeline.data import FitData
    from treeline.data.inputs import Audio

MAX_SECONDS = 10.0
N_MELS = 64


class AudioPreprocessor:
    y_mean, y_std = 0.0, 1.0

    def __init__(self, data: FitData):
        X: Audio = data.train.X  # type: ignore[assignment]
        self.sample_rate = X.sample_rate
        self.length = int(min(X.lengths.max(), MAX_SECONDS * self.sample_rate))

    def tensors(self, X: Audio, y: np.ndarray | None, device: str) -> PaddedTensors:
        import torch

        lengths = np.minimum(X.lengths, self.length)
        out = np.zeros((len(X), 1, self.length), dtype=np.float16)
        for i in range(len(X)):
            out[i, 0, : lengths[i]] = X.clip(i)[: self.length]
        y_t = None if y is None else torch.as_tensor(y.astype(np.int64), device=device)
        return PaddedTensors(
            torch.from_numpy(out).to(device),
            torch.as_tensor(lengths.astype(np.int64), device=device),
            y_t,
            audio=True,
        )


class AudioNetwork(SequenceNetwork):
    """A network on waveforms (one-channel padded series); classification."""

    modalities = ("audio",)
    eval_batch = 512

    def preprocessor(self, data: FitData) -> AudioPreprocessor:
        return AudioPreprocessor(data)


@cache  # built on first use, so reading the catalogue does not import torch
def log_mel_class():
    import torch
    from torch import nn

    class LogMel(nn.Module):
        """(n, 1, T) waveforms → (n, 1, mels, frames) log-mel power; 25 ms windows, 10 ms hop."""

        def __init__(self, sample_rate: int, n_mels: int = N_MELS):
            super().__init__()
            import librosa

            self.win, self.hop = int(0.025 * sample_rate), int(0.010 * sample_rate)
            self.n_fft = 1 << (self.win - 1).bit_length()
            mel = librosa.filters.mel(sr=sample_rate, n_fft=self.n_fft, n_mels=n_mels)
            self.register_buffer("mel", torch.from_numpy(mel.astype(np.float32)))
            self.register_buffer("window", torch.hann_window(self.win))

        def frames(self, lengths: torch.Tensor) -> torch.Tensor:
            return lengths // self.hop + 1

        def forward(self, wave: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
            with torch.autocast(wave.device.type, enabled=False):
                spec = torch.stft(
                    wave[:, 0].float(), self.n_fft, self.hop, self.win, self.window,
                    center=True, return_complex=True,
                ).abs().pow(2)  # fmt: skip
                logmel = torch.log(self.mel @ spec + 1e-6)
                # Each band standardized over the clip's real frames (cepstral mean and variance
                # normalization), padding set to 0: silence padded onto short clips would
                # otherwise dominate the input's statistics (log 1e-6 against speech near 0).
                t = logmel.shape[-1]
                frames = self.frames(lengths).clamp(1, t)
                real = (torch.arange(t, device=wave.device) < frames[:, None])[:, None, :]
                count = real.sum(-1, keepdim=True)
                mean = (logmel * real).sum(-1, keepdim=True) / count
                var = (((logmel - mean) * real) ** 2).sum(-1, keepdim=True) / count
                return (((logmel - mean) / (var + 1e-5).sqrt()) * real)[:, None]

    return LogMel
