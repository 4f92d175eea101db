"""Sequences and audio end to end through `treeline run`: trees on features and the networks on a
ragged multichannel UCR set and on synthesized speech, into MLflow and the report."""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient
from modal_data import modal_bundle, need_espeak

from treeline.cli import main
from treeline.contenders import load
from treeline.contenders.base import FitContext
from treeline.execute.budget import BudgetClock

SUITE = """\
name: seqaudio
description: sequences and audio, end to end
budget: 3
seeds: [0]
datasets:
  - name: ucr/JapaneseVowels
    n: [max]
  - name: spoken-digits
    options: {rows: 150, test_rows: 50}
    n: [150]
    budget: 4
contenders: [lightgbm+catch22, lightgbm+minirocket, cnn1d, gru, xgboost+mfcc, audio-cnn]
"""


def test_sequence_and_audio_cells_run_into_mlflow_and_the_report(tmp_path: Path) -> None:
    need_espeak()
    suite = tmp_path / "seqaudio.yaml"
    suite.write_text(SUITE)
    uri = f"sqlite:///{tmp_path}/m.db"
    assert main(["run", str(suite), "--tracking-uri", uri]) == 0
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("seqaudio").experiment_id])
    # A dataset with options is labelled with their digest: spoken-digits-<digest>.
    by_name = {r.info.run_name[r.info.run_name.index("/n=") :]: r for r in runs}
    assert sorted(by_name) == sorted(
        [f"/n=270/{c}/cpu/s0" for c in ("lightgbm+catch22", "lightgbm+minirocket", "cnn1d", "gru")]
        + [f"/n=150/{c}/cpu/s0" for c in ("xgboost+mfcc", "audio-cnn")]
    )
    for name, r in by_name.items():
        m, tags = r.data.metrics, r.data.tags
        assert tags["treeline.status"] == "ok", (name, tags.get("treeline.error"))
        assert tags["treeline.modality"] == ("audio" if "n=150" in name else "sequence")
        # Nine speakers / ten words: chance is 0.11 / 0.1. Every contender but the audio CNN
        # learns something in 3-4 s; the CNN gets two or three epochs in 4 s (its own test below
        # gives it a fixed ten), so here it must only have trained and been scored on test.
        assert m["n_trials"] >= 1 and m["test_accuracy"] == m["test_score"], (name, m)
        if "audio-cnn" not in name:
            assert m["test_accuracy"] > 0.3, (name, m["test_accuracy"])
        if "+" in name:
            assert m["featurize_seconds"] > 0
    out = tmp_path / "report"
    assert main(["report", str(suite), "--tracking-uri", uri, "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "sequence" in text and "audio" in text and "audio-cnn" in text


def test_the_audio_cnn_tells_the_words_apart_after_ten_epochs() -> None:
    """200 clips, ten epochs of the default configuration: well above chance (0.1). Averaging the
    spectrogram over frequency, or letting padded silence set the input's scale, left it at 0.1."""
    bundle = modal_bundle("audio")
    data = bundle.fitdata()
    c = load("audio-cnn")
    c.import_libraries()
    ctx = FitContext("cpu", 1, 0, BudgetClock(300), lambda step, value: None)
    model = c.fit(data, c.prepare(data, ctx), {**c.default_params(data), "max_epochs": 10}, ctx)
    accuracy = (c.predict(model, bundle.test.X, data).argmax(1) == bundle.test.y).mean()
    assert accuracy > 0.4, accuracy
