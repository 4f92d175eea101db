"""Bring your own recordings: a folder of class folders of WAV/FLAC/OGG files, or a table's
column of clip paths, decoded to mono at the declared rate before any cell. A corpus of bad
inputs, each refused at the suite's line with what is wrong, and of odd ones, each handled and
stated in the data notes."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.refusals import Case, assert_refused, corpus
from treeline.cli import main

SUITE = """\
name: mine
description: my recordings
budget: 3
max_trials: 1
seeds: [0]
datasets:
  - audio: {audio}{extra}
    n: [12]
contenders: {contenders}
"""


def _clip(
    path: Path,
    pitch: float,
    seconds: float = 0.3,
    rate: int = 8_000,
    channels: int = 1,
    fmt: str | None = None,
) -> None:
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.5 * np.sin(2 * np.pi * pitch * t).astype(np.float32)
    samples = np.stack([wave] * channels, axis=1) if channels > 1 else wave
    soundfile.write(path, samples, rate, format=fmt)


def make_folder(root: Path, classes: int = 3, per_class: int = 6) -> Path:
    for c in range(classes):
        for k in range(per_class):
            _clip(root / f"word-{c}" / f"{k}.wav", 200 + 150 * c + 7 * k)
    return root


def _suite(tmp_path: Path, audio: str, extra: str = "", contenders: str = "[xgboost+mfcc]") -> Path:
    suite = tmp_path / "mine.yaml"
    suite.write_text(SUITE.format(audio=audio, extra=extra, contenders=contenders))
    return suite


def _nan_clip(path: Path) -> None:
    import soundfile

    soundfile.write(path, np.full(800, np.nan, dtype=np.float32), 8_000, subtype="FLOAT")


# (what is wrong, how to make it from a good folder, the suite's extra keys, the message)
REFUSED: list[Case] = [
    ("no such folder", lambda r: r.rename(r.with_name("gone")), "", "folder not found"),
    ("one class", lambda r: [(r / f"word-{c}").rename(r.parent / f"{c}") for c in (1, 2)], "",
     "needs at least 2 class folders of clips (found 1 ('word-0'))"),
    ("clips outside class folders", lambda r: _clip(r / "loose.wav", 440), "",
     "1 clips lie directly in"),
    ("a class of 2 clips", lambda r: [(r / "word-1" / f"{k}.wav").unlink() for k in range(4)],
     "", "fewer than 3 clips (one each for train, validation and test): 'word-1' (2)"),
    ("an empty clip", lambda r: _clip(r / "word-0" / "0.wav", 300, seconds=0), "",
     "word-0/0.wav (no samples: an empty clip)"),
    ("a text file named .wav", lambda r: (r / "word-2" / "x.wav").write_text("hello"), "",
     "1 of 19 clips under"),
    ("samples that are not numbers", lambda r: _nan_clip(r / "word-1" / "0.wav"), "",
     "word-1/0.wav (samples that are not finite numbers)"),
    ("regression on classes", lambda r: None, "\n    task: regression", "no regression"),
    ("a rate too low", lambda r: None, "\n    rate: 500", "greater than or equal to 1000"),
    ("a size for audio", lambda r: None, "\n    size: 64", "'size' belongs to 'images'"),
    ("a target for a folder", lambda r: None, "\n    target: word",
     "takes no 'target' or 'sep'"),
]  # fmt: skip


@corpus(REFUSED)
def test_a_bad_recordings_folder_is_refused_at_its_line_before_any_cell(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], object],
    extra: str,
    message: str,
) -> None:
    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    root = make_folder(tmp_path / "calls")
    make(root)
    assert_refused(capsys, _suite(tmp_path, str(root), extra), message)


def test_odd_recordings_are_handled_and_said_in_the_data_notes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from treeline.data.audio.clips import AudioFolder

    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    root = make_folder(tmp_path / "calls")
    _clip(root / "word-0" / "stereo.wav", 330, channels=2)
    _clip(root / "word-1" / "cd.wav", 330, rate=44_100)
    _clip(root / "word-2" / "long.flac", 500, seconds=1.2)
    _clip(root / "word-2" / "voice.ogg", 520, rate=16_000, fmt="OGG")
    (root / "word-1" / "notes.txt").write_text("recorded on my phone")
    dataset, problems = AudioFolder.check(root, 8_000, "calls")
    assert problems == [] and dataset is not None
    notes = " | ".join(dataset.notes())
    assert "1 files that are not clips left out (word-1/notes.txt)" in notes
    assert "2 clips resampled to 8,000 Hz from 44,100 Hz (1), 16,000 Hz (1)" in notes
    assert "1 clips not mono (1 of 2 channels): averaged to mono" in notes
    assert re.search(r"clips of 0\.30-1\.20 s \(median 0\.30 s\): each kept at its own", notes)
    pool, test = dataset.pool(), dataset.test()
    assert pool.X.sample_rate == 8_000 and len(pool) + len(test) == 22
    assert dataset.task == "multiclass"


def test_recordings_run_through_the_audio_network_and_mfcc_trees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from treeline.record.store import Tracker

    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TREELINE_RESULTS", str(tmp_path / "results"))
    make_folder(tmp_path / "calls", classes=2, per_class=10)
    suite = _suite(tmp_path, "calls", "\n    rate: 8000", "[audio-cnn, xgboost+mfcc]")
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    assert main(["run", str(suite), "--tracking-uri", uri]) == 0
    results = Tracker("mine", uri, create=False).results()
    assert {r.cell.id for r in results} == {
        "calls/n=12/audio-cnn/cpu/s0",
        "calls/n=12/xgboost+mfcc/cpu/s0",
    }
    assert all(r.status == "ok" and r.cell.task == "binary" for r in results)


FILE_SUITE = """\
name: mine
description: calls with their metadata
budget: 3
max_trials: 1
seeds: [0]
datasets:
  - file: calls.csv
    target: outcome
    task: binary
    audio: clip
    rate: 8000
    n: [16]
contenders: {contenders}
"""


def make_calls(root: Path, rows: int = 24) -> Path:
    import pandas as pd

    outcome = np.array(["sale", "none"])[np.arange(rows) % 2]
    for i in range(rows):
        _clip(root / "clips" / f"{i}.wav", 250 + 300 * (outcome[i] == "sale") + 5 * i)
    frame = pd.DataFrame({
        "clip": [f"clips/{i}.wav" for i in range(rows)],
        "outcome": outcome,
        "minutes": np.linspace(1, 9, rows).round(2),
    })  # fmt: skip
    path = root / "calls.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_column_of_clip_paths_beside_a_table_runs_through_mfcc_trees_and_fusion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from treeline.execute.resolve import resolve
    from treeline.record.store import Tracker

    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TREELINE_RESULTS", str(tmp_path / "results"))
    make_calls(tmp_path)
    suite = tmp_path / "mine.yaml"
    suite.write_text(FILE_SUITE.format(contenders="[catboost]"))
    assert main(["validate", str(suite)]) == 2
    assert "contender 'catboost' cannot handle the audio + table dataset" in capsys.readouterr().err
    suite.write_text(FILE_SUITE.format(contenders="[lightgbm+mfcc, fusion]"))
    (ds,) = resolve(suite).suite.datasets
    assert ds.kind == "audio + table"
    pool = ds.ref.build().pool()
    assert set(pool.X.parts) == {"audio", "table"} and pool.X.parts["audio"].sample_rate == 8_000
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    assert main(["run", str(suite), "--tracking-uri", uri]) == 0
    results = Tracker("mine", uri, create=False).results()
    assert {r.cell.contender.label for r in results} == {"lightgbm+mfcc", "fusion"}
    assert all(r.status == "ok" for r in results), [r.error for r in results]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: (p.parent / "clips" / "4.wav").unlink(),
         "1 of 24 clips named in column 'clip' of calls.csv are not found under"),
        (lambda p: p.write_text(p.read_text().replace("clips/2.wav", "../../x.wav")),
         "1 paths in column 'clip' of calls.csv lead outside"),
        (lambda p: (p.parent / "clips" / "3.wav").write_bytes(b"RIFF"),
         "clips/3.wav (LibsndfileError"),
    ],
    ids=["a missing clip", "a clip outside the folder", "a corrupt clip"],
)  # fmt: skip
def test_a_bad_column_of_clip_paths_is_refused_before_any_cell(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    edit: Callable[[Path], object],
    message: str,
) -> None:
    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    edit(make_calls(tmp_path))
    suite = tmp_path / "mine.yaml"
    suite.write_text(FILE_SUITE.format(contenders="[lightgbm+mfcc]"))
    assert main(["validate", str(suite)]) == 2
    err = capsys.readouterr().err
    assert re.search(r"mine\.yaml:\d+: datasets\[0\]\.audio", err) and message in err, err
