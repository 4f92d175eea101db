"""UCR/UEA time-series classification sets that the `aeon` package ships in its wheel, read from
their `.ts` files (never aeon's downloader), with the archives' official train/test split: the
official test set is the fixed test set, and n sweeps within the official training part.

Published test accuracies on the official split, from the bake-off redux results that aeon ships
(`aeon/testing/example_results_files/classification/accuracy/*.csv`, resample 0 = the official
split): HIVE-COTE 2 / InceptionTime / WEASEL 2.0 / FreshPRINCE (TSFresh features + rotation
forest) — ItalyPowerDemand 0.970 / 0.966 / 0.953 / 0.898, GunPoint 1.000 / 1.000 / 1.000 / 0.940,
ArrowHead 0.869 / 0.863 / 0.863 / 0.629. aeon ships no such file for the multivariate sets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from treeline.data.dataset import CachedDataset
from treeline.data.inputs import Inputs, Sequences
from treeline.data.sources import PackageFile, Source


class UCRDataset(CachedDataset):
    """One archive set; subclasses name it and give its sizes (checked at preparation)."""

    modality = "sequence"
    task = "multiclass"
    license = "UCR/UEA archive: free for research use, cite the archive"
    archive_name: ClassVar[str]
    train_rows: ClassVar[int]
    test_rows_official: ClassVar[int]

    @property
    def total_rows(self) -> int:  # type: ignore[override]
        return self.train_rows + self.test_rows_official

    @property
    def source_test_rows(self) -> int:  # type: ignore[override]
        return self.test_rows_official

    def sources(self) -> list[Source]:
        return [PackageFile("aeon", f"datasets/data/{self.archive_name}", "aeon")]

    def load_raw(self, path: Path) -> tuple[Inputs, Any]:
        import numpy as np
        from aeon.datasets import load_from_ts_file

        rows, labels = [], []
        for part in ("TRAIN", "TEST"):  # test last: source_test_rows takes the official test
            X, y = load_from_ts_file(str(path / f"{self.archive_name}_{part}.ts"))
            rows += [np.asarray(x, dtype=np.float32).T for x in X]  # (channels, T) → (T, C)
            labels += [str(v) for v in y]
        if len({len(r) for r in rows}) == 1:
            dense = np.stack([r.T for r in rows])  # N×C×T
            return Sequences.from_array(np.ascontiguousarray(dense)), np.asarray(labels)
        return Sequences.from_rows(rows), np.asarray(labels)


def _ucr(
    name: str, train: int, test: int, classes: int, length: int, about: str
) -> type[UCRDataset]:
    return type(
        name,
        (UCRDataset,),
        {
            "name": f"ucr/{name}",
            "archive_name": name,
            "train_rows": train,
            "test_rows_official": test,
            "series_length": length,
            "task": "binary" if classes == 2 else "multiclass",
            "description": f"UCR/UEA {name}: {about}, {classes} classes; official split "
            f"{train} + {test}",
            "__module__": __name__,
        },
    )


DATASETS = (
    _ucr("ItalyPowerDemand", 67, 1_029, 2, 24, "daily electricity demand, length 24"),
    _ucr("GunPoint", 50, 150, 2, 150, "hand motion, length 150"),
    _ucr("ArrowHead", 36, 175, 3, 251, "arrowhead outlines, length 251"),
    _ucr("BasicMotions", 40, 40, 4, 100, "6-channel accelerometer and gyroscope, length 100"),
    _ucr("JapaneseVowels", 270, 370, 9, 29, "12 LPC channels, ragged lengths 7-29, speakers"),
    _ucr("OSULeaf", 200, 242, 6, 427, "leaf outlines, length 427"),
)
