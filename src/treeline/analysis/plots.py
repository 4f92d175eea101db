"""The report's PNG plots: score vs n, vs budget, vs dollars, and wall-clock and memory.

matplotlib is imported inside the functions: only writing a report pays for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from treeline.analysis.boundary import Comparison, pareto_front
from treeline.analysis.cells import (
    cells_of,
    cost_points,
    mean_of,
    metric_of,
    scale_of,
    score_text,
)
from treeline.analysis.flags import flags
from treeline.data.metrics import NAMES

if TYPE_CHECKING:
    import pandas as pd

FAMILY_COLOURS = {"tree": "#2e7d32", "deep": "#6a1b9a"}


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, out: Path, name: str) -> Path:
    path = out / name
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")  # the legend below the axes included
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
    """Below the axes, in two columns (one where labels carry flags): a legend never hides the
    data it explains, and the saved figure grows to hold it (`_save`)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ncol = 1 if max(map(len, labels)) > 45 else 2
        ax.legend(fontsize=7, ncol=ncol, loc="upper center", bbox_to_anchor=(0.5, -0.14))


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


def plot_score_vs_n(frame: pd.DataFrame, c: Comparison, out: Path) -> Path:
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 5.6))
    cells = cells_of(frame, c)
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
            mean_of(getattr(g, f"{family}_scores"))
            for g in c.gaps
            if getattr(g, f"{family}_scores")
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
            metric = metric_of(frame, c)
            value = score_text(metric, base.mean(), scale_of(frame, c))
            value = f"{NAMES.get(metric, metric)} {value}"
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


def seed_mean_curve(
    curves: list[list[tuple[float, float]]], budget: float
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Per seed, the test score of the best model by validation so far (a step function of its
    anytime points: never a maximum over test scores); on the union of their times, from the
    first time every seed has a model to the budget: (times, mean, low, high), the band the
    seeds' minimum and maximum. A model that finished within the grace after the budget counts
    at the budget, as the cell's own result does (targets.first_reach); one past it, never."""
    import numpy as np

    from treeline.execute.budget import Budget

    limit = Budget(budget).limit
    curves = [sorted((min(t, budget), s) for t, s in c if t <= limit) for c in curves]
    # The mean is taken only where every seed has a model: a seed without one has no score, and
    # a mean over the seeds that do would be a different, luckier population. So nothing is
    # drawn before the last seed's first model, and nothing at all for a contender one of whose
    # seeds never had a model within the budget.
    if not curves or not all(curves):
        return [], [], [], []
    start = max(c[0][0] for c in curves)
    times = sorted({t for c in curves for t, _ in c if t >= start} | {start, budget})
    values = np.array(
        [[next(s for t0, s in reversed(c) if t0 <= t) for t in times] for c in curves]
    )
    return times, list(values.mean(axis=0)), list(values.min(axis=0)), list(values.max(axis=0))


def plot_score_vs_budget(frame: pd.DataFrame, c: Comparison, out: Path) -> Path:
    """Per contender at the largest n: the seed mean of each seed's best-by-validation test
    score against the budget clock, with the seeds' min–max band, from 0 to the budget."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 5.6))
    cells = cells_of(frame, c)
    n = int(cells["n"].max()) if len(cells) else 0
    styles = _styles(cells)
    seeds = 0
    budget = float(cells["budget"].max()) if len(cells) else 0.0
    for contender, part in cells[cells["n"] == n].groupby("contender"):
        style = styles[str(contender)]
        times, mean, low, high = seed_mean_curve(list(part["anytime"]), budget)
        if not times:  # said in the legend, not left for the reader to notice
            ax.plot([], [], ls="none", label=f"{contender}: no curve (a seed without a model)")
            continue
        seeds = max(seeds, len(part))
        ax.step(times, mean, where="post", color=style["color"], ls=style["ls"])
        if len(part) > 1:
            ax.fill_between(times, low, high, step="post", color=style["color"], alpha=0.15)
        ax.plot(
            times[:1],
            mean[:1],
            ls="none",
            ms=5,
            label=f"{contender}{_legend_flags(part)}",
            color=style["color"],
            marker=style["marker"],
        )
    if len(cells):
        ax.axvline(budget, color="black", ls=":", label=f"budget ({budget:g} s)")
        ax.set_xlim(0, budget * 1.03)
    ax.set_xlabel(
        "seconds of budget spent (budget clock; a model done within the grace counts at the "
        "budget)",
        fontsize=8,
    )
    score = _score_label(cells).split(" (")[0].replace("test score: ", "test ")
    seeds_text = f"mean of {seeds} seeds, band: their min–max" if seeds > 1 else "one seed"
    ax.set_ylabel(f"{score} of the model best so far\non validation ({seeds_text})", fontsize=9)
    ax.set_title(f"{c.dataset} on {c.runner}, n={n:,}: score vs budget (anytime)")
    _legend_below(ax)
    return _save(fig, out, f"score-vs-budget-{_slug(c)}.png")


def plot_score_vs_cost(frame: pd.DataFrame, c: Comparison, out: Path) -> Path:
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 5.6))
    points = cost_points(frame, c)
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
    for n in sorted({p[2][1] for p in points}):  # fronts per size: costs compare at equal n
        front = pareto_front([p for p in points if p[2][1] == n])
        ax.plot([p[0] for p in front], [p[1] for p in front], color="black", lw=0.8, alpha=0.6)
    ax.plot([], [], color="black", lw=0.8, label="Pareto front at each n")
    costs = [p[0] for p in points if p[0] == p[0]]
    # Log only over a wide range of positive costs (a free runner has nothing to log-scale).
    if costs and min(costs) > 0 and max(costs) / min(costs) > 10:
        ax.set_xscale("log")
    _dollar_axis(ax, costs)
    ax.set_xlabel("USD per cell (fit + predict seconds × price; mean over seeds)")
    ax.set_ylabel(_score_label(cells_of(frame, c)))
    ax.set_title(f"{c.dataset} on {c.runner}: score vs dollars")
    _legend_below(ax)
    _label_points(  # every point says what it is
        ax, [(cost, score, f"{contender} n={n:,}") for cost, score, (contender, n, _) in points]
    )
    return _save(fig, out, f"score-vs-cost-{_slug(c)}.png")


def _dollar_axis(ax: Any, costs: list[float]) -> None:
    """Dollars as dollars (no offset exponent), few enough ticks to read, each with as many
    decimals as it takes to tell the ticks apart, and no more."""
    import math

    from matplotlib.ticker import FuncFormatter, MaxNLocator

    if not costs or ax.get_xscale() != "linear":
        return
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    spread = max(costs) - min(costs) or max(abs(max(costs)), 1e-9)
    decimals = max(2, min(8, 1 - math.floor(math.log10(spread / 5))))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"${x:,.{decimals}f}"))
    ax.tick_params(axis="x", labelsize=7)


def label_offsets(boxes: list[tuple[float, float, float, float]], step: float) -> list[float]:
    """Vertical shifts (display units, downwards) that keep labels from overlapping: each label,
    in the order given, moves down by `step` until its box (x0, y0, x1, y1) meets none placed
    before it."""
    placed: list[tuple[float, float, float, float]] = []
    shifts = []
    for x0, y0, x1, y1 in boxes:
        shift = 0.0
        while any(
            x0 < p1 and p0 < x1 and y0 - shift < q1 and q0 < y1 - shift for p0, q0, p1, q1 in placed
        ):
            shift += step
        placed.append((x0, y0 - shift, x1, y1 - shift))
        shifts.append(shift)
    return shifts


def _label_points(ax: Any, points: list[tuple[float, float, str]]) -> None:
    """A small label beside every point; labels that would overlap are stacked below one
    another, each with a thin line back to its point. Call it once the axes are laid out."""
    points = sorted(
        (p for p in points if p[0] == p[0] and p[1] == p[1]), key=lambda p: (-p[1], p[0])
    )
    texts = [
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7)
        for x, y, label in points
    ]
    if not texts:
        return
    fig = ax.figure
    fig.tight_layout()
    renderer = fig.canvas.get_renderer()
    boxes = [tuple(t.get_window_extent(renderer).extents) for t in texts]
    step = (boxes[0][3] - boxes[0][1]) * 1.1
    points_per_pixel = 72 / fig.dpi
    for (x, y, label), text, shift in zip(points, texts, label_offsets(boxes, step), strict=True):
        if shift:
            text.remove()
            ax.annotate(
                label,
                (x, y),
                textcoords="offset points",
                xytext=(4, 3 - shift * points_per_pixel),
                fontsize=7,
                arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "grey", "shrinkA": 0},
            )


def plot_resources(frame: pd.DataFrame, out: Path) -> Path:
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
