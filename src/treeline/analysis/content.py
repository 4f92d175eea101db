"""The report's content: one list of blocks that renders to both Markdown and HTML, so the
two never disagree. It ends in the decision table: per dataset and runner, who wins at each
size, n*, and what each family's best costs per cell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from treeline.analysis.boundary import (
    BUDGET_FRACTIONS,
    MIN_SEEDS,
    Comparison,
    Gap,
    along_budget,
    compare,
    hardware,
    pareto_front,
    replay_exactness,
)
from treeline.analysis.cells import (
    cells_of,
    cost_points,
    mean_of,
    metric_of,
    scale_of,
    score_text,
)
from treeline.analysis.flags import label
from treeline.analysis.plots import (
    plot_resources,
    plot_score_vs_budget,
    plot_score_vs_cost,
    plot_score_vs_n,
)
from treeline.data.metrics import NAMES, heading, number

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Block:
    kind: str  # "h1" | "h2" | "p" | "table" | "img"
    content: Any


def _fmt(x: float, digits: int = 4) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


def gap_text(g: Gap, metric: str, scale: float | None) -> str:
    """How far the best network is ahead (negative: behind), in the metric's units."""
    if math.isnan(g.mean):
        return "–"
    if math.isnan(g.low):
        return f"{number(metric, g.mean, scale, sign=True)} (1 seed)"
    low, high = (number(metric, x, scale, sign=True) for x in (g.low, g.high))
    return f"{number(metric, g.mean, scale, sign=True)} [{low}, {high}]"


def _winner(g: Gap) -> str:
    if g.deep_ahead:
        return f"deep: {label(g.deep, list(g.deep_flags))}"
    if g.tree_ahead:
        return f"tree: {label(g.tree, list(g.tree_flags))}"
    return "tie" if not math.isnan(g.mean) else "–"


def decision_rows(frame: pd.DataFrame, comparisons: list[Comparison]) -> list[list[str]]:
    """One row per dataset × runner: winner at each size, n*, cost of each family's best."""
    rows = []
    for c in comparisons:
        part = frame[
            (frame["dataset"] == c.dataset)
            & (frame["runner"] == c.runner)
            & (frame["status"] == "ok")
        ]
        costs = []
        for family in ("tree", "deep"):
            best = [getattr(g, family) for g in c.gaps if getattr(g, family)]
            if not best:
                costs.append("–")
                continue
            cells = part[part["contender"].isin(best) & (part["family"] == family)]
            costs.append(f"${cells['cost_usd'].mean():.5f}")
        winners = "; ".join(f"{g.n:,}: {_winner(g)}" for g in c.gaps)
        x = c.crossover
        n_star = f"{x.n_star:,.0f}" if x.n_star else x.verdict
        if x.verdict == "reverse crossover":
            n_star = f"trees from {n_star} (reverse crossover)"
        if x.indicative:
            n_star += f" (indicative: fewer than {MIN_SEEDS} seeds)"
        if x.binds:  # the row's verdict is the budget's or the machine's, not only the data's
            n_star += f" — {', '.join(x.binds)}"
        rows.append([c.dataset, c.runner, winners, n_star, *costs])
    return rows


def modality_text(frame: pd.DataFrame, comparisons: list[Comparison]) -> str:
    """Across the suite's modalities: which family leads at each dataset's largest size, and
    whether the budget or the machine decided it."""
    parts = []
    for modality in sorted(frame["modality"].dropna().unique()):
        datasets = set(frame[frame["modality"] == modality]["dataset"])
        mine = [c for c in comparisons if c.dataset in datasets]
        lead: dict[str, list[str]] = {}
        for c in mine:
            last = next((g for g in reversed(c.gaps) if not math.isnan(g.mean)), None)
            who = "no verdict" if last is None else _leader(last)
            bound = f", {' and '.join(c.crossover.binds)}" if c.crossover.binds else ""
            where = f"{c.dataset} at n = {last.n:,}" if last else c.dataset
            lead.setdefault(who, []).append(f"{where} on {c.runner}{bound}")
        said = "; ".join(f"{who}: {', '.join(found)}" for who, found in sorted(lead.items()))
        count = f"{len(mine)} dataset{'s' if len(mine) != 1 else ''}"
        parts.append(f"{modality} ({count}) — {said or 'no comparison'}")
    return (
        "at each dataset's largest size, "
        + ". ".join(parts)
        + ". A lead marked budget-bound or contended answers this question for the budget or "
        "the machine, not the modality."
    )


def _leader(g: Gap) -> str:
    return "networks ahead" if g.deep_ahead else "trees ahead" if g.tree_ahead else "tied"


def size_text(frame: pd.DataFrame, comparisons: list[Comparison]) -> str:
    """Along n: the gap at the smallest and the largest size, the crossover (either way) or its
    absence, and the sizes where the budget bound the side behind."""
    parts = []
    for c in comparisons:
        gaps = [g for g in c.gaps if not math.isnan(g.mean)]
        metric, scale = metric_of(frame, c), scale_of(frame, c)
        if len(gaps) < 2:
            parts.append(f"{c.dataset} ({c.runner}): one size with a verdict, no trend to read")
            continue
        lo, hi = gaps[0], gaps[-1]
        trend = (
            f"deep − tree {gap_text(lo, metric, scale)} at n = {lo.n:,} → "
            f"{gap_text(hi, metric, scale)} at n = {hi.n:,}"
        )
        x = c.crossover
        if x.verdict in ("crossover", "reverse crossover"):
            who = "networks" if x.verdict == "crossover" else "trees"
            said = f"{x.verdict}: {who} ahead from n* ≈ {x.n_star:,.0f}"
        else:
            said = x.verdict
        bound = (
            "; budget-bound at some size, so the trend is the budget's as much as the data's"
            if "budget-bound" in x.binds
            else ""
        )
        parts.append(f"{c.dataset} ({c.runner}): {trend} ({said}{bound})")
    return ". ".join(parts) + "."


def bound_counts(frame: pd.DataFrame) -> str:
    """'; of the ok cells, 12 budget-bound and 3 contended (…)': how many results the budget
    or the machine decided, and how many were measured before Treeline recorded either."""
    from treeline.execute.result import BUDGET_BOUND_FLAG, CONTENDED_FLAG

    ok = frame[frame["status"] == "ok"] if "flags" in frame else frame.iloc[0:0]
    if ok.empty:
        return ""
    parts = [
        f"{sum(flag in f for f in ok['flags'])} {flag}"
        for flag in (BUDGET_BOUND_FLAG, CONTENDED_FLAG)
    ]
    unknown = int(ok["contended"].isna().sum()) if "contended" in ok else len(ok)
    text = f"; of the ok cells, {' and '.join(parts)}"
    if unknown:
        text += f" ({unknown} recorded before Treeline measured convergence and contention)"
    return text


def build(
    suite: str,
    description: str,
    frame: pd.DataFrame,
    out: Path,
    replays: pd.DataFrame | None = None,
) -> list[Block]:
    """The report's blocks; writes the PNG plots into `out`. `replays`: `replays_frame`."""
    comparisons = compare(frame)
    blocks = [Block("h1", f"Treeline report: {suite}"), Block("p", description.strip())]
    counts = frame["status"].value_counts().to_dict()
    blocks.append(
        Block(
            "p",
            f"{len(frame)} cells: "
            + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
            + (
                f" ({frame.attrs['superseded']} older records of the same cells, at another "
                "budget, set aside: the latest of each stands)"
                if frame.attrs.get("superseded")
                else ""
            )
            + bound_counts(frame)
            + ". Tables give each dataset's test metric (↑ higher is better, ↓ lower); plots "
            "and verdicts use the score, the metric oriented so that higher is better (RMSE, "
            "MAE and log-loss negated). 'Deep ahead by': the best network's score minus the best "
            "tree's, with a 95 % bootstrap interval that resamples the seeds and, within each, "
            "the test rows (both models on the same rows, from their stored predictions; over "
            "seeds alone for cells recorded without predictions), each family represented by "
            "its best contender at that size.",
        )
    )

    blocks.append(Block("h2", "Decision table"))
    blocks.append(
        Block(
            "table",
            (
                [
                    "dataset",
                    "runner",
                    "winner by n",
                    "n*",
                    "best tree: USD per cell",
                    "best deep: USD per cell",
                ],
                decision_rows(frame, comparisons),
            ),
        )
    )
    blocks.append(Block("h2", "The four questions"))
    blocks.append(Block("p", "**Modality** — " + modality_text(frame, comparisons)))
    blocks.append(Block("p", "**Data size** — " + size_text(frame, comparisons)))
    hw = hardware(frame, replays)
    from_replays = sum(r["source"].startswith("replay") for r in hw)
    blocks.append(
        Block(
            "p",
            "**Hardware** — "
            + (
                "one runner tested; add a GPU runner (`--runner`), or replay cells on one "
                "(`treeline replay CELL_ID --runner R`), to compare."
                if not hw
                else f"{len(hw)} contender × runner comparisons below; {from_replays} from "
                "replays (the same work on both runners: a pure hardware speed-up and the price "
                f"of that work), {len(hw) - from_replays} from equal-budget cells (trials per "
                "second: each runner did different work)."
            ),
        )
    )
    by_budget = along_budget(frame)
    budget_rows = []
    for f in BUDGET_FRACTIONS:
        for c in by_budget[f]:
            budget_rows.append([f"{f:g}", c.dataset, c.runner, c.crossover.text])
    blocks.append(
        Block(
            "p",
            "**Iteration budget** — the comparison re-read off the anytime "
            "curves at fractions of the budget:",
        )
    )
    blocks.append(
        Block("table", (["budget fraction", "dataset", "runner", "verdict"], budget_rows))
    )

    for c in comparisons:
        blocks.append(Block("h2", f"{c.dataset} on {c.runner}"))
        metric = metric_of(frame, c)
        scale = scale_of(frame, c)
        blocks.append(
            Block(
                "table",
                (
                    [
                        "n",
                        "best tree",
                        f"tree {heading(metric)}",
                        "best deep",
                        f"deep {heading(metric)}",
                        "trivial baseline",
                        "deep ahead by [95 % CI]",
                        "winner",
                    ],
                    [
                        [
                            f"{g.n:,}",
                            label(g.tree, list(g.tree_flags)),
                            score_text(metric, mean_of(g.tree_scores), scale),
                            label(g.deep, list(g.deep_flags)),
                            score_text(metric, mean_of(g.deep_scores), scale),
                            score_text(metric, _baseline(frame, c, g.n), scale),
                            gap_text(g, metric, scale),
                            _winner(g),
                        ]
                        for g in c.gaps
                    ],
                ),
            )
        )
        blocks.append(Block("p", f"Verdict: {c.crossover.text}."))
        if c.missing:
            blocks.append(
                Block("p", "Cells without a score (shown, not hidden): " + "; ".join(c.missing))
            )
        blocks.append(Block("img", plot_score_vs_n(frame, c, out)))
        blocks.append(Block("img", plot_score_vs_budget(frame, c, out)))
        blocks.append(Block("img", plot_score_vs_cost(frame, c, out)))
        blocks.extend(_cost_blocks(frame, c))
    blocks.append(
        Block(
            "p",
            "USD per cell: the mean `cost_usd` of the family's best contender's finished cells "
            "(every size and seed where it was best): fit (featurizing included) and test "
            "prediction seconds × the runner's price per hour.",
        )
    )
    blocks.append(Block("h2", "Wall-clock and memory"))
    overhead = _overhead_text(frame)
    if overhead:
        blocks.append(Block("p", overhead))
    blocks.append(Block("img", plot_resources(frame, out)))
    if hw:
        blocks.append(Block("h2", "Hardware"))
        blocks.append(
            Block(
                "table",
                (
                    [
                        "dataset",
                        "n",
                        "contender",
                        "runner",
                        "vs",
                        "speed-up",
                        "score Δ",
                        "cost ratio",
                        "measured by",
                    ],
                    [
                        [
                            r["dataset"],
                            f"{r['n']:,}",
                            r["contender"],
                            r["runner"],
                            r["baseline_runner"],
                            _fmt(r["speedup"], 3),
                            _delta_text(frame, r["dataset"], r["score_delta"]),
                            _fmt(r["cost_ratio"], 3),
                            r["source"],
                        ]
                        for r in hw
                    ],
                ),
            )
        )
    if replays is not None and not replays.empty:
        blocks.extend(_replay_blocks(replays))
    return blocks


def _replay_blocks(replays: pd.DataFrame) -> list[Block]:
    """Which contenders replay bit-exactly, and by how much the others differ."""
    rows = replay_exactness(replays)
    inexact = [r["contender"] + f" ({r['devices']})" for r in rows if r["bit_equal"] < r["replays"]]
    text = (
        "Every replay below re-ran its cell's recorded trials, rounds and steps "
        "(`treeline replay`). "
        + (
            "Not bit-exact: " + ", ".join(inexact) + " (largest differences in the table)."
            if inexact
            else "Every one reproduced its recorded test score bit for bit."
        )
    )
    header = ["contender", "devices", "replays", "bit-equal", "same work", "largest Δ"]
    body = [
        [
            r["contender"],
            r["devices"],
            str(r["replays"]),
            str(r["bit_equal"]),
            str(r["same_work"]),
            f"{r['max_abs_difference']:.3g}",
        ]
        for r in rows
    ]
    return [Block("h2", "Replays"), Block("p", text), Block("table", (header, body))]


def _overhead_text(frame: pd.DataFrame) -> str:
    """The harness's own seconds per cell (start-up, imports, loading), by family: recorded
    apart as `overhead_seconds` and not charged to any contender."""
    if "overhead_seconds" not in frame:
        return ""
    ok = frame[(frame["status"] == "ok") & frame["overhead_seconds"].notna()]
    if ok.empty:
        return ""
    parts = [
        f"{family}: median {part['overhead_seconds'].median():.1f} s, "
        f"max {part['overhead_seconds'].max():.1f} s over {len(part)} cells"
        for family, part in ok.groupby("family")
    ]
    return (
        "Harness overhead per cell (worker start-up, imports, data loading, and scoring each "
        "new best on test for the anytime curve; not charged to the contenders' cost): "
        + "; ".join(parts)
        + "."
    )


def _baseline(frame: pd.DataFrame, c: Comparison, n: int | None = None) -> float:
    """The trivial model's test score (majority class / mean) in this comparison's cells."""
    cells = cells_of(frame, c)
    if n is not None:
        cells = cells[cells["n"] == n]
    if "baseline_test_score" not in cells or cells.empty:
        return math.nan
    return float(cells["baseline_test_score"].mean())


def _delta_text(frame: pd.DataFrame, dataset: str, delta: float) -> str:
    """A score difference in its dataset's metric and that metric's format (RMSE: the decimals
    its tables use), so one column mixing datasets still prints each metric one way."""
    cells = frame[(frame["dataset"] == dataset) & (frame["status"] == "ok")]
    if cells.empty or "metric" not in cells:
        return _fmt(delta)
    scale = float(cells["test_score"].abs().median())
    return number(str(cells["metric"].iloc[0]), delta, scale, sign=True)


# A time-to-target table longer than this keeps only the largest size, and says so.
TARGET_ROWS = 30


def _cost_blocks(frame: pd.DataFrame, c: Comparison) -> list[Block]:
    """Costs compared only at equal n (at equal budgets a cell costs budget × price whoever
    runs it): per size, the Pareto front of score against USD per cell, and how soon and how
    cheaply each contender came within one point of the best score (targets.py)."""
    from treeline.analysis.targets import to_target

    points = cost_points(frame, c)
    if not points:
        return []
    task = str(cells_of(frame, c)["task"].iloc[0])
    metric, scale = metric_of(frame, c), scale_of(frame, c)
    name = NAMES.get(metric, metric)
    fronts = []
    for n in sorted({p[2][1] for p in points}):
        front = pareto_front([p for p in points if p[2][1] == n])
        fronts.append(
            f"n = {n:,}: "
            + "; ".join(
                f"{lab[0]} ({score_text(metric, s, scale)}, ${cost:.5f})" for cost, s, lab in front
            )
        )
    blocks = [
        Block(
            "p", f"Pareto front per size (cheapest first; test {name}): " + " — ".join(fronts) + "."
        )
    ]
    rows = [r for r in to_target(cells_of(frame, c)) if r.dataset == c.dataset]
    sizes = sorted({r.n for r in rows})
    shown = ""
    if len(rows) > TARGET_ROWS and len(sizes) > 1:
        rows = [r for r in rows if r.n == sizes[-1]]
        shown = f" Shown at the largest size only ({len(sizes)} sizes tested)."
    if rows:
        point = "one point" if task != "regression" else f"one point (1 % of the best {name})"
        blocks.append(
            Block(
                "p",
                f"Time and cost to target: the budget-clock seconds (median over the seeds that "
                f"got there) until the best model so far by validation scored within {point} "
                "of the best contender's mean at that size, and what those seconds cost. At "
                "equal budgets every cell costs about budget × price, so these, compared within "
                f"one size, are what tells the contenders' costs apart.{shown}",
            )
        )
        blocks.append(
            Block(
                "table",
                (
                    ["n", f"target ({heading(metric)})", "contender", "to target", "USD", "seeds"],
                    [
                        [
                            f"{r.n:,}",
                            score_text(metric, r.target, scale),
                            r.contender,
                            r.text,
                            f"${r.usd:.6f}" if r.reached else "–",
                            f"{r.reached}/{r.seeds}",
                        ]
                        for r in rows
                    ],
                ),
            )
        )
    return blocks
