"""Bring your own recordings: a folder of class folders of WAV, FLAC, OGG or MP3 files (`audio:
FOLDER, rate: 16000` in a suite), or a table's column of clip paths (`file`, `audio: COLUMN`).
Each clip is decoded (libsndfile, through soundfile), mixed down to mono and resampled to the
declared `rate` (polyphase, scipy), then stored once as ragged float32 waveforms in the cache
like the built-in audio: clips keep their own lengths.

Refused before any cell, naming the files: clips that do not decode and clips with no samples
(the count and the first few), as well as everything a folder of class folders is refused for
(class_folders.py). Handled and said in the data notes: stereo or multichannel clips (averaged
to mono), other sample rates (resampled, each rate counted), clips of different lengths (the
range), non-audio files left out.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from treeline.data.class_folders import BadFiles, ClassFolder, decode_in_parallel, error_text
from treeline.data.inputs import Audio, Inputs
from treeline.errors import shown as _shown

SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff")
DEFAULT_RATE = 16_000


def _decode(job: tuple[str, int]) -> tuple[np.ndarray | None, int, int, str]:
    """(mono float32 samples at `rate`, the file's own rate, its channels, or an error)."""
    path, rate = job
    try:
        import soundfile

        samples, own = soundfile.read(path, dtype="float32", always_2d=True)
        if samples.shape[0] == 0:
            return None, own, samples.shape[1], "no samples: an empty clip"
        channels = samples.shape[1]
        wave = samples.mean(axis=1) if channels > 1 else samples[:, 0]
        if not np.isfinite(wave).all():
            return None, own, channels, "samples that are not finite numbers"
        if own != rate:
            from math import gcd

            from scipy.signal import resample_poly

            g = gcd(int(own), rate)
            wave = resample_poly(wave, rate // g, int(own) // g).astype(np.float32)
        return np.ascontiguousarray(wave, dtype=np.float32), int(own), channels, ""
    except Exception as exc:  # any decoder error is the user's file: named, with its reason
        return None, 0, 0, error_text(exc)


def decode_clips(
    root: Path, files: list[str], rate: int, progress: bool | None = None
) -> tuple[Audio, list[str]]:
    """Every clip as mono at `rate`, decoded on every core, and the data notes; raises BadFiles
    naming the clips that do not decode or are empty."""
    jobs = [(str(root / rel), rate) for rel in files]
    results = decode_in_parallel(_decode, jobs, f"clips {root.name}", progress)
    bad = [f"{rel} ({err})" for rel, (wave, _, _, err) in zip(files, results, strict=True) if err]
    if bad:
        raise BadFiles(
            f"{len(bad):,} of {len(files):,} clips under {root} cannot be used: {_shown(bad)}"
        )
    return Audio.from_clips([r[0] for r in results], rate), _notes(results, rate)


def _notes(results: list[tuple[Any, int, int, str]], rate: int) -> list[str]:
    notes = []
    rates = Counter(own for _, own, _, _ in results if own != rate)
    if rates:
        found = ", ".join(f"{r:,} Hz ({k:,})" for r, k in rates.most_common(3))
        notes.append(f"{sum(rates.values()):,} clips resampled to {rate:,} Hz from {found}")
    wide = Counter(ch for _, _, ch, _ in results if ch > 1)
    if wide:
        kinds = ", ".join(f"{k:,} of {ch} channels" for ch, k in sorted(wide.items()))
        notes.append(f"{sum(wide.values()):,} clips not mono ({kinds}): averaged to mono")
    seconds = np.array([len(w) / rate for w, _, _, _ in results])
    if len(seconds) and seconds.max() > seconds.min():
        notes.append(
            f"clips of {seconds.min():.2f}-{seconds.max():.2f} s (median "
            f"{np.median(seconds):.2f} s): each kept at its own length"
        )
    return notes


class AudioFolder(ClassFolder):
    """A user's folder of class folders of recordings, as mono waveforms at `rate`."""

    modality = "audio"
    suffixes = SUFFIXES
    noun = "clips"
    setting = "rate"

    def decode(self, root: Path, files: list[str]) -> tuple[Inputs, list[str]]:
        return decode_clips(root, files, self.value)
