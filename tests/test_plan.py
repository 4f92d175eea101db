"""`treeline plan`: what a suite will cost per runner before it runs, read against what the store
has recorded, and the cells that cannot train in their budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from treeline.cli import main
from treeline.config.runner_profile import usable_cores

SUITE = """\
name: costed
description: one table, one image set with a cached featurizer
budget: 2
seeds: [0]
max_trials: 1
datasets:
  - name: adult
    n: [300]
  - name: digits
    n: [300]
contenders: [xgboost, xgboost+pixels, mlp+pixels]
runners: [cpu]
"""


def test_plan_prices_each_runner_and_warns_before_the_bill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TREELINE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TREELINE_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("COLUMNS", "200")
    suite = tmp_path / "costed.yaml"
    suite.write_text(SUITE)
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    plan = ["plan", str(suite), "--tracking-uri", uri, "--runner", "cpu", "--runner", "t4"]

    assert main(plan) == 0  # nothing recorded yet: a stated guess, no warnings
    out = capsys.readouterr().out
    assert "guess" in out and "warning" not in out

    assert main(["run", str(suite), "--tracking-uri", uri]) == 0
    capsys.readouterr()
    # The cached pixel features, as if measured on a machine 10,000 times slower.
    (meta,) = (tmp_path / "cache").glob("digits/*/features/pixels-v*/meta.json")
    data = json.loads(meta.read_text())
    for cost in data["costs"].values():
        cost.update(wall=cost["wall"] * 10_000 + 10, cpu=cost["cpu"] * 10_000 + 10)
    meta.write_text(json.dumps(data))

    assert main(plan) == 0
    out = capsys.readouterr().out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 5}
    assert "recorded" in rows["cpu"] and "recorded on other devices" in rows["t4"]
    assert "$" in rows["t4"] and rows["cpu"].split("│")[2].strip() == "3"
    # A one-trial cap leaves every recorded cell untuned: said before it is run again.
    assert "adult/n=300/xgboost/cpu/s0: its last run at 2 s: untuned: 1 complete trial" in out
    assert "digits/n=300/xgboost+pixels/t4/s0: featurizing 300 rows with pixels costs" in out
    # Pixels compute on the CPU: the T4 runner's 4 threads have not timed them yet, said so.
    assert f"(measured on cpu×{usable_cores()}; cpu×4 is timed by its first cell)" in out
    assert "one epoch over" not in out

    # A budget a thousandth of a second long: the MLP's recorded throughput cannot fit an epoch.
    assert main([*plan, "--budget-scale", "0.0005"]) == 0
    out = capsys.readouterr().out
    assert "digits/n=300/mlp+pixels/cpu/s0: one epoch over its ~240 training rows takes" in out
    assert "no complete epoch" in out and "t4/s0: one epoch" not in out  # recorded on cpu only


def test_plan_warns_of_a_network_past_its_gpu_s_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Peak VRAM as a T4 cell would have recorded it (no GPU here: the recorded CPU cell is
    relabelled), scaled to a cell with more rows, against the T4's 16 GiB."""
    import dataclasses

    from treeline.config.options import RunOptions
    from treeline.config.runner_profile import get_runner
    from treeline.execute.estimate import estimate
    from treeline.execute.resolve import resolve
    from treeline.record.store import Tracker

    monkeypatch.setenv("TREELINE_RESULTS", str(tmp_path / "results"))
    suite = tmp_path / "costed.yaml"
    one = SUITE.replace("  - name: adult\n    n: [300]\n", "")
    suite.write_text(one.replace("[xgboost, xgboost+pixels, mlp+pixels]", "[mlp+pixels]"))
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    assert main(["run", str(suite), "--tracking-uri", uri]) == 0
    (recorded,) = Tracker("costed", uri, create=False).results()
    t4 = get_runner("t4")
    on_t4 = dataclasses.replace(
        recorded,
        cell=recorded.cell.on("t4", t4),
        measurements=dataclasses.replace(recorded.measurements, peak_vram_mb=6_000.0),
    )
    plan = resolve(suite, RunOptions(runners=["t4"], tracking_uri=uri))
    bigger = [dataclasses.replace(c, n=c.n * 3) for c in plan.cells]  # 18,000 MiB at 3× rows
    (e,) = estimate(bigger, [on_t4], {"t4": t4.gpu_memory_gib})
    assert (
        "needs ~17.6 GiB of GPU memory (6,000 MiB recorded at n=300 on t4, scaled to its rows), "
        "more than the 16 GiB of its T4"
    ) in e.warnings
    (same,) = estimate(plan.cells, [on_t4], {"t4": t4.gpu_memory_gib})
    assert not any("GPU memory" in w for w in same.warnings)
