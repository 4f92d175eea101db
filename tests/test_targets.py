"""Time and cost to a target score, from anytime curves with a known answer."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from treeline.analysis.targets import first_reach, to_target


def _cell(contender: str, family: str, seed: int, curve: list[tuple[float, float]]) -> dict:
    return {
        "dataset": "d", "runner": "cpu", "n": 1000, "seed": seed, "status": "ok",
        "contender": contender, "family": family, "task": "binary", "budget": 10.0,
        "price_per_hour": 3.6, "anytime": curve, "test_score": curve[-1][1],
    }  # fmt: skip


def test_first_reach_reads_the_best_by_validation_curve_and_counts_the_grace_at_the_budget():
    curve = [(1.0, 0.80), (4.0, 0.86), (6.0, 0.85), (9.0, 0.90)]
    assert first_reach(curve, 0.85, 10.0) == 4.0
    assert first_reach(curve, 0.95, 10.0) != first_reach(curve, 0.95, 10.0)  # NaN: never
    assert first_reach([(11.0, 0.9)], 0.85, 10.0) == 10.0  # within the 5 s grace: at the budget
    assert math.isnan(first_reach([(16.0, 0.9)], 0.85, 10.0))  # past it


def test_the_target_is_one_point_below_the_best_mean_and_seeds_that_miss_it_are_counted():
    frame = pd.DataFrame(
        [
            _cell("xgboost", "tree", 0, [(1.0, 0.84), (2.0, 0.90)]),
            _cell("xgboost", "tree", 1, [(3.0, 0.895), (4.0, 0.90)]),
            _cell("mlp", "deep", 0, [(5.0, 0.88), (8.0, 0.895)]),
            _cell("mlp", "deep", 1, [(7.0, 0.85)]),  # never within one point of 0.90
        ]
    )
    rows = {r.contender: r for r in to_target(frame)}
    xgb, mlp = rows["xgboost"], rows["mlp"]
    assert xgb.target == pytest.approx(0.89)  # best mean 0.90, less 0.01
    assert xgb.seconds == 2.5 and xgb.reached == 2  # median of 2.0 and 3.0
    assert xgb.usd == pytest.approx(2.5 * 3.6 / 3600)
    assert mlp.seconds == 8.0 and (mlp.reached, mlp.seeds) == (1, 2)
    assert [r.contender for r in to_target(frame)] == ["xgboost", "mlp"]  # all seeds first
    late = pd.concat([frame, pd.DataFrame([_cell("resnet", "deep", 0, [(1.0, 0.7)])])])
    (resnet,) = [r for r in to_target(late) if r.contender == "resnet"]
    assert resnet.text == "not reached within 10 s" and math.isnan(resnet.usd)


def test_the_anytime_curve_is_the_seed_mean_of_best_by_validation_scores_not_a_max_on_test():
    from treeline.analysis.plots import seed_mean_curve

    # Seed 0's second model was better on validation and worse on test: the curve drops.
    times, mean, low, high = seed_mean_curve([[(1.0, 0.8), (3.0, 0.7)], [(2.0, 0.9)]], 5.0)
    assert times == [2.0, 3.0, 5.0]  # from when every seed has a model, to the budget
    assert mean == pytest.approx([0.85, 0.8, 0.8])
    assert low == pytest.approx([0.8, 0.7, 0.7]) and high == pytest.approx([0.9, 0.9, 0.9])
    assert seed_mean_curve([[], []], 5.0) == ([], [], [], [])


def test_a_model_in_the_grace_counts_at_the_budget_and_a_seed_without_one_draws_nothing():
    from treeline.analysis.plots import seed_mean_curve

    # Budget 10 s, grace 5 s: seed 1's model at 12 s is drawn at 10 s, as first_reach counts it.
    times, mean, _, _ = seed_mean_curve([[(1.0, 0.8)], [(12.0, 0.9)]], 10.0)
    assert times == [10.0] and mean == pytest.approx([0.85])
    # A seed with no model within the limit: no mean over the others, so no curve at all.
    assert seed_mean_curve([[(1.0, 0.8)], [(16.0, 0.9)]], 10.0) == ([], [], [], [])
    assert seed_mean_curve([[(1.0, 0.8)], []], 10.0) == ([], [], [], [])


def test_labels_that_would_overlap_are_stacked_below_one_another():
    from treeline.analysis.plots import label_offsets

    boxes = [(0, 10, 50, 20), (5, 10, 60, 20), (100, 10, 150, 20), (2, 10, 40, 20)]
    assert label_offsets(boxes, 10.0) == [0.0, 10.0, 0.0, 20.0]


def _sizes_frame(sizes: list[int], contenders: int, seeds: int = 1) -> pd.DataFrame:
    rows = []
    for n in sizes:
        for i in range(contenders):
            family = "tree" if i % 2 else "deep"
            for seed in range(seeds):
                score = 0.80 + 0.01 * i + 0.001 * seed
                cell = _cell(f"c{i}", family, seed, [(1.0 + i, score)])
                rows.append({**cell, "n": n, "cost_usd": 0.01, "metric": "accuracy"})
    return pd.DataFrame(rows)


def test_every_point_of_the_cost_plot_is_labelled_and_no_two_labels_overlap(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from treeline.analysis.boundary import compare
    from treeline.analysis.plots import plot_score_vs_cost

    frame = _sizes_frame([1000, 2000], 6)
    # Spread out, but c1 lands on c0 (at equal budgets: one cost, near one score) at each n.
    frame["cost_usd"] = 0.01 + frame["test_score"] * 1e-3 + frame["n"] * 1e-7
    c0, c1 = frame["contender"] == "c0", frame["contender"] == "c1"
    frame.loc[c1, ["test_score", "cost_usd"]] = frame.loc[c0, ["test_score", "cost_usd"]].values
    (c,) = compare(frame)
    shown = []
    original = plt.close  # read the labels before the figure is closed

    def keep(fig):
        ax = fig.axes[0]
        renderer = fig.canvas.get_renderer()
        shown.extend((t.get_text(), t.get_window_extent(renderer)) for t in ax.texts)
        original(fig)

    plt.close = keep
    try:
        plot_score_vs_cost(frame, c, tmp_path)
    finally:
        plt.close = original
    assert sorted(t for t, _ in shown) == sorted(
        f"c{i} n={n:,}" for i in range(6) for n in (1000, 2000)
    )
    boxes = [b for _, b in shown]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_a_long_time_to_target_table_keeps_the_largest_size_and_says_so():
    from treeline.analysis.boundary import compare
    from treeline.analysis.content import TARGET_ROWS, _cost_blocks

    frame = _sizes_frame([100, 200, 400, 800, 1600], 7)
    assert len(frame) > TARGET_ROWS
    (c,) = compare(frame)
    blocks = _cost_blocks(frame, c)
    (table,) = [b for b in blocks if b.kind == "table"]
    assert {row[0] for row in table.content[1]} == {"1,600"}
    assert any("largest size only (5 sizes tested)" in b.content for b in blocks if b.kind == "p")
    short = _sizes_frame([100, 200], 3)
    (c,) = compare(short)
    (table,) = [b for b in _cost_blocks(short, c) if b.kind == "table"]
    assert {row[0] for row in table.content[1]} == {"100", "200"}


def test_targets_are_set_per_size_and_the_median_is_over_the_seeds_that_reached_it():
    rows = []
    for n, best in ((1000, 0.80), (5000, 0.90)):
        for seed, curve in enumerate(
            [[(2.0, best - 0.2), (4.0, best)], [(6.0, best)], [(1.0, best - 0.2)]]
        ):
            rows.append({**_cell("xgboost", "tree", seed, curve), "n": n})
    rows += [
        {**_cell("mlp", "deep", s, [(1.0, 0.5)]), "n": n} for s in range(3) for n in (1000, 5000)
    ]
    got = {(r.n, r.contender): r for r in to_target(pd.DataFrame(rows))}
    xgb = got[(1000, "xgboost")]
    # Seed means: (0.80 + 0.80 + 0.60) / 3; target one point below; seed 2 never gets there.
    assert xgb.target == pytest.approx((0.8 + 0.8 + 0.6) / 3 - 0.01)
    assert xgb.seconds == 5.0 and (xgb.reached, xgb.seeds) == (2, 3)  # median of 4 and 6
    assert xgb.usd == pytest.approx(5.0 * 3.6 / 3600)
    assert got[(5000, "xgboost")].target == pytest.approx((0.9 + 0.9 + 0.7) / 3 - 0.01)
    assert got[(5000, "mlp")].text == "not reached within 10 s"
