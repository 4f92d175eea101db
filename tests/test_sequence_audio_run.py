"""Sequences and audio end to end through `treeline run`: trees on features and the networks on a
ragged multichannel UCR set and on synthesized speech, into MLflow and the report."""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient
from modal_data import need_espeak

from treeline.cli import main

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
        # learns something in 3-4 s; it stays near chance that briefly (issue 15's open point).
        assert 0 <= m["test_accuracy"] <= 1
        if "audio-cnn" not in name:
            assert m["test_accuracy"] > 0.3, (name, m["test_accuracy"])
        if "+" in name:
            assert m["featurize_seconds"] > 0
    out = tmp_path / "report"
    assert main(["report", str(suite), "--tracking-uri", uri, "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "sequence" in text and "audio" in text and "audio-cnn" in text
