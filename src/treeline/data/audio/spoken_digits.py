"""Spoken digits, synthesized: the words "zero" to "nine" spoken by Debian's `espeak-ng`
(deterministic: the same command gives the same samples) in 8 English accents × 38 voice
variants, at speeds of 120-230 words per minute and pitches 20-80, each clip delayed by 0-0.25 s
and mixed with white noise at a stated signal-to-noise ratio (option `snr_db`, default 10 dB),
resampled to 16 kHz. Ten classes, balanced.

Clip i of a stream draws its voice, speed, pitch, delay and noise from a generator seeded with
[stream, i]: the labelled pool (option `rows`, up to 20,000) is stream 1, the fixed test set
(option `test_rows`) stream 0, so no clip is in both. Synthesized once (on both cores, about 70
clips/s per core) and cached with the options' digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from treeline.data.dataset import CachedDataset
from treeline.data.inputs import Audio, Inputs
from treeline.data.sources import DataUnavailable, Source

SAMPLE_RATE = 16_000
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ACCENTS = (
    "en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
    "en-029", "en-us-nyc",
)  # fmt: skip
VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "grandma", "grandpa", "adam", "benjamin", "david",
    "edward", "linda", "steph", "max", "michael", "paul", "quincy", "rob", "robert", "travis",
    "victor", "zac", "anika", "aunty", "belinda", "john",
)  # fmt: skip
MAX_ROWS = 20_000
PROGRAM = "espeak-ng"


class SpokenDigitsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    rows: int = Field(MAX_ROWS, ge=20, le=MAX_ROWS)  # the labelled pool
    test_rows: int = Field(2_000, ge=20, le=10_000)
    snr_db: float = Field(10.0, ge=-10.0, le=60.0)

    def digest(self) -> str:
        text = json.dumps(self.model_dump(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


class Program(Source):
    """A program on PATH, installed by a Debian package."""

    def __init__(self, program: str, apt_package: str):
        self.program, self.apt_package = program, apt_package

    @property
    def label(self) -> str:
        return f"{self.program} (Debian package {self.apt_package})"

    @property
    def hint(self) -> str:
        return f"install {self.program}: sudo apt-get install {self.apt_package}"

    def locate(self, cache: Path) -> Path | None:
        found = shutil.which(self.program)
        return Path(found) if found else None


class SpokenDigits(CachedDataset):
    name = "spoken-digits"
    modality = "audio"
    task = "multiclass"
    description = (
        "Spoken digits synthesized by espeak-ng: 304 voices, speeds, pitches, noise at a stated "
        "SNR; 16 kHz; ≤20,000 + 2,000"
    )
    license = "generated (espeak-ng: GPL-3.0)"
    class_order = WORDS
    Options = SpokenDigitsOptions
    rows_from_options = True

    def __init__(self, options: SpokenDigitsOptions | None = None, label: str | None = None):
        self.options = options or SpokenDigitsOptions()
        self.name = label or "spoken-digits"

    @property
    def total_rows(self) -> int:  # type: ignore[override]
        return self.options.rows + self.options.test_rows

    @property
    def source_test_rows(self) -> int:  # type: ignore[override]
        return self.options.test_rows

    def fingerprint(self) -> str:
        return f"{super().fingerprint()}-{self.options.digest()}"

    def sources(self) -> list[Source]:
        return [Program(PROGRAM, "espeak-ng")]

    def load_raw(self, path: Path) -> tuple[Inputs, Any]:
        from concurrent.futures import ThreadPoolExecutor

        o = self.options
        specs = [(1, i) for i in range(o.rows)] + [(0, i) for i in range(o.test_rows)]
        with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
            clips = list(pool.map(lambda s: synthesize(str(path), *s, o.snr_db), specs))
        labels = np.asarray([WORDS[i % 10] for _, i in specs])
        return Audio.from_clips(clips, SAMPLE_RATE), labels


def clip_spec(stream: int, i: int) -> tuple[str, list[str], np.random.Generator]:
    """Clip i of a stream: its word, the espeak-ng arguments, and its generator (for noise)."""
    rng = np.random.default_rng([20_26, stream, i])
    voice = f"{ACCENTS[rng.integers(len(ACCENTS))]}+{VARIANTS[rng.integers(len(VARIANTS))]}"
    speed, pitch = int(rng.integers(120, 231)), int(rng.integers(20, 81))
    return WORDS[i % 10], ["-v", voice, "-s", str(speed), "-p", str(pitch)], rng


def synthesize(program: str, stream: int, i: int, snr_db: float) -> np.ndarray:
    from scipy.signal import resample_poly

    word, args, rng = clip_spec(stream, i)
    run = subprocess.run([program, "--stdout", *args, word], capture_output=True, check=False)
    if run.returncode != 0 or len(run.stdout) < 44:
        raise DataUnavailable(f"{program} {' '.join(args)} {word}: {run.stderr.decode()[:200]}")
    wav = run.stdout
    start = wav.find(b"data") + 8  # streamed WAV: the header's sizes are placeholders
    speech = np.frombuffer(wav[start : start + (len(wav) - start) // 2 * 2], dtype="<i2")
    speech = resample_poly(speech.astype(np.float32) / 32768.0, 320, 441)  # 22,050 → 16,000 Hz
    delay = np.zeros(int(rng.uniform(0.0, 0.25) * SAMPLE_RATE), dtype=np.float32)
    clip = np.concatenate([delay, speech]).astype(np.float32)
    rms = float(np.sqrt(np.mean(speech**2))) if len(speech) else 0.0
    noise = rng.standard_normal(len(clip)).astype(np.float32) * rms / 10 ** (snr_db / 20)
    return clip + noise


DATASET = SpokenDigits
