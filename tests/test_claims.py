"""The chapter's claims judged on small fabricated result sets: every rule can come out
confirmed, refuted and not measured (a rule that cannot be refuted is a defect)."""

from __future__ import annotations

import pandas as pd
import pytest

from treeline.analysis.boundary import compare
from treeline.analysis.claims import judge, load_claims

SOURCE, CLAIMS = load_claims()
BY_ID = {c.id: c for c in CLAIMS}


def _cells(
    dataset: str,
    modality: str,
    scores: dict[str, dict[int, float]],
    *,
    runner: str = "cpu",
    device: str = "cpu",
    price: float = 0.1,
    trials: dict[str, float] | None = None,
    flags: dict[str, list[str]] | None = None,
    budget: float = 600.0,
) -> list[dict]:
    """Three seeds per contender and size; `scores`: contender → {n: mean score}."""
    family = {
        "xgboost": "tree", "lightgbm": "tree", "mlp": "deep", "cnn": "deep",
        "mobilenet-v2": "deep", "minilm-head": "deep", "embedding-bag": "deep",
    }  # fmt: skip
    rows = []
    for contender, by_n in scores.items():
        for n, score in by_n.items():
            for seed in range(3):
                rows.append(
                    {
                        "cell_id": f"{dataset}/n={n}/{contender}/{runner}/s{seed}",
                        "dataset": dataset, "modality": modality, "runner": runner,
                        "device": device, "contender": contender, "family": family[contender],
                        "n": n, "seed": seed, "status": "ok", "task": "binary",
                        "metric": "accuracy", "budget": budget, "price_per_hour": price,
                        "test_score": score + 0.001 * seed, "converged": 1.0,
                        "n_trials": (trials or {}).get(contender, 50.0),
                        "fit_seconds": budget, "anytime": [(1.0, score)],
                        "flags": (flags or {}).get(contender, []),
                    }
                )  # fmt: skip
    return rows


def _judge(rows: list[dict], claim: str, hardware: list[dict] | None = None) -> str:
    frame = pd.DataFrame(rows)
    (j,) = judge(frame, compare(frame), hardware, [BY_ID[claim]])
    assert j.evidence
    return j.status


def test_the_claims_file_cites_its_source_and_names_what_each_needs() -> None:
    assert 'ch. 16 "Deep Learning Where It Counts"' in SOURCE
    assert len(CLAIMS) >= 12 and len(BY_ID) == len(CLAIMS)
    assert all(c.needs and c.claim for c in CLAIMS)


@pytest.mark.parametrize(
    ("claim", "modality", "n", "tree", "deep", "expected"),
    [
        ("tables-ordinary-size", "tabular", 20_000, 0.86, 0.84, "confirmed"),
        ("tables-ordinary-size", "tabular", 20_000, 0.84, 0.86, "refuted"),
        ("tables-ordinary-size", "tabular", 1_000, 0.86, 0.84, "not measured"),  # too small
        ("tables-past-a-million", "tabular", 2_000_000, 0.86, 0.86, "confirmed"),
        ("tables-past-a-million", "tabular", 2_000_000, 0.86, 0.80, "refuted"),
        ("images-every-size", "image", 1_000, 0.80, 0.90, "confirmed"),
        ("images-every-size", "image", 1_000, 0.90, 0.80, "refuted"),
        ("text-networks", "text", 1_000, 0.80, 0.90, "confirmed"),
        ("text-networks", "text", 1_000, 0.90, 0.80, "refuted"),
        ("audio-cnn", "audio", 1_000, 0.90, 0.80, "refuted"),
        ("text-and-table", "multimodal", 1_000, 0.90, 0.80, "refuted"),
        ("text-and-table", "image", 1_000, 0.90, 0.80, "not measured"),
    ],
)
def test_the_leader_rule_follows_the_gaps(claim, modality, n, tree, deep, expected) -> None:
    rows = _cells("d", modality, {"xgboost": {n: tree}, "mlp": {n: deep}})
    assert _judge(rows, claim) == expected


@pytest.mark.parametrize(
    ("long_deep", "short_deep", "expected"),
    [
        (0.9, 0.7, "confirmed"),  # networks ahead on long series, trees ahead on short
        (0.7, 0.9, "refuted"),
        (0.9, 0.9, "mixed"),  # networks ahead on both: the short half fails
    ],
)
def test_the_sequence_claim_tells_long_series_from_short(long_deep, short_deep, expected) -> None:
    long = _cells("ucr/OSULeaf", "sequence", {"lightgbm": {200: 0.8}, "cnn": {200: long_deep}})
    short = _cells(
        "ucr/ItalyPowerDemand", "sequence", {"lightgbm": {67: 0.8}, "cnn": {67: short_deep}}
    )
    assert _judge(long + short, "sequences-length") == expected
    frame = pd.DataFrame(_cells("mine", "sequence", {"lightgbm": {500: 0.8}, "cnn": {500: 0.9}}))
    (j,) = judge(frame, compare(frame), None, [BY_ID["sequences-length"]])
    assert j.status == "not measured" and "series length unknown for mine" in j.evidence


def test_images_at_every_size_is_mixed_when_one_size_ties() -> None:
    rows = _cells("d", "image", {"xgboost": {1000: 0.8, 5000: 0.9}, "cnn": {1000: 0.9, 5000: 0.9}})
    assert _judge(rows, "images-every-size") == "mixed"


@pytest.mark.parametrize(("pretrained", "expected"), [(0.9, "confirmed"), (0.7, "refuted")])
def test_pretrained_against_scratch_under_ten_thousand(pretrained: float, expected: str) -> None:
    rows = _cells("d", "image", {"cnn": {1000: 0.8}, "mobilenet-v2": {1000: pretrained}})
    assert _judge(rows, "pretrained-small-data") == expected
    big = _cells("d", "image", {"cnn": {20_000: 0.8}, "mobilenet-v2": {20_000: pretrained}})
    assert _judge(big, "pretrained-small-data") == "not measured"


def test_one_seed_without_predictions_decides_nothing_for_the_pretrained_claim() -> None:
    """A single seed's difference has no interval: level, not a win (it was counted as one)."""
    rows = _cells("d", "image", {"cnn": {1000: 0.8}, "mobilenet-v2": {1000: 0.9}})
    frame = pd.DataFrame([r for r in rows if r["seed"] == 0])
    (j,) = judge(frame, compare(frame), None, [BY_ID["pretrained-small-data"]])
    assert j.status == "mixed" and "ahead at 0 of 1 sizes, behind at 0, level at 1" in j.evidence


@pytest.mark.parametrize(("stuck", "expected"), [(True, "confirmed"), (False, "refuted")])
def test_cpu_viability_counts_budget_bound_networks(stuck: bool, expected: str) -> None:
    flags = {"mlp": ["budget-bound"]} if stuck else {}
    rows = _cells("d", "tabular", {"xgboost": {1000: 0.8}, "mlp": {1000: 0.8}}, flags=flags)
    assert _judge(rows, "no-gpu-no-deep") == expected


@pytest.mark.parametrize(
    ("tree_trials", "deep_trials", "expected"),
    [(600, 2, "confirmed"), (2, 2, "refuted"), (600, 600, "mixed")],
)
def test_trial_time_reads_seconds_per_trial(tree_trials, deep_trials, expected) -> None:
    rows = _cells(
        "d", "tabular", {"xgboost": {1000: 0.8}, "mlp": {1000: 0.8}},
        trials={"xgboost": tree_trials, "mlp": deep_trials},
    )  # fmt: skip
    assert _judge(rows, "trees-many-experiments") == expected


def _hw(speedup: float, price_ratio: float, n: int = 1000, base: str = "cuda") -> dict:
    return {
        "dataset": "d", "n": n, "contender": "mlp", "runner": "big", "baseline_runner": "small",
        "speedup": speedup, "score_delta": 0.0, "cost_ratio": price_ratio / speedup,
        "source": "replay (3): identical work", "device": "cuda", "baseline_device": base,
        "price_ratio": price_ratio,
    }  # fmt: skip


def test_gpu_rules_need_gpu_runners_and_can_go_either_way() -> None:
    rows = _cells("d", "tabular", {"xgboost": {1000: 0.8}, "mlp": {1000: 0.8}})
    assert _judge(rows, "bigger-gpu-price") == "not measured"
    assert _judge(rows, "bigger-gpu-price", [_hw(1.2, 4.0)]) == "confirmed"
    assert _judge(rows, "bigger-gpu-price", [_hw(4.5, 4.0)]) == "refuted"
    assert _judge(rows, "gpu-large-batches") == "not measured"
    growing = [_hw(1.1, 3.0, 1000, "cpu"), _hw(8.0, 3.0, 100_000, "cpu")]
    flat = [_hw(5.0, 3.0, 1000, "cpu"), _hw(4.0, 3.0, 100_000, "cpu")]
    assert _judge(rows, "gpu-large-batches", growing) == "confirmed"
    assert _judge(rows, "gpu-large-batches", flat) == "refuted"


def test_the_atlas_page_of_the_committed_reference(tmp_path, capsys) -> None:
    from pathlib import Path

    from treeline.cli import main

    reference = (
        Path(__file__).resolve().parent.parent / "results/reference/atlas-cpu-shared.parquet"
    )
    assert main(["atlas", "--from", str(reference), "--out", str(tmp_path)]) == 0
    md = (tmp_path / "atlas.md").read_text()
    for row in ("| tabular | diamonds | cpu-shared @ 60 s |", "| audio | spoken-digits |"):
        assert row in md
    assert "Measured on Intel(R) Xeon(R) Processor (GPU: none) by Treeline 6e0b19252224" in md
    assert "reverse crossover" in md  # diamonds: trees overtake the networks as n grows
    assert "| ucr/OSULeaf | cpu-shared @ 20 s | no data |" in md  # 1/8 of the budget: no CNN yet
    verdicts = {
        line.split(" | ")[0].strip("| "): line.split(" | ")[2]
        for line in md.split("## The claims", 1)[1].split("\n## ", 1)[0].splitlines()
        if line.startswith("| ") and line[2].isdigit()
    }
    assert len(verdicts) == 12
    assert [k for k, v in verdicts.items() if v == "not measured"] == ["2", "10", "12"]  # GPU, 1M
    evidence = md.split("## Evidence cells", 1)[1]
    assert "**3. images-every-size** — fashion-mnist/n=10000/cnn/cpu-shared/s0, " in evidence
    assert (tmp_path / "atlas.png").stat().st_size > 0
    assert "`" not in (tmp_path / "index.html").read_text()
    assert main(["atlas"]) == 2
    assert "name suites" in capsys.readouterr().err
