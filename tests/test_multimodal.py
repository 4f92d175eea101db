"""Text with a table: dslabs' Trump tweets read from R's lazy-load database without R, the 2016
election tweets with their metadata, featurizers that join the text's features with the table's
columns, and CatBoost's native text features."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from treeline.cli import main
from treeline.contenders import load
from treeline.contenders.base import FitContext
from treeline.data import get_dataset
from treeline.data.inputs import Multimodal, Table
from treeline.data.sources import DataUnavailable
from treeline.execute.budget import BudgetClock
from treeline.featurize import featurizer_class
from treeline.featurize.apply import featurize


def _trump():
    ds = get_dataset("trump-tweets")
    try:
        ds.prepare()
    except DataUnavailable as exc:  # no installed r-cran-dslabs and no apt-get download here
        pytest.skip(str(exc))
    return ds


def test_trump_tweets_come_out_of_rs_lazy_load_database() -> None:
    ds = _trump()
    assert ds.classes() == (
        "Twitter for Android", "Twitter for iPhone", "Twitter Web Client", "other",
    )  # fmt: skip
    test = ds.test()
    assert len(test) == 4_152 and isinstance(test.X, Multimodal)
    text, table = test.X.parts["text"], test.X.parts["table"]
    assert len(text.strings) == len(table) == 4_152
    frame = table.frame
    assert set(frame.columns) >= {"year", "hour", "retweet_count", "is_retweet", "is_reply"}
    assert frame["year"].between(2009, 2018).all() and frame["hour"].between(0, 24).all()
    # Robinson's finding: the Android tweets are a large share, the web client's the older ones.
    assert np.bincount(test.y, minlength=4)[0] > 0.15 * len(test)


def _cell_data(name: str, n: int):
    return get_dataset(name).bundle(n, 0)


def test_a_featurizer_joins_the_texts_features_with_the_table() -> None:
    bundle = _cell_data("election-tweets-meta", 600)
    featurizer = featurizer_class("tfidf")()
    featurizer.setup()
    out, _ = featurize(featurizer, None, bundle)  # type: ignore[arg-type]
    X = out.train.X
    table_cols = bundle.train.X.parts["table"].numeric
    assert isinstance(X, Table) and X.is_sparse and X.numeric == table_cols
    matrix, names, _ = X.csr()
    assert matrix.shape == (len(bundle.train), len(X.sparse_names) + len(table_cols))
    assert names[-len(table_cols) :] == list(table_cols)
    np.testing.assert_allclose(
        matrix[:, -len(table_cols) :].toarray(),
        bundle.train.X.parts["table"].frame.to_numpy(dtype=np.float32),
    )
    data = out.fitdata()
    c = load("xgboost")
    ctx = FitContext("cpu", 1, 0, BudgetClock(30), lambda step, value: None)
    model = c.fit(data, c.prepare(data, ctx), c.default_params(data), ctx)
    accuracy = (c.predict(model, out.test.X, data).argmax(1) == out.test.y).mean()
    assert accuracy > 0.8, accuracy


@pytest.mark.parametrize("name", ["election-tweets", "election-tweets-meta"])
def test_catboost_takes_text_as_its_native_text_feature(name: str) -> None:
    bundle = _cell_data(name, 400)
    bundle = replace(bundle, test=bundle.test.take(np.arange(400)))
    data = bundle.fitdata()
    c = load("catboost")
    ctx = FitContext("cpu", 1, 0, BudgetClock(4), lambda step, value: None)  # it learns early
    params = c.default_params(data)
    model = c.fit(data, c.prepare(data, ctx), params, ctx)
    accuracy = (c.predict(model, bundle.test.X, data).argmax(1) == bundle.test.y).mean()
    assert accuracy > 0.75, accuracy


SUITE = """\
name: mm
description: multimodal contenders
budget: 5
seeds: [0]
datasets:
  - name: election-tweets-meta
    n: [500]
contenders: [{contenders}]
"""


def test_what_takes_text_with_a_table_and_what_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "mm.yaml"
    ok = "xgboost+tfidf, lightgbm+minilm-embed, catboost, minilm-head"
    suite.write_text(SUITE.format(contenders=ok))
    assert main(["validate", str(suite)]) == 0
    suite.write_text(SUITE.format(contenders=ok + ", embedding-bag, xgboost"))
    assert main(["validate", str(suite)]) == 2
    err = capsys.readouterr().err
    assert "contender 'embedding-bag' cannot handle the text + table dataset" in err
    assert "xgboost+tfidf" in err  # the hint: what would take it


def test_late_fusion_learns_from_the_text_and_the_table() -> None:
    bundle = _cell_data("election-tweets-meta", 600)
    data = bundle.fitdata()
    c = load("fusion")
    ctx = FitContext("cpu", 1, 0, BudgetClock(120), lambda step, value: None)
    model = c.fit(data, c.prepare(data, ctx), {**c.default_params(data), "max_epochs": 8}, ctx)
    accuracy = (c.predict(model, bundle.test.X, data).argmax(1) == bundle.test.y).mean()
    assert accuracy > 0.8, accuracy
