"""The atlas: one page across every modality a result set holds — a modality × n grid of the gap
deep − tree with its interval and what binds it, the crossover per modality, the four questions,
time to target per modality, and the chapter's claims judged (claims.py).

It reads the same comparisons as the report; a runner is compared with itself at one budget
(the grid's rows are dataset × runner × budget), so suites of different budgets sit side by side.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from treeline.analysis.boundary import (
    BUDGET_FRACTIONS,
    Comparison,
    Gap,
    along_budget,
    compare,
    hardware,
)
from treeline.analysis.cells import metric_of, scale_of
from treeline.analysis.content import Block, gap_text, modality_text, size_text
from treeline.analysis.render import render_html, render_markdown

if TYPE_CHECKING:
    import pandas as pd

    from treeline.record.store import Recorded

ORDER = ("tabular", "image", "sequence", "audio", "text", "multimodal")


def at_budget(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with each runner named with its budget (`cpu @ 8 s`): the atlas compares the
    two families only at one budget."""
    if frame.empty:
        return frame
    return frame.assign(runner=frame["runner"] + " @ " + frame["budget"].map(lambda b: f"{b:g} s"))


def provenance(records: list[Recorded]) -> str:
    """'Measured on CPU (GPU: none) by Treeline 471bd8a, 2026-12-05 13:58 to 14:50 UTC.': where
    and when the cells ran, from their records' machine tags and clocks."""
    from datetime import UTC, datetime

    def kinds(key: str, default: str) -> str:
        return ", ".join(sorted({r.machine.get(key) or default for r in records}))

    commits = sorted({(r.machine.get("git_commit") or "unknown")[:12] for r in records})
    started = [r.result.started_at for r in records if math.isfinite(r.result.started_at)]
    ended = [r.result.ended_at for r in records if math.isfinite(r.result.ended_at)]
    when = ""
    if started and ended:
        a, b = (datetime.fromtimestamp(t, UTC) for t in (min(started), max(ended)))
        when = (
            f", {a:%Y-%m-%d %H:%M} to {b:%Y-%m-%d %H:%M} UTC"
            if a.date() != b.date()
            else (f", {a:%Y-%m-%d %H:%M} to {b:%H:%M} UTC")
        )
    return (
        f"Measured on {kinds('cpu', 'an unrecorded CPU')} (GPU: {kinds('gpu', 'none')}) by "
        f"Treeline {', '.join(commits)}{when}."
    )


def write_atlas(frame: pd.DataFrame, out: Path, sources: list[str], about: str = "") -> Path:
    """atlas.md, index.html and atlas.png into `out`; returns the Markdown path. `about`: where
    and when the cells ran (`provenance`)."""
    out.mkdir(parents=True, exist_ok=True)
    blocks = build(at_budget(frame), out, sources, about)
    (out / "atlas.md").write_text(render_markdown(blocks, out))
    (out / "index.html").write_text(render_html(blocks, "Treeline atlas"))
    return out / "atlas.md"


def _modality(frame: pd.DataFrame, c: Comparison) -> str:
    return str(frame[frame["dataset"] == c.dataset]["modality"].iloc[0])


def _sorted(frame: pd.DataFrame, comparisons: list[Comparison]) -> list[Comparison]:
    def key(c: Comparison) -> tuple:
        m = _modality(frame, c)
        return (ORDER.index(m) if m in ORDER else len(ORDER), m, c.dataset, c.runner)

    return sorted(comparisons, key=key)


def _grid_cell(g: Gap, metric: str, scale: float | None) -> str:
    """'deep +0.035 [+0.029, +0.042] (budget-bound)'."""
    if math.isnan(g.mean):
        return "–"
    who = "deep" if g.deep_ahead else "trees" if g.tree_ahead else "tie"
    binds = [f for f in ("budget-bound", "contended") if any(f in x for x in g.loser_flags())]
    return f"{who} {gap_text(g, metric, scale)}" + (f" ({', '.join(binds)})" if binds else "")


def build(frame: pd.DataFrame, out: Path, sources: list[str], about: str = "") -> list[Block]:
    from treeline.analysis.claims import judge, load_claims
    from treeline.analysis.content import bound_counts
    from treeline.analysis.targets import to_target

    comparisons = _sorted(frame, compare(frame))
    counts = frame["status"].value_counts().to_dict()
    blocks = [
        Block("h1", "Treeline atlas"),
        Block(
            "p",
            f"From {', '.join(sources)}: {len(frame)} cells, "
            + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
            + bound_counts(frame)
            + ". Each row compares the best tree with the best network of one dataset on one "
            "runner at one budget; the gap is deep − tree in the dataset's score (higher is "
            "better), with a 95 % interval over seeds and test rows."
            + (f" {about}" if about else ""),
        ),
        Block("h2", "Headline: who leads, by modality and size"),
    ]
    rows = []
    for c in comparisons:
        metric, scale = metric_of(frame, c), scale_of(frame, c)
        by_n = "; ".join(f"n={g.n:,}: {_grid_cell(g, metric, scale)}" for g in c.gaps)
        x = c.crossover
        star = f"n* ≈ {x.n_star:,.0f} ({x.verdict})" if x.n_star else x.verdict
        rows.append([_modality(frame, c), c.dataset, c.runner, by_n, star])
    blocks.append(
        Block("table", (["modality", "dataset", "runner", "gap by n", "crossover"], rows))
    )
    if comparisons:
        blocks.append(Block("img", plot_grid(frame, comparisons, out)))

    source, claims = load_claims()
    judged = judge(frame, comparisons, hardware(frame), claims)
    blocks.append(Block("h2", "The claims"))
    blocks.append(
        Block(
            "p",
            f"Each claim in Treeline's words, from {source}, judged by a rule over the cells "
            "above (confirmed, refuted, mixed, or not measured here and what it needs).",
        )
    )
    blocks.append(
        Block(
            "table",
            (
                ["#", "claim", "verdict", "evidence", "cells"],
                [
                    [
                        str(i),
                        j.claim.claim + (f" (judged: {j.claim.judged})" if j.claim.judged else ""),
                        j.status,
                        j.evidence,
                        str(len(j.cells)),
                    ]
                    for i, j in enumerate(judged, 1)
                ],
            ),
        )
    )
    blocks.append(Block("h2", "The four questions"))
    blocks.append(Block("p", "**Modality** — " + modality_text(frame, comparisons)))
    blocks.append(Block("p", "**Data size** — " + size_text(frame, comparisons)))
    hw = hardware(frame)
    blocks.append(
        Block(
            "p",
            "**Hardware** — "
            + (
                "; ".join(
                    f"{r['contender']} on {r['dataset']} n={r['n']:,}: {r['runner']} ×"
                    f"{r['speedup']:.2g} vs {r['baseline_runner']} ({r['source']})"
                    for r in hw
                )
                if hw
                else "one runner per dataset here; a GPU runner (or replays on one) answers it."
            ),
        )
    )
    targets = [t for t in to_target(frame) if t.reached]
    fastest: dict[tuple[str, str, str], list] = {}
    modality = frame.groupby("dataset")["modality"].first().to_dict()
    for t in targets:
        key = (modality.get(t.dataset, "?"), t.dataset, t.runner)
        fastest.setdefault(key, []).append(t)
    rows = []
    for (mod, dataset, runner), found in sorted(fastest.items()):
        n = max(t.n for t in found)
        at_n = [t for t in found if t.n == n]
        for family in ("tree", "deep"):
            mine = sorted((t for t in at_n if t.family == family), key=lambda t: t.seconds)
            if mine:
                t = mine[0]
                rows.append(
                    [mod, dataset, runner, f"{n:,}", family, t.contender, t.text, f"${t.usd:.6f}"]
                )
    by_fraction = along_budget(frame)
    verdicts: dict[tuple[str, str], list[str]] = {(c.dataset, c.runner): [] for c in comparisons}
    for f in BUDGET_FRACTIONS:
        for c in by_fraction[f]:
            verdicts.setdefault((c.dataset, c.runner), []).append(c.crossover.verdict)
    blocks.append(
        Block(
            "p",
            "**Iteration budget** — the verdict re-read off the anytime curves at fractions of "
            "each budget (a family without a model yet: no data):",
        )
    )
    blocks.append(
        Block(
            "table",
            (
                ["dataset", "runner", *(f"{f:g} of the budget" for f in BUDGET_FRACTIONS)],
                [[d, r, *v] for (d, r), v in verdicts.items()],
            ),
        )
    )
    blocks.append(
        Block(
            "p",
            "Time and cost to target (within one point of the best mean at the largest size; "
            "the fastest of each family that got there):",
        )
    )
    blocks.append(
        Block(
            "table",
            (
                ["modality", "dataset", "runner", "n", "family", "contender", "to target", "USD"],
                rows,
            ),
        )
    )
    blocks.append(Block("h2", "Evidence cells"))
    blocks.append(
        Block(
            "p",
            "The cells each claim's verdict rests on (the claims table's last column), by id: "
            "`treeline replay ID` runs one again, the MLflow UI finds it by its run name.",
        )
    )
    for i, j in enumerate(judged, 1):
        if j.cells:
            blocks.append(Block("p", f"**{i}. {j.claim.id}** — {', '.join(j.cells)}"))
    return blocks


def plot_grid(frame: pd.DataFrame, comparisons: list[Comparison], out: Path) -> Path:
    """One row per dataset × runner, one marker per size: who leads (colour), decided or tied,
    and hollow where the side behind was budget-bound or contended."""
    from treeline.analysis.plots import FAMILY_COLOURS, _figure, _save

    plt = _figure()
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(comparisons) + 1.8))
    labels = []
    for y, c in enumerate(comparisons):
        labels.append(f"{_modality(frame, c)} · {c.dataset} · {c.runner}")
        for g in c.gaps:
            if math.isnan(g.mean):
                continue
            colour = (
                FAMILY_COLOURS["deep"]
                if g.deep_ahead
                else FAMILY_COLOURS["tree"]
                if g.tree_ahead
                else "#9e9e9e"
            )
            hollow = any(f in x for x in g.loser_flags() for f in ("budget-bound", "contended"))
            ax.scatter(
                [g.n],
                [y],
                s=90,
                marker="o",
                facecolors="none" if hollow else colour,
                edgecolors=colour,
                linewidths=2,
            )
    ax.set_xscale("log")
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("n (labelled examples)")
    for name, colour in (("networks ahead", "deep"), ("trees ahead", "tree")):
        ax.scatter([], [], color=FAMILY_COLOURS[colour], label=name)
    ax.scatter([], [], color="#9e9e9e", label="no significant difference")
    ax.scatter(
        [], [], facecolors="none", edgecolors="black", label="side behind budget-bound or contended"
    )
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
    ax.set_title("Who leads, by modality and size (deep − tree, 95 % interval)")
    return _save(fig, out, "atlas.png")
