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
