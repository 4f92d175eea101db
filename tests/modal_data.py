"""Small real datasets for the non-tabular contenders' tests, one per modality."""

from __future__ import annotations

import shutil
from dataclasses import replace
from functools import cache

import numpy as np
import pytest

from treeline.contenders import contender_class, load
from treeline.data import DataBundle, DatasetRef

# (dataset, options, n): the digits (8×8 images), JapaneseVowels (12 channels, ragged lengths),
# a small spoken-digits set (synthesized in a few seconds): multiclass; election tweets (short
# texts, 1,289 in the test set), alone or with their metadata: binary.
MODAL_DATA: dict[str, tuple[str, dict, int]] = {
    "image": ("digits", {}, 600),
    "sequence": ("ucr/JapaneseVowels", {}, 270),
    "audio": ("spoken-digits", {"rows": 200, "test_rows": 60}, 200),
    "text": ("election-tweets", {}, 300),
    "multimodal": ("election-tweets-meta", {}, 300),
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


# Cheaper options where the default configuration takes minutes per fit on one thread (the
# fine-tuned encoder's cost grows with the word pieces per text).
TEST_OPTIONS: dict[str, dict] = {"minilm-finetune": {"max_length": 8}}


def modal_task(modality: str) -> str:
    return "binary" if modality in ("text", "multimodal") else "multiclass"


@cache
def contender_bundle(name: str, seed: int = 0) -> DataBundle:
    """A non-tabular contender's test data: its modality's set, through the featurizer the
    contender always takes (minilm-head: minilm-embed) where it has one — computed for these rows
    only, never cached for the dataset."""
    from treeline.featurize import featurizer_class
    from treeline.featurize.apply import featurize

    cls = contender_class(name)
    bundle = modal_bundle(cls.modalities[0], seed)
    if bundle.modality in ("text", "multimodal"):  # 300 of the 1,289 test tweets: enough here
        bundle = replace(bundle, test=bundle.test.take(np.arange(300)))
    if cls.featurizer is None:
        return bundle
    featurizer = featurizer_class(cls.featurizer)()
    featurizer.setup()
    return featurize(featurizer, None, bundle)[0]  # type: ignore[arg-type]
