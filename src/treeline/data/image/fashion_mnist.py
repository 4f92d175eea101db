"""Fashion-MNIST (Xiao, Rasul and Vollgraf 2017): 28×28 grey images of clothing, 10 classes,
with the official split of 60,000 training (the labelled pool) and 10,000 test images.

Sources: Debian's `dataset-fashion-mnist` (installed, or fetched with `apt-get download`), else
the original files from the authors' site; either is checked against the SHA-256 of the
decompressed IDX content (Debian recompresses the same files).

The authors' scikit-learn benchmark (their README, test accuracy, best of a small grid):
GradientBoostingClassifier 0.880, RandomForestClassifier 0.873, SVC 0.897, MLPClassifier 0.877.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from treeline.data.dataset import CachedDataset
from treeline.data.inputs import Images, Inputs
from treeline.data.sources import AptDownload, Source, SystemFile, Url

_FILES = {  # SHA-256 of each file's decompressed content
    f"{part}-idx{rank}-ubyte.gz": sha256
    for part, rank, sha256 in (
        ("train-images", 3, "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        ("train-labels", 1, "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        ("t10k-images", 3, "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        ("t10k-labels", 1, "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    )
}
_FOLDER = "usr/share/datasets/fashion-mnist"
_ORIGINAL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"
CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


class FashionMNIST(CachedDataset):
    name = "fashion-mnist"
    modality = "image"
    task = "multiclass"
    description = "Fashion-MNIST: 28×28 grey clothing images, 10 classes, official test split"
    license = "MIT (Zalando Research)"
    total_rows = 70_000
    source_test_rows = 10_000
    class_order = CLASSES

    def sources(self) -> list[Source]:
        return [
            SystemFile("/" + _FOLDER, "dataset-fashion-mnist"),
            AptDownload("dataset-fashion-mnist", _FOLDER, files=_FILES),
            Url(_ORIGINAL, filename="fashion-mnist", files=_FILES),
        ]

    def load_raw(self, path: Path) -> tuple[Inputs, Any]:
        import numpy as np

        from treeline.data.image.idx import read_idx

        parts = [
            (
                read_idx(path / f"{p}-images-idx3-ubyte.gz"),
                read_idx(path / f"{p}-labels-idx1-ubyte.gz"),
            )
            for p in ("train", "t10k")
        ]  # test last: source_test_rows takes the official 10,000
        images = np.concatenate([x for x, _ in parts])[:, None, :, :]
        labels = np.concatenate([y for _, y in parts])
        return Images(np.ascontiguousarray(images)), np.asarray(CLASSES)[labels]


DATASET = FashionMNIST
