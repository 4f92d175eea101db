"""MFCC statistics: librosa's 20 mel-frequency cepstral coefficients (25 ms windows every 10 ms,
40 mel bands) with their first and second differences (deltas), each summarized over time by
mean and standard deviation: 120 features per clip — the classical speech front-end under a tree
ensemble. Learns nothing: computed once per dataset and cached.

librosa compiles numba code on its first call in a new environment (~20 s here, up to minutes on
a slow disk): `setup` runs it on a second of silence, before any timing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from treeline.featurize.base import Featurizer

if TYPE_CHECKING:
    from treeline.data.inputs import Audio, Table

N_MFCC = 20


def _features(clip: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    win, hop = int(0.025 * sr), int(0.010 * sr)
    m = librosa.feature.mfcc(
        y=clip, sr=sr, n_mfcc=N_MFCC, n_fft=512 if sr <= 16_000 else 1024, win_length=win,
        hop_length=hop, n_mels=40,
    )  # fmt: skip
    width = min(9, m.shape[1] - (1 - m.shape[1] % 2))  # an odd window the clip can fill
    if width >= 3:
        d1 = librosa.feature.delta(m, width=width, mode="nearest")
        d2 = librosa.feature.delta(m, order=2, width=width, mode="nearest")
    else:  # a clip of one or two frames: no differences to take
        d1 = d2 = np.zeros_like(m)
    parts = [m, d1, d2]
    return np.concatenate([p.mean(axis=1) for p in parts] + [p.std(axis=1) for p in parts])


class MFCC(Featurizer):
    name = "mfcc"
    modalities = ("audio",)
    description = "librosa MFCC (20) + deltas + delta-deltas, mean and std over time: 120"
    library = "librosa"
    libraries = ("librosa",)

    def setup(self) -> None:
        super().setup()
        _features(np.zeros(16_000, dtype=np.float32), 16_000)  # compile numba before the clock

    def transform(self, X: Audio) -> Table:  # type: ignore[override]
        import pandas as pd

        from treeline.data.inputs import Table

        out = np.empty((len(X), 6 * N_MFCC), dtype=np.float32)
        for i in range(len(X)):
            out[i] = _features(np.asarray(X.clip(i), dtype=np.float32), X.sample_rate)
        columns = [
            f"{stat}_{part}{k}"
            for stat in ("mean", "std")
            for part in ("mfcc", "d1_", "d2_")
            for k in range(N_MFCC)
        ]
        return Table(pd.DataFrame(out, columns=columns, copy=False), tuple(columns), ())


FEATURIZER = MFCC
