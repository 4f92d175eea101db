"""A seeded synthetic family for controlled experiments and sizes beyond the real tables.

Features are standard normal: `informative` ones drive the target, `uninformative` ones are
noise (trees shrug them off, MLPs do not — Grinsztajn et al. 2022), optional categorical columns
add per-level effects, and `rotate` mixes all numeric columns with a random orthogonal matrix
(which removes the axis alignment trees rely on). The target is a fixed random "teacher":
a linear part, axis-aligned steps and pairwise products, standardized, plus Gaussian noise.

Rows are generated in fixed chunks from `[seed, stream, chunk]`, so the first n rows of a
sample never depend on how many were asked for (nested sizes), and the test set (stream 0) is
the same for every n and every seed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from treeline.data.dataset import Dataset, Prepared, Split, Task
from treeline.data.inputs import Table
from treeline.data.sources import Source

if TYPE_CHECKING:
    import pandas as pd

MAX_ROWS = 10_000_000
TEST_ROWS = 50_000
CHUNK = 65_536


class SyntheticOptions(BaseModel):
    """The knobs of one synthetic dataset (the `options:` of a suite's dataset entry)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    task: Task = "binary"
    informative: int = Field(8, ge=1, le=512)
    uninformative: int = Field(8, ge=0, le=2048)
    categorical: int = Field(0, ge=0, le=128)
    levels: int = Field(8, ge=2, le=10_000)
    classes: int = Field(4, ge=3, le=100)  # multiclass only
    rotate: bool = False
    noise: float = Field(0.3, ge=0)
    seed: int = Field(0, ge=0)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()


class Synthetic(Dataset):
    name = "synthetic"
    Options = SyntheticOptions
    description = "Seeded synthetic family: (un)informative, categorical, rotated features"
    license = "generated"

    def __init__(self, options: SyntheticOptions | None = None, label: str | None = None):
        self.options = options or SyntheticOptions()
        self.name = label or "synthetic"
        self.task = self.options.task
        self._teacher = _Teacher(self.options)

    @property
    def rows(self) -> int:
        return MAX_ROWS

    def rows_text(self) -> str:
        return f"≤{MAX_ROWS:,} + {TEST_ROWS:,}"

    def sources(self) -> list[Source]:
        return []

    def availability(self) -> tuple[bool, str]:
        return True, "generated (seeded)"

    def classes(self) -> tuple[str, ...]:
        o = self.options
        if o.task == "regression":
            return ()
        return ("0", "1") if o.task == "binary" else tuple(f"class{i}" for i in range(o.classes))

    def prepare(self) -> Prepared:
        self.test()
        return Prepared(Path("<generated>"), "generated (seeded)", MAX_ROWS, TEST_ROWS, True)

    def labelled(self, n: int, seed: int) -> Split:
        if n > MAX_ROWS:
            raise ValueError(f"synthetic: n={n} exceeds {MAX_ROWS}")
        return self._split(*self._teacher.sample(n, stream=1 + seed))

    def test(self) -> Split:
        return self._split(*self._teacher.sample(TEST_ROWS, stream=0))

    def _split(self, frame: pd.DataFrame, y: np.ndarray) -> Split:
        o = self.options
        numeric = tuple(f"x{i}" for i in range(o.informative + o.uninformative))
        categorical = tuple(f"c{j}" for j in range(o.categorical))
        return Split(Table(frame, numeric, categorical), y)


class _Teacher:
    """The fixed random function that labels the rows."""

    def __init__(self, o: SyntheticOptions):
        self.o = o
        rng = np.random.default_rng([o.seed, 991])
        k = o.informative
        self.d = k + o.uninformative
        self.out = o.classes if o.task == "multiclass" else 1
        self.linear = rng.standard_normal((k, self.out)) / np.sqrt(k)
        n_steps = max(2, k)
        self.step_feature = rng.integers(0, k, n_steps)
        self.step_threshold = rng.normal(0, 0.7, n_steps)
        self.step_weight = rng.standard_normal((n_steps, self.out))
        n_pairs = max(1, k // 2)
        self.pairs = rng.integers(0, k, (n_pairs, 2))
        self.pair_weight = rng.standard_normal((n_pairs, self.out)) * 0.7
        self.cat_effect = rng.standard_normal((o.categorical, o.levels, self.out)) * 0.7
        self.rotation = None
        if o.rotate:
            q, r = np.linalg.qr(rng.standard_normal((self.d, self.d)))
            self.rotation = q * np.sign(np.diag(r))
        # Standardize the latent with statistics of a fixed calibration sample.
        raw, cats, _ = self._chunk(np.random.default_rng([o.seed, 992]), 20_000)
        latent = self._latent(raw, cats)
        self.mean, self.std = latent.mean(axis=0), latent.std(axis=0) + 1e-12

    def _chunk(self, rng: np.random.Generator, size: int):
        raw = rng.standard_normal((size, self.d))
        cats = rng.integers(0, self.o.levels, (size, self.o.categorical))
        noise = rng.standard_normal((size, self.out))
        return raw, cats, noise

    def _latent(self, raw: np.ndarray, cats: np.ndarray) -> np.ndarray:
        x = raw[:, : self.o.informative]
        z = x @ self.linear
        z += (x[:, self.step_feature] > self.step_threshold) @ self.step_weight
        z += (x[:, self.pairs[:, 0]] * x[:, self.pairs[:, 1]]) @ self.pair_weight
        for j in range(self.o.categorical):
            z += self.cat_effect[j, cats[:, j]]
        return z

    def sample(self, n: int, stream: int) -> tuple[pd.DataFrame, np.ndarray]:
        import pandas as pd

        xs, cs, ys = [], [], []
        for ci in range(-(-n // CHUNK)):
            raw, cats, noise = self._chunk(np.random.default_rng([self.o.seed, stream, ci]), CHUNK)
            z = (self._latent(raw, cats) - self.mean) / self.std + self.o.noise * noise
            if self.o.task == "regression":
                y = z[:, 0]
            elif self.o.task == "binary":
                y = (z[:, 0] > 0).astype(np.int64)
            else:
                y = z.argmax(axis=1).astype(np.int64)
            obs = raw @ self.rotation if self.rotation is not None else raw
            xs.append(obs.astype(np.float32))
            cs.append(cats)
            ys.append(y)
        X = np.concatenate(xs)[:n]
        C = np.concatenate(cs)[:n]
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(self.d)])
        levels = [f"l{v}" for v in range(self.o.levels)]
        for j in range(self.o.categorical):
            frame[f"c{j}"] = pd.Categorical.from_codes(C[:, j], categories=levels)
        return frame, np.concatenate(ys)[:n]


DATASET = Synthetic
