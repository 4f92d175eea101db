"""Pretrained featurizers by device and precision: MiniLM's int8 CPU path and `max_length`,
length-sorted batches, features cached per variant, and their cost kept per kind of device so a
cell is charged what its own runner pays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from treeline.cli import main
from treeline.data import DatasetRef
from treeline.featurize import featurizer_class
from treeline.featurize.apply import SAMPLE, Where, cache_folder, featurize


def _tweets(n: int) -> list[str]:
    pool = DatasetRef("election-tweets", "election-tweets", {}).build().pool()
    return list(pool.X.strings[:n])


def test_int8_minilm_stays_close_to_fp32_and_is_cached_apart() -> None:
    from treeline.data.inputs import Text

    texts = _tweets(120)
    fp32 = featurizer_class("minilm-embed")()
    int8 = featurizer_class("minilm-embed")({"precision": "int8"})
    short = featurizer_class("minilm-embed")({"max_length": 16})
    assert (fp32.variant, int8.variant, short.variant) == ("", "int8", "len16")
    out = {}
    for f in (fp32, int8, short):
        f.setup()
        out[f.variant] = f.transform(Text(np.array(texts, dtype=object))).frame.to_numpy()
    cosine = (out[""] * out["int8"]).sum(axis=1)
    assert cosine.mean() > 0.95 and cosine.min() > 0.8, (cosine.mean(), cosine.min())
    assert not np.allclose(out[""], out["len16"], atol=1e-3)  # 16 word pieces cut the tweets


def test_length_sorted_batches_give_each_text_its_own_embedding() -> None:
    from treeline.featurize.minilm_embed import encode

    f = featurizer_class("minilm-embed")()
    f.setup()
    texts = ["a short one", "a much longer text " * 20, "mid length text about taxes", "x"]
    one_by_one = np.stack([encode(f.model, [t], 1)[0] for t in texts])
    np.testing.assert_allclose(encode(f.model, texts, 2), one_by_one, atol=1e-5)


def test_each_kind_of_device_is_charged_its_own_measured_cost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path))
    dataset = DatasetRef("digits", "digits", {}).build()
    bundle = dataset.bundle(300, 0)
    pixels = featurizer_class("pixels")()
    _, built = featurize(pixels, dataset, bundle, Where("cpu", threads=2))
    meta_file = cache_folder(pixels, dataset) / "meta.json"
    costs = json.loads(meta_file.read_text())["costs"]
    assert list(costs) == ["cpu×2"] and costs["cpu×2"]["how"] == "the full pass"

    _, other = featurize(pixels, dataset, bundle, Where("cpu", threads=1, clock="cpu"))
    costs = json.loads(meta_file.read_text())["costs"]
    assert list(costs) == ["cpu×2", "cpu×1"]
    assert costs["cpu×1"]["rows"] == min(SAMPLE, len(dataset.pool()))
    assert costs["cpu×1"]["how"].startswith("a sample of")
    n_fit = len(bundle.train) + len(bundle.val)
    per_row = costs["cpu×1"]["cpu"] / costs["cpu×1"]["rows"]  # its CPU clock's seconds
    assert other.fit_seconds == pytest.approx(per_row * n_fit)
    assert built.cached and other.cached


SUITE = """\
name: precisions
description: the featurizer's precision against the runner's device
budget: 5
seeds: [0]
max_trials: 1
datasets:
  - name: election-tweets
    n: [300]
contenders:
  - name: minilm-head
    label: minilm-head-fp16
    featurize: {precision: fp16}
runners: [cpu]
"""


def test_a_precision_the_runner_s_device_lacks_skips_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TREELINE_RESULTS", str(tmp_path / "results"))
    suite = tmp_path / "precisions.yaml"
    suite.write_text(SUITE)
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    assert main(["run", str(suite), "--tracking-uri", uri, "--allow-skipped"]) == 0
    out = capsys.readouterr().out
    assert "skipped election-tweets/n=300/minilm-head-fp16/cpu/s0" in out, out
    assert "featurizer 'minilm-embed': precision fp16 is for CUDA" in out, out


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{name: minilm-head, featurize: {precision: int4}}", "'fp32', 'fp16' or 'int8'"),
        ("{name: minilm-head, featurize: {max_lenght: 64}}", "did you mean 'max_length'?"),
        ("{name: minilm-head, featurize: {max_length: 4}}", "greater than or equal to 8"),
        ("{name: xgboost, featurize: {precision: int8}}", "'xgboost' takes no featurizer"),
        ("{name: minilm-head, featurize: int8}", "featurize"),
    ],
)  # fmt: skip
def test_featurize_options_are_checked_where_they_are_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: str, message: str
) -> None:
    suite = tmp_path / "opts.yaml"
    own = "  - name: minilm-head\n    label: minilm-head-fp16\n    featurize: {precision: fp16}\n"
    text = SUITE.replace(own, f"  - {entry}\n")
    suite.write_text(text)
    assert main(["validate", str(suite)]) == 2
    err = capsys.readouterr().err
    assert "opts.yaml:10" in err and message in err, err
