"""The GPU acceptance (gpu-smoke): on a machine without a GPU it says so in one line, exits 0
and records every cell skipped; its checks fail a CPU path passed off as a GPU one — no VRAM,
no bf16 autocast, convolutions not channels-last — and pass LightGBM's expected skip."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from treeline.acceptance import gpu_checks, replay_check
from treeline.cli import main
from treeline.config.runner_profile import get_runner
from treeline.execute.resolve import resolve
from treeline.execute.supervise import execute
from treeline.run import SuiteRun


def test_gpu_smoke_without_a_gpu_says_so_in_one_line_and_skips_every_cell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from treeline.record.store import Tracker

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU, whatever this machine has
    monkeypatch.setenv("TREELINE_RESULTS", str(tmp_path / "results"))
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    assert main(["run", "gpu-smoke", "--tracking-uri", uri]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["gpu-smoke: no CUDA GPU is visible on this machine: runner h100; 19 skipped"]
    results = Tracker("gpu-smoke", uri, create=False).results()
    assert len(results) == 19 and {r.status for r in results} == {"skipped"}
    assert all("needs a CUDA GPU" in r.error or "lightgbm" in r.cell.id for r in results)


SUITE = """\
name: posing
description: CPU cells that the GPU acceptance must not take for GPU cells
budget: 3
max_trials: 1
seeds: [0]
datasets:
  - name: digits
    n: [300]
    contenders: [cnn]
  - name: adult
    n: [300]
    contenders: [xgboost]
contenders: [cnn, xgboost]
runners: [cpu]
"""


def test_the_checks_fail_a_cpu_path_passed_off_as_a_gpu_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TREELINE_RESULTS", str(tmp_path / "results"))
    suite = tmp_path / "posing.yaml"
    suite.write_text(SUITE)
    from treeline.config.options import RunOptions

    plan = resolve(suite, RunOptions(tracking_uri=f"sqlite:///{tmp_path / 'm.db'}"))
    cnn, xgb = SuiteRun(plan).run()
    assert cnn.status == xgb.status == "ok"
    # What the CPU network really trained with, read off torch: no autocast, NCHW convolutions.
    assert cnn.measurements.bf16_autocast == 0 and cnn.measurements.channels_last == 0

    h100 = get_runner("h100")
    posing = [dataclasses.replace(r, cell=r.cell.on("h100", h100)) for r in (cnn, xgb)]
    lightgbm = dataclasses.replace(xgb.cell.contender, name="lightgbm", label="lightgbm")
    lgb_cell = dataclasses.replace(xgb.cell, contender=lightgbm).on("h100", h100)
    skipped = execute(lgb_cell, h100, tmp_path / "lgb.log")  # no CUDA build: never started

    by_cell = {c.line.split(":")[0]: c for c in gpu_checks([*posing, skipped])}
    bad_cnn = by_cell["digits/n=300/cnn/h100/s0"]
    assert not bad_cnn.ok
    assert "peak VRAM not measured (0.0)" in bad_cnn.line
    assert "trained without bf16 autocast" in bad_cnn.line
    assert "convolutions not channels-last" in bad_cnn.line
    assert not by_cell["adult/n=300/xgboost/h100/s0"].ok  # no VRAM either
    lgb = by_cell["adult/n=300/lightgbm/h100/s0"]
    assert lgb.ok and "skipped, as it should be" in lgb.line and "no CUDA support" in lgb.line

    replay = replay_check([cnn, xgb], {"h100": h100})
    assert not replay.ok and "no CUDA tree cell ran ok" in replay.line
