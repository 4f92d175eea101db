"""Small real datasets for the non-tabular contenders' tests, one per modality."""

from __future__ import annotations

import shutil

import pytest

from treeline.contenders import load
from treeline.data import DataBundle, DatasetRef

# (dataset, options, n): the digits (8×8 images), JapaneseVowels (12 channels, ragged lengths),
# a small spoken-digits set (synthesized in a few seconds). All multiclass.
MODAL_DATA: dict[str, tuple[str, dict, int]] = {
    "image": ("digits", {}, 600),
    "sequence": ("ucr/JapaneseVowels", {}, 270),
    "audio": ("spoken-digits", {"rows": 200, "test_rows": 60}, 200),
}


def modality_of(contender: str) -> str:
    return load(contender).modalities[0]


def modal_ref(modality: str) -> DatasetRef:
    name, options, _ = MODAL_DATA[modality]
    return DatasetRef(name, name, options)


def need_espeak() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (sudo apt-get install espeak-ng; .ci/run does)")


def modal_bundle(modality: str, seed: int = 0) -> DataBundle:
    if modality == "audio":
        need_espeak()
    return modal_ref(modality).build().bundle(MODAL_DATA[modality][2], seed)
