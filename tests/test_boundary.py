"""The boundary analysis on constructed results with a known answer."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from treeline.analysis.boundary import (
    along_budget,
    compare,
    crossover,
    gaps_along_n,
    paired_bootstrap,
    pareto_front,
    score_at_fraction,
)

SIZES = [1000, 3000, 8000, 20000, 60000]
FAMILY = {"xgboost": "tree", "catboost": "tree", "mlp": "deep", "tabm": "deep"}


def results(tree_curve, deep_curve, seeds=range(5), noise=0.0005, sizes=SIZES) -> pd.DataFrame:
    """Scores as functions of log10 n per family; the second contender of a family is worse."""
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        x = math.log10(n)
        for seed in seeds:
            for contender, family in FAMILY.items():
                base = tree_curve(x) if family == "tree" else deep_curve(x)
                worse = 0.01 if contender in ("catboost", "tabm") else 0.0
                rows.append(
                    {
                        "cell_id": f"d/n={n}/{contender}/cpu/s{seed}",
                        "dataset": "d",
                        "runner": "cpu",
                        "contender": contender,
                        "family": family,
                        "n": n,
                        "seed": seed,
                        "status": "ok",
                        "budget": 10.0,
                        "task": "binary",
                        "test_score": base - worse + rng.normal(0, noise),
                        "cost_usd": 0.001 * (2 if family == "deep" else 1),
                        "anytime": [(1.0, base - 0.05), (9.0, base)]
                        if family == "tree"
                        else [(6.0, base - 0.02), (9.5, base)],
                    }
                )
    return pd.DataFrame(rows)


def test_recovers_a_known_crossover() -> None:
    # tree 0.80 + 0.01 x, deep 0.70 + 0.035 x: equal at x = 4, i.e. n* = 10,000.
    frame = results(lambda x: 0.80 + 0.01 * x, lambda x: 0.70 + 0.035 * x)
    (cmp,) = compare(frame)
    assert cmp.crossover.verdict == "crossover" and not cmp.crossover.indicative
    assert cmp.crossover.n_star == pytest.approx(10_000, rel=0.1)
    assert [g.tree for g in cmp.gaps] == ["xgboost"] * 5  # the family best, not the worse one
    assert [g.deep for g in cmp.gaps] == ["mlp"] * 5
    assert cmp.gaps[0].high < 0 and cmp.gaps[-1].low > 0


@pytest.mark.parametrize(
    ("tree", "deep", "verdict"),
    [
        (lambda x: 0.85, lambda x: 0.80, "trees ahead"),
        (lambda x: 0.80, lambda x: 0.85, "deep ahead"),
    ],
)
def test_recovers_no_crossover(tree, deep, verdict: str) -> None:
    (cmp,) = compare(results(tree, deep))
    assert cmp.crossover.verdict == verdict


def test_recovers_no_significant_difference() -> None:
    frame = results(lambda x: 0.80, lambda x: 0.80, noise=0.0)
    deep = frame["family"] == "deep"
    frame.loc[deep, "test_score"] += 0.002 * (-1.0) ** frame.loc[deep, "seed"]
    (cmp,) = compare(frame)
    assert cmp.crossover.verdict == "no significant difference"
    assert all(g.low < 0 < g.high for g in cmp.gaps)


def test_trees_overtaking_networks_as_n_grows_is_a_reverse_crossover() -> None:
    frame = results(lambda x: 0.80, lambda x: 0.80 + (0.05 if 3.5 < x < 4.5 else -0.05))
    cmp = compare(frame)[0].crossover
    assert cmp.verdict == "reverse crossover"
    assert 20_000 < cmp.n_star < 60_000  # the gap goes from +0.05 to −0.05 between them
    assert "trees ahead from n ≈" in cmp.text and "a reverse crossover" in cmp.text


def test_deep_ahead_in_the_middle_only_is_not_a_crossover() -> None:
    # Deep ahead at 8,000 and 20,000 only; a tie at 60,000 (seeds alternate around zero).
    frame = results(lambda x: 0.80, lambda x: 0.80 + (0.05 if 3.5 < x < 4.5 else -0.05))
    tie = (frame["family"] == "deep") & (frame["n"] == 60_000)
    frame.loc[tie, "test_score"] = 0.80 + 0.002 * (-1.0) ** frame.loc[tie, "seed"]
    frame.loc[tie & (frame["contender"] == "tabm"), "test_score"] -= 0.01
    cmp = compare(frame)[0].crossover
    assert cmp.verdict == "no crossover" and "only at n = 8,000, 20,000" in cmp.text


def test_partial_results_are_shown_and_seeds_are_paired() -> None:
    frame = results(lambda x: 0.80 + 0.01 * x, lambda x: 0.70 + 0.035 * x)
    drop = (frame["contender"] == "mlp") & (frame["seed"] == 4)
    frame.loc[drop & (frame["n"] == 1000), "status"] = "failed"
    frame = frame[~(drop & (frame["n"] == 3000))]  # a missing seed
    (cmp,) = compare(frame)
    assert "d/n=1000/mlp/cpu/s4: failed" in cmp.missing
    assert cmp.gaps[1].n_seeds == 4


def test_one_seed_gives_a_point_estimate_marked_indicative() -> None:
    frame = results(lambda x: 0.80 + 0.01 * x, lambda x: 0.70 + 0.035 * x, seeds=[0])
    (cmp,) = compare(frame)
    assert math.isnan(cmp.gaps[0].low) and cmp.crossover.indicative
    assert cmp.crossover.verdict == "crossover"


def test_paired_bootstrap_interval_covers_the_mean() -> None:
    mean, lo, hi = paired_bootstrap(
        {s: 0.8 for s in range(6)}, {s: 0.81 + 0.001 * s for s in range(6)}
    )
    assert lo < mean < hi and lo > 0


def test_budget_axis_reads_the_anytime_curves() -> None:
    assert score_at_fraction([(1.0, 0.7), (9.0, 0.8)], 10.0, 0.5) == 0.7
    assert math.isnan(score_at_fraction([(6.0, 0.7)], 10.0, 0.5))
    frame = results(lambda x: 0.80, lambda x: 0.85)
    by_fraction = along_budget(frame)
    assert set(by_fraction) == {0.125, 0.25, 0.5, 1.0}
    assert by_fraction[0.25][0].crossover.verdict == "no data"  # deep has no model yet
    assert by_fraction[1.0][0].crossover.verdict == "deep ahead"


def test_pareto_front() -> None:
    points = [(1.0, 0.80, "a"), (2.0, 0.85, "b"), (3.0, 0.84, "c"), (4.0, 0.86, "d")]
    assert [p[2] for p in pareto_front(points)] == ["a", "b", "d"]


def test_gaps_along_n_is_sorted_by_n() -> None:
    frame = results(lambda x: 0.8, lambda x: 0.8).sample(frac=1, random_state=0)
    assert [g.n for g in gaps_along_n(frame)] == SIZES
    assert crossover([]).verdict == "no data"


def test_report_writes_markdown_html_and_plots(tmp_path) -> None:
    from treeline.analysis.report import write_report

    frame = results(lambda x: 0.80 + 0.01 * x, lambda x: 0.70 + 0.035 * x)
    frame["modality"] = "tabular"
    for col in ("fit_seconds", "peak_rss_mb", "peak_vram_mb", "trials_per_second"):
        frame[col] = 1.0
    frame["price_per_hour"] = 0.1
    frame.loc[0, "status"] = "failed"
    md = write_report("demo", "a constructed suite", frame, tmp_path).read_text()
    assert "## Decision table" in md and "n* " not in md.split("## Decision table")[0]
    assert "deep: mlp" in md and "tree: xgboost" in md
    assert "d/n=1000/xgboost/cpu/s0: failed" in md  # partial results are shown
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == [
        "resources.png",
        "score-vs-budget-d-cpu.png",
        "score-vs-cost-d-cpu.png",
        "score-vs-n-d-cpu.png",
    ]
    page = (tmp_path / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 4 and "<table>" in page


def test_hardware_axis_speedup_and_cost_ratio() -> None:
    from treeline.analysis.boundary import hardware

    rows = []
    for runner, price, trials, score, cost in (
        ("cpu", 0.1, 2.0, 0.85, 0.001),
        ("t4", 0.526, 8.0, 0.86, 0.004),
    ):
        for seed in range(2):
            rows.append(
                {
                    "dataset": "d",
                    "n": 1000,
                    "contender": "xgboost",
                    "runner": runner,
                    "status": "ok",
                    "price_per_hour": price,
                    "trials_per_second": trials,
                    "test_score": score,
                    "cost_usd": cost,
                    "seed": seed,
                }
            )
    rows.append({**rows[0], "contender": "lightgbm"})  # one runner only: no comparison
    (cpu, t4) = sorted(hardware(pd.DataFrame(rows)), key=lambda r: r["runner"])
    assert cpu["speedup"] == 1.0 and cpu["baseline_runner"] == "cpu"
    assert t4["speedup"] == 4.0 and t4["cost_ratio"] == 4.0
    assert t4["score_delta"] == pytest.approx(0.01)
    assert t4["source"] == "equal budget: trials/s"


def _replays(rows: list[dict]) -> pd.DataFrame:
    from treeline.analysis.frame import REPLAY_COLUMNS

    base = {
        "cell_id": "d/n=1000/xgboost/t4/s0",
        "dataset": "d",
        "n": 1000,
        "contender": "xgboost",
        "status": "ok",
        "recorded_runner": "cpu",
        "runner": "t4",
        "recorded_device": "cpu",
        "device": "cuda",
        "recorded_test_score": 0.85,
        "test_score": 0.85,
        "difference": 0.0,
        "bit_equal": True,
        "exact_expected": False,
        "same_work": True,
        "recorded_fit_seconds": 10.0,
        "fit_seconds": 2.0,
        "speedup": 5.0,
        "recorded_cost_usd": 0.001,
        "cost_usd": 0.0005,
    }
    return pd.DataFrame([{**base, **r} for r in rows], columns=list(REPLAY_COLUMNS))


def test_the_hardware_axis_uses_replays_where_they_exist_and_says_so() -> None:
    """A replay did the recorded work on the other runner: speed-up = recorded ÷ replayed fit
    seconds, not the equal-budget trials/s (4× in the frame, 5× in the replay)."""
    from treeline.analysis.boundary import hardware

    rows = [
        {"dataset": "d", "n": 1000, "contender": c, "runner": r, "status": "ok",
         "price_per_hour": p, "trials_per_second": t, "test_score": 0.85, "cost_usd": 0.001}
        for c in ("xgboost", "catboost")
        for r, p, t in (("cpu", 0.1, 2.0), ("t4", 0.526, 8.0))
    ]  # fmt: skip
    replays = _replays([{}, {"recorded_fit_seconds": 12.0, "fit_seconds": 2.0, "cost_usd": 0.001}])
    out = {(r["contender"], r["runner"]): r for r in hardware(pd.DataFrame(rows), replays)}
    xgb = out[("xgboost", "t4")]
    assert xgb["speedup"] == pytest.approx((5.0 + 6.0) / 2)
    assert xgb["cost_ratio"] == pytest.approx((0.5 + 1.0) / 2)
    assert xgb["source"] == "replay (2): identical work"
    assert out[("catboost", "t4")]["source"] == "equal budget: trials/s"  # no replay of it
    assert out[("catboost", "t4")]["speedup"] == 4.0


def test_the_report_lists_which_contenders_replay_bit_exactly(tmp_path) -> None:
    from treeline.analysis.report import write_report

    frame = results(lambda x: 0.80 + 0.01 * x, lambda x: 0.70 + 0.035 * x)
    frame["modality"] = "tabular"
    for col in ("fit_seconds", "peak_rss_mb", "peak_vram_mb", "trials_per_second"):
        frame[col] = 1.0
    frame["price_per_hour"] = 0.1
    replays = _replays(
        [
            {"recorded_runner": "cpu", "runner": "cpu", "device": "cpu"},
            {"contender": "mlp", "bit_equal": False, "difference": -0.0031},
            {"contender": "mlp", "bit_equal": False, "difference": 0.0012},
        ]
    )
    md = write_report("demo", "a constructed suite", frame, tmp_path, replays).read_text()
    section = md.split("## Replays")[1]
    assert "Not bit-exact: mlp (cpu → cuda)" in section
    assert "| mlp | cpu → cuda | 2 | 0 | 2 | 0.0031 |" in section
    assert "| xgboost | cpu → cpu | 1 | 1 | 1 | 0 |" in section
    assert "1 from replays" in md
