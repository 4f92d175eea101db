"""`treeline report SUITE`: report.md, a self-contained index.html and PNG plots, from results.

One list of blocks renders to both Markdown and HTML, so the two never disagree. It ends in the
decision table: per dataset and runner, who wins at each size, n*, and what each family's best
costs per cell.
"""

from __future__ import annotations

import base64
import html
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
    cheapest_within,
    compare,
    hardware,
    one_point,
    pareto_front,
    replay_exactness,
)
from treeline.analysis.flags import flags, label
from treeline.data.metrics import NAMES, heading, number, value_of

if TYPE_CHECKING:
    import pandas as pd

FAMILY_COLOURS = {"tree": "#2e7d32", "deep": "#6a1b9a"}


@dataclass
class Block:
    kind: str  # "h1" | "h2" | "p" | "table" | "img"
    content: Any


def _fmt(x: float, digits: int = 4) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


def _metric(frame: pd.DataFrame, c: Comparison) -> str:
    cells = _cells(frame, c)
    return str(cells["metric"].iloc[0]) if "metric" in cells and len(cells) else ""


def _value(metric: str, score: float, scale: float | None = None) -> str:
    """A higher-is-better score printed as its metric (RMSE positive), in the metric's format."""
    return number(metric, value_of(metric, score) if score is not None else None, scale)


def _gap_text(g: Gap, metric: str, scale: float | None) -> str:
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
        n_star = f"{c.crossover.n_star:,.0f}" if c.crossover.n_star else c.crossover.verdict
        if c.crossover.indicative:
            n_star += f" (indicative: fewer than {MIN_SEEDS} seeds)"
        rows.append([c.dataset, c.runner, winners, n_star, *costs])
    return rows


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
            + ". Tables give each dataset's test metric (↑ higher is better, ↓ lower); plots "
            "and verdicts use the score, the metric oriented so that higher is better (RMSE, "
            "MAE and log-loss negated). 'Deep ahead by': the best network's score minus the best "
            "tree's, with a 95 % paired bootstrap interval over seeds, each family represented "
            "by its best contender at that size.",
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
    modalities = ", ".join(sorted(frame["modality"].dropna().unique())) or "–"
    blocks.append(
        Block(
            "p",
            f"**Modality** — tested: {modalities}. "
            + " ".join(f"{c.dataset} ({c.runner}): {c.crossover.text}." for c in comparisons),
        )
    )
    blocks.append(
        Block(
            "p",
            "**Data size** — "
            + " ".join(
                f"{c.dataset} ({c.runner}): "
                + (
                    f"n* ≈ {c.crossover.n_star:,.0f}."
                    if c.crossover.n_star
                    else f"{c.crossover.text}."
                )
                for c in comparisons
            ),
        )
    )
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
        metric = _metric(frame, c)
        scale = _scale(frame, c)
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
                            _value(metric, _mean(g.tree_scores), scale),
                            label(g.deep, list(g.deep_flags)),
                            _value(metric, _mean(g.deep_scores), scale),
                            _value(metric, _baseline(frame, c, g.n), scale),
                            _gap_text(g, metric, scale),
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
        blocks.append(Block("img", _plot_score_vs_n(frame, c, out)))
        blocks.append(Block("img", _plot_score_vs_budget(frame, c, out)))
        blocks.append(Block("img", _plot_score_vs_cost(frame, c, out)))
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
    blocks.append(Block("img", _plot_resources(frame, out)))
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
                            _fmt(r["score_delta"]),
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
    cells = _cells(frame, c)
    if n is not None:
        cells = cells[cells["n"] == n]
    if "baseline_test_score" not in cells or cells.empty:
        return math.nan
    return float(cells["baseline_test_score"].mean())


def _scale(frame: pd.DataFrame, c: Comparison) -> float | None:
    """A typical metric value of the comparison: fixes the decimals of its RMSE/MAE column."""
    cells = _cells(frame, c)
    return float(cells["test_score"].abs().median()) if len(cells) else None


def _mean(scores: dict[int, float]) -> float:
    return sum(scores.values()) / len(scores) if scores else math.nan


def _cells(frame: pd.DataFrame, c: Comparison) -> pd.DataFrame:
    return frame[
        (frame["dataset"] == c.dataset) & (frame["runner"] == c.runner) & (frame["status"] == "ok")
    ]


def _cost_points(frame: pd.DataFrame, c: Comparison) -> list[tuple[float, float, Any]]:
    means = (
        _cells(frame, c)
        .groupby(["contender", "n", "family"])
        .agg(cost=("cost_usd", "mean"), score=("test_score", "mean"))
        .reset_index()
    )
    return [(r.cost, r.score, (r.contender, r.n, r.family)) for r in means.itertuples()]


def _cost_blocks(frame: pd.DataFrame, c: Comparison) -> list[Block]:
    points = _cost_points(frame, c)
    if not points:
        return []
    task = str(_cells(frame, c)["task"].iloc[0])
    metric, scale = _metric(frame, c), _scale(frame, c)
    name = NAMES.get(metric, metric)
    top = max(p[1] for p in points)
    cheap = cheapest_within(points, one_point(task, top))
    front = pareto_front(points)
    text = (
        f"Pareto front (cheapest first; test {name}): "
        + "; ".join(
            f"{lab[0]} n={lab[1]:,} ({_value(metric, s, scale)}, ${cost:.5f})"
            for cost, s, lab in front
        )
        + ". "
    )
    if cheap:
        point = "one point" if task != "regression" else f"one point (1 % of the {name})"
        text += (
            f"Cheapest within {point} of the best ({_value(metric, top, scale)}): "
            f"{cheap[2][0]} at n={cheap[2][1]:,}, {_value(metric, cheap[1], scale)} for "
            f"${cheap[0]:.5f} per cell."
        )
    return [Block("p", text)]


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, out: Path, name: str) -> Path:
    path = out / name
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _figure().close(fig)
    return path


# Tree and network markers differ (filled shapes, open-looking ones) and so do their lines, so
# the families can be told apart in greyscale, not only by colour.
_MARKERS = {"tree": ("o", "s", "^", "D"), "deep": ("v", "P", "X", "*", "h")}
_SHADES = {"tree": "Greens", "deep": "Purples"}


def _styles(cells: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """One colour (a shade of its family's) and one marker per contender, stable across plots."""
    import matplotlib

    styles: dict[str, dict[str, Any]] = {}
    for family, part in cells.groupby("family"):
        names = sorted(part["contender"].unique())
        cmap = matplotlib.colormaps[_SHADES.get(str(family), "Greys")]
        for i, name in enumerate(names):
            markers = _MARKERS.get(str(family), ("o",))
            styles[name] = {
                "color": cmap(0.55 + 0.4 * i / max(1, len(names) - 1)),
                "marker": markers[i % len(markers)],
                "ls": "-" if family == "tree" else "--",
            }
    return styles


def _legend_flags(cells: pd.DataFrame) -> str:
    """' — untuned: 1 trial at n=20,000' for a contender whose score there is flagged."""
    found: dict[str, list[int]] = {}
    for n, at_n in cells.groupby("n"):
        for flag in flags(at_n):
            found.setdefault(flag, []).append(int(n))
    return "".join(f" — {f} at n={', '.join(f'{n:,}' for n in ns)}" for f, ns in found.items())


def _legend_below(ax: Any) -> None:
    """Below the axes, in two columns: a legend never hides the data it explains."""
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.14))


def _score_label(cells: pd.DataFrame) -> str:
    """What the y axis is: the metric, oriented so higher is better (regression: −RMSE)."""
    from treeline.data.metrics import LOWER_IS_BETTER

    metric = str(cells["metric"].iloc[0]) if "metric" in cells and len(cells) else ""
    name = NAMES.get(metric, metric or "score")
    units = "target units; " if metric in ("rmse", "mae") else ""
    sign = "−" if metric in LOWER_IS_BETTER else ""
    return f"test score: {sign}{name} ({units}higher is better)"


def _size_axis(ax: Any, sizes: list[int]) -> None:
    """Log n with the tested sizes as the ticks."""
    ax.set_xscale("log")
    if sizes:
        ax.set_xticks(sizes)
        ax.set_xticklabels([f"{n:,}" for n in sizes], fontsize=7)
        ax.minorticks_off()
    ax.set_xlabel("n (labelled examples)")


def _slug(c: Comparison) -> str:
    return f"{c.dataset}-{c.runner}".replace("/", "_")


def _plot_score_vs_n(frame: pd.DataFrame, c: Comparison, out: Path) -> Path:
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 5.6))
    cells = _cells(frame, c)
    styles = _styles(cells)
    for contender, part in cells.groupby("contender"):
        family = part["family"].iloc[0]
        style = styles[str(contender)]
        stats = part.groupby("n")["test_score"].agg(["mean", "min", "max"]).sort_index()
        name = f"{contender} ({family}){_legend_flags(part)}"
        ax.plot(stats.index, stats["mean"], lw=1, alpha=0.8, label=name, **style)
        ax.fill_between(stats.index, stats["min"], stats["max"], alpha=0.08, color=style["color"])
    for family in ("tree", "deep"):
        xs = [g.n for g in c.gaps if getattr(g, f"{family}_scores")]
        ys = [
            _mean(getattr(g, f"{family}_scores")) for g in c.gaps if getattr(g, f"{family}_scores")
        ]
        ax.plot(
            xs,
            ys,
            lw=3.5,
            alpha=0.9,
            color=FAMILY_COLOURS[family],
            ls="-" if family == "tree" else "--",
            label=f"best {family}",
        )
    base = (
        cells.groupby("n")["baseline_test_score"].mean().sort_index()
        if "baseline_test_score" in cells
        else None
    )
    if base is not None and base.notna().any():
        low, high = cells["test_score"].min(), cells["test_score"].max()
        if base.min() >= low - (high - low):
            ax.plot(base.index, base.values, color="grey", ls=":", lw=1.5, label="trivial baseline")
        else:  # far below every contender: a line there would flatten the comparison
            metric = _metric(frame, c)
            value = f"{NAMES.get(metric, metric)} {_value(metric, base.mean())}"
            ax.plot(
                [], [], color="grey", ls=":", label=f"trivial baseline {value} (below the plot)"
            )
    if c.crossover.n_star:
        ax.axvline(c.crossover.n_star, color="black", ls="-.", label="n*")
    _size_axis(ax, sorted(cells["n"].unique()))
    ax.set_ylabel(_score_label(cells))
    ax.set_title(f"{c.dataset} on {c.runner}: score vs n (band: seed min–max)")
    _legend_below(ax)
    return _save(fig, out, f"score-vs-n-{_slug(c)}.png")


def _plot_score_vs_budget(frame: pd.DataFrame, c: Comparison, out: Path) -> Path:
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 5.6))
    cells = _cells(frame, c)
    n = int(cells["n"].max()) if len(cells) else 0
    styles = _styles(cells)
    for contender, part in cells[cells["n"] == n].groupby("contender"):
        style = styles[str(contender)]
        points = sorted(p for seed_curve in part["anytime"] for p in seed_curve)
        if not points:
            continue
        best, xs, ys = -math.inf, [], []
        for t, score in points:
            best = max(best, score)
            xs.append(t)
            ys.append(best)
        # The best model so far stands until the budget ends; markers show improvements.
        budget = float(part["budget"].max())
        ax.step(
            [*xs, max(budget, xs[-1])],
            [*ys, ys[-1]],
            where="post",
            color=style["color"],
            ls=style["ls"],
        )
        ax.plot(
            xs,
            ys,
            ls="none",
            ms=5,
            label=f"{contender}{_legend_flags(part)}",
            color=style["color"],
            marker=style["marker"],
        )
    if len(cells):
        ax.axvline(float(cells["budget"].max()), color="black", ls=":", label="budget")
    ax.set_xlabel("seconds of budget spent")
    ax.set_ylabel("best so far: " + _score_label(cells).split(" (")[0])
    ax.set_title(f"{c.dataset} on {c.runner}, n={n:,}: score vs budget (anytime)")
    _legend_below(ax)
    return _save(fig, out, f"score-vs-budget-{_slug(c)}.png")


def _plot_score_vs_cost(frame: pd.DataFrame, c: Comparison, out: Path) -> Path:
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 5.6))
    points = _cost_points(frame, c)
    for family in ("tree", "deep"):
        fam = [p for p in points if p[2][2] == family]
        ax.scatter(
            [p[0] for p in fam],
            [p[1] for p in fam],
            color=FAMILY_COLOURS[family],
            marker=_MARKERS[family][0],
            label=family,
            alpha=0.7,
        )
    front = pareto_front(points)
    ax.plot([p[0] for p in front], [p[1] for p in front], color="black", lw=1, label="Pareto front")
    costs = [p[0] for p in points if p[0] == p[0]]
    # Log only over a wide range of positive costs (a free runner has nothing to log-scale).
    if costs and min(costs) > 0 and max(costs) / min(costs) > 10:
        ax.set_xscale("log")
    ax.set_xlabel("USD per cell (fit + predict seconds × price; mean over seeds)")
    ax.set_ylabel(_score_label(_cells(frame, c)))
    ax.set_title(f"{c.dataset} on {c.runner}: score vs dollars")
    _legend_below(ax)
    return _save(fig, out, f"score-vs-cost-{_slug(c)}.png")


def _plot_resources(frame: pd.DataFrame, out: Path) -> Path:
    plt = _figure()
    ok = frame[frame["status"] == "ok"]
    stats = (
        ok.groupby(["contender", "family"])
        .agg(fit=("fit_seconds", "mean"), rss=("peak_rss_mb", "max"), vram=("peak_vram_mb", "max"))
        .reset_index()
    )
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 4.2))
    colours = [FAMILY_COLOURS.get(f) for f in stats["family"]]
    hatches = ["" if f == "tree" else "//" for f in stats["family"]]  # families in greyscale
    a.bar(stats["contender"], stats["fit"], color=colours, hatch=hatches)
    a.set_ylabel("mean fit wall-clock (s)")
    a.set_title("fit seconds (mean over cells)", fontsize=9)
    b.bar(stats["contender"], stats["rss"], color=colours, hatch=hatches)
    if stats["vram"].fillna(0).max() > 0:
        b.bar(stats["contender"], stats["vram"], color="orange", alpha=0.6, label="peak VRAM")
    b.set_ylabel("peak memory (MB)")
    b.set_title("peak RSS (max over cells)", fontsize=9)
    from matplotlib.patches import Patch

    handles = [
        Patch(facecolor=FAMILY_COLOURS["tree"], label="tree"),
        Patch(facecolor=FAMILY_COLOURS["deep"], hatch="//", label="deep"),
    ]
    b.legend(handles=[*handles, *b.get_legend_handles_labels()[0]], fontsize=7)
    fig.suptitle("Wall-clock and memory per contender")
    for axis in (a, b):
        # Anchored at the tick's right end, so long names (lightgbm+pixels) do not overlap.
        plt.setp(axis.get_xticklabels(), rotation=45, ha="right", rotation_mode="anchor", size=8)
    return _save(fig, out, "resources.png")


def render_markdown(blocks: list[Block], out: Path) -> str:
    lines: list[str] = []
    for b in blocks:
        if b.kind == "h1":
            lines += [f"# {b.content}", ""]
        elif b.kind == "h2":
            lines += [f"## {b.content}", ""]
        elif b.kind == "p":
            lines += [b.content, ""]
        elif b.kind == "table":
            header, rows = b.content
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "---|" * len(header))
            lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
            lines.append("")
        elif b.kind == "img":
            lines += [f"![{b.content.stem}]({b.content.relative_to(out)})", ""]
    return "\n".join(lines)


def render_html(blocks: list[Block]) -> str:
    import re

    def inline(text: str) -> str:
        return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text))

    body: list[str] = []
    for b in blocks:
        if b.kind in ("h1", "h2"):
            body.append(f"<{b.kind}>{html.escape(b.content)}</{b.kind}>")
        elif b.kind == "p":
            body.append(f"<p>{inline(b.content)}</p>")
        elif b.kind == "table":
            header, rows = b.content
            head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
            trs = "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in row) + "</tr>"
                for row in rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table>")
        elif b.kind == "img":
            data = base64.b64encode(b.content.read_bytes()).decode()
            body.append(
                f'<img alt="{html.escape(b.content.stem)}" src="data:image/png;base64,{data}">'
            )
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
        "line-height:1.45}table{border-collapse:collapse;margin:1em 0;font-size:14px}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
        "th{background:#f3f3f3}img{max-width:100%;margin:1em 0}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Treeline report</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>"
    )


def write_report(
    suite_name: str,
    description: str,
    frame: pd.DataFrame,
    out: Path,
    replays: pd.DataFrame | None = None,
) -> Path:
    """Write report.md, index.html and the PNGs into `out`; returns the Markdown path."""
    out.mkdir(parents=True, exist_ok=True)
    blocks = build(suite_name, description, frame, out, replays)
    (out / "report.md").write_text(render_markdown(blocks, out))
    (out / "index.html").write_text(render_html(blocks))
    return out / "report.md"
