"""MNIST-1D (Greydanus and Kobak 2020): 10 digit templates turned into 1-D signals of length 40
by random padding, translation, scaling, shear and correlated noise — small, yet it separates
model families as MNIST no longer does.

Generated with the `mnist1d` package's own generator (`make_dataset`; never its downloader),
deterministically: the test set is the paper's, the last 1,000 of the default 5,000 (seed 42);
the labelled pool is the paper's 4,000 training signals plus ten more default-sized sets from
seeds 43-52 (each standardized by the generator over its own 5,000 signals, as the paper's is):
54,000 rows. The paper's protocol is n = 4,000. Its test accuracies: logistic regression 32 %,
MLP 68 %, CNN 94 %, GRU 91 %.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from treeline.data.dataset import CachedDataset
from treeline.data.inputs import Inputs, Sequences
from treeline.data.sources import PackageFile, Source

PAPER_SEED = 42
EXTRA_SEEDS = range(43, 53)


class MNIST1D(CachedDataset):
    name = "mnist1d"
    modality = "sequence"
    task = "multiclass"
    description = "MNIST-1D: generated 1-D digit signals, length 40, 10 classes (paper's test set)"
    license = "Apache-2.0 (generator); generated data"
    series_length = 40
    total_rows = 4_000 + 5_000 * len(EXTRA_SEEDS) + 1_000
    source_test_rows = 1_000

    def sources(self) -> list[Source]:
        return [PackageFile("mnist1d", "data.py", "mnist1d")]

    def load_raw(self, path: Path) -> tuple[Inputs, Any]:
        import numpy as np
        from mnist1d.data import get_dataset_args, make_dataset

        def generate(seed: int) -> dict[str, np.ndarray]:
            args = get_dataset_args()
            args.seed = seed
            return make_dataset(args)

        paper = generate(PAPER_SEED)
        xs, ys = [paper["x"]], [paper["y"]]
        for seed in EXTRA_SEEDS:
            extra = generate(seed)
            xs += [extra["x"], extra["x_test"]]
            ys += [extra["y"], extra["y_test"]]
        xs.append(paper["x_test"])  # last: source_test_rows takes the paper's test set
        ys.append(paper["y_test"])
        x = np.concatenate(xs).astype(np.float32)[:, None, :]  # N×1×40
        return Sequences.from_array(np.ascontiguousarray(x)), np.concatenate(ys).astype(str)


DATASET = MNIST1D
