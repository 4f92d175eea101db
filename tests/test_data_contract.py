"""The data contract: typed inputs by modality, views without copies, nested subsamples and a
test split no contender can reach."""

from __future__ import annotations

import gc
import types
from pathlib import Path

import numpy as np
import pytest
from modal_data import TEST_OPTIONS, contender_bundle

from treeline.contenders import contender_names, load
from treeline.contenders.base import FitContext
from treeline.data import get_dataset
from treeline.data.inputs import Audio, Images, Multimodal, Sequences, Table, Text
from treeline.execute.budget import BudgetClock


def _roundtrip(x, tmp_path: Path):
    meta = x.save(tmp_path, "part")
    return type(x).load(tmp_path, "part", meta)


def test_images_take_is_a_view_and_loads_back_memory_mapped(tmp_path: Path) -> None:
    pixels = np.arange(5 * 1 * 2 * 3, dtype=np.uint8).reshape(5, 1, 2, 3)
    images = Images(pixels)
    sub = images.take(np.array([4, 1, 3])).take(np.array([2, 0]))
    assert sub.base is pixels  # no copy at take time: an index over the same storage
    np.testing.assert_array_equal(sub.pixels, pixels[[3, 4]])
    back = _roundtrip(sub, tmp_path)
    assert isinstance(back.base, np.memmap) and back.shape == (1, 2, 3)
    np.testing.assert_array_equal(back.pixels, pixels[[3, 4]])
    with pytest.raises(ValueError, match="uint8"):
        Images(pixels.astype(np.float32))
    with pytest.raises(IndexError):
        images.take(np.array([5]))


def test_sequences_dense_and_ragged(tmp_path: Path) -> None:
    dense = Sequences.from_array(np.random.default_rng(0).normal(size=(4, 2, 7)).astype("f4"))
    sub = dense.take(np.array([3, 0]))
    assert list(sub.lengths) == [7, 7]
    np.testing.assert_array_equal(_roundtrip(sub, tmp_path).dense.values, sub.dense.values)
    rows = [np.arange(n, dtype=np.float32) for n in (3, 1, 4)]
    ragged = Sequences.from_rows(rows).take(np.array([2, 0]))
    assert list(ragged.lengths) == [4, 3]
    back = _roundtrip(ragged, tmp_path)
    assert list(back.lengths) == [4, 3]
    np.testing.assert_array_equal(back.ragged.row(0)[:, 0], rows[2])


def test_audio_text_and_multimodal(tmp_path: Path) -> None:
    clips = [np.full(n, n, dtype=np.float32) for n in (100, 50, 75)]
    audio = Audio.from_clips(clips, 8000).take(np.array([1, 2]))
    back = _roundtrip(audio, tmp_path)
    assert back.sample_rate == 8000 and list(back.lengths) == [50, 75]
    np.testing.assert_array_equal(back.clip(1), clips[2])
    text = Text(np.array(["a", "bb", "ccc"], dtype=object))
    assert _roundtrip(text.take(np.array([2, 0])), tmp_path).strings == ["ccc", "a"]
    import pandas as pd

    table = Table(pd.DataFrame({"x": [1.0, 2.0, 3.0]}, dtype="float32"), ("x",), ())
    both = Multimodal({"text": text, "table": table}).take(np.array([1]))
    back = _roundtrip(both, tmp_path)
    assert back.parts["text"].strings == ["bb"] and back.parts["table"].frame["x"].tolist() == [2]
    with pytest.raises(ValueError, match="differ in rows"):
        Multimodal({"text": text, "table": table.take(np.array([0]))})


def test_image_subsamples_are_nested_and_the_test_set_fixed() -> None:
    d = get_dataset("digits")
    small, big = d.labelled(300, 0), d.labelled(700, 0)
    np.testing.assert_array_equal(small.X.pixels, big.X.pixels[:300])
    np.testing.assert_array_equal(small.y, big.y[:300])
    a, b = d.bundle(300, 0), d.bundle(700, 2)
    assert a.modality == "image" and a.test.X.shape == (1, 8, 8)
    np.testing.assert_array_equal(a.test.X.pixels, b.test.X.pixels)
    assert len(a.test) == 359 and (len(a.train), len(a.val)) == (240, 60)
    assert np.bincount(a.train.y, minlength=10).min() >= 20  # stratified: every class there


def _reachable(*roots: object) -> dict[int, object]:
    """Every object reachable from `roots` through references, except code and modules (a class
    leads to its module's globals and from there to everything in the process)."""
    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.CodeType)
    seen: dict[int, object] = {}
    stack = list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen[id(obj)] = obj
        stack.extend(gc.get_referents(obj))
    return seen


def _leads_to_test(seen: dict[int, object], test_arrays: list[np.ndarray]) -> list[str]:
    hits = []
    for obj in seen.values():
        if isinstance(obj, np.ndarray) and any(np.shares_memory(obj, t) for t in test_arrays):
            hits.append(f"{type(obj).__name__} {obj.shape}")
    return hits


def _test_arrays(bundle) -> list[np.ndarray]:
    return [bundle.test.y, *_input_arrays(bundle.test.X)]


def _input_arrays(X) -> list[np.ndarray]:
    arrays: list[np.ndarray] = []
    if isinstance(X, Multimodal):
        for part in X.parts.values():
            arrays += _input_arrays(part)
    elif isinstance(X, Table):
        arrays += [
            np.asarray(X.frame[c].cat.codes if c in X.categorical else X.frame[c])
            for c in X.numeric + X.categorical
        ]
        if X.is_sparse:
            arrays.append(X.sparse.data)
    elif isinstance(X, Sequences):
        arrays.append(np.asarray(X.dense.base if X.dense is not None else X.ragged.flat))
    elif isinstance(X, Audio):
        arrays.append(np.asarray(X.waves.flat))
    else:
        arrays.append(np.asarray(X.base))
    return arrays


@pytest.mark.parametrize("name", sorted(contender_names()))
def test_no_object_a_contender_receives_leads_to_the_test_split(name: str) -> None:
    """FitData, the context, the prepared inputs and a fitted model: none references a test row.
    Fails if FitData carried the bundle, the dataset or the test split."""
    c = load(name, TEST_OPTIONS.get(name))
    modality = c.modalities[0]
    bundle = (
        get_dataset("adult").bundle(400, 0) if modality == "tabular" else contender_bundle(name)
    )
    data = bundle.fitdata()
    ctx = FitContext("cpu", 1, 0, BudgetClock(60), lambda step, value: None)
    prepared = c.prepare(data, ctx)
    params = {**c.default_params(data), **({"max_epochs": 1} if c.family == "deep" else {})}
    model = c.fit(data, prepared, params, ctx)
    seen = _reachable(data, ctx, prepared, model, c)
    assert id(bundle.test.X) not in seen and id(bundle) not in seen
    assert _leads_to_test(seen, _test_arrays(bundle)) == []
    # The check can fail: the bundle itself leads to the test split.
    assert _leads_to_test(_reachable(bundle), _test_arrays(bundle))


def test_featurized_images_keep_the_test_split_out_of_reach() -> None:
    from treeline.featurize.apply import featurize
    from treeline.featurize.pixels import Pixels

    d = get_dataset("digits")
    bundle, cost = featurize(Pixels(), d, d.bundle(300, 0))
    assert isinstance(bundle.train.X, Table) and len(bundle.train.X.features) == 64
    assert cost.cached and cost.fit_seconds > 0 and cost.test_seconds > 0
    seen = _reachable(bundle.fitdata())
    assert _leads_to_test(seen, _test_arrays(bundle)) == []
