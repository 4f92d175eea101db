"""The chapter's claims (claims.yaml) judged over recorded cells: confirmed, refuted, mixed, or
not measured here (with what it needs), each with a one-line evidence and the cells behind it.

Each rule reads the same comparisons as the report (boundary.py), so a claim never disagrees
with the verdicts it rests on; a lead that the budget or the machine decided is counted and
said (budget-bound, contended).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from treeline.analysis.boundary import Comparison, Gap, paired_bootstrap, rows_and_seeds

if TYPE_CHECKING:
    import pandas as pd

CLAIMS_FILE = Path(__file__).with_name("claims.yaml")
Status = str  # "confirmed" | "refuted" | "mixed" | "not measured"
# Networks that start from pretrained weights (the others train from scratch).
PRETRAINED = ("minilm-head", "minilm-finetune", "mobilenet-v2")
AFTERNOON_SECONDS = 4 * 3600.0  # "hundreds of experiments in an afternoon": 100 in 4 hours
MINUTES = 60.0  # "a network takes minutes to hours a run"


@dataclass(frozen=True)
class Claim:
    id: str
    claim: str
    rule: str
    needs: str
    params: dict[str, Any] = field(default_factory=dict)
    judged: str = ""  # what the rule does not judge of the claim's words


@dataclass(frozen=True)
class Judged:
    claim: Claim
    status: Status
    evidence: str
    cells: tuple[str, ...] = ()


def load_claims(path: Path = CLAIMS_FILE) -> tuple[str, list[Claim]]:
    """(the source they cite, the claims) from the package's claims file."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    claims = []
    for d in data["claims"]:
        d = dict(d)
        fixed = {k: d.pop(k) for k in ("id", "claim", "rule", "needs")}
        judged = d.pop("judged", "")
        claims.append(Claim(**fixed, params=d, judged=judged))
    return data["source"], claims


def judge(
    frame: pd.DataFrame,
    comparisons: list[Comparison],
    hardware_rows: list[dict[str, Any]] | None = None,
    claims: list[Claim] | None = None,
) -> list[Judged]:
    """Every claim judged on `frame` (records_frame) and its `comparisons` (boundary.compare)."""
    if claims is None:
        _, claims = load_claims()
    rules = {
        "leader": lambda c: _leader(c, frame, comparisons),
        "pretrained": lambda c: _pretrained(c, frame),
        "cpu-viability": lambda c: _cpu_viability(c, frame),
        "gpu-price": lambda c: _gpu_price(c, hardware_rows or []),
        "trial-time": lambda c: _trial_time(c, frame),
        "gpu-scale": lambda c: _gpu_scale(c, hardware_rows or []),
    }
    return [rules[c.rule](c) for c in claims]


def _not_measured(c: Claim) -> Judged:
    return Judged(c, "not measured", f"not measured here: needs {c.needs}")


def _tally(good: int, bad: int, total: int, every: bool = False) -> Status:
    """Confirmed when the claim holds at least half the time (every time, for `every`) and is
    never contradicted; refuted when the contrary holds at least half the time and the claim
    never; mixed otherwise."""
    half = math.ceil(total / 2)
    if bad == 0 and good >= (total if every else half):
        return "confirmed"
    if good == 0 and bad >= half:
        return "refuted"
    return "mixed"


def _cells_of(frame: pd.DataFrame, c: Comparison, g: Gap) -> list[str]:
    rows = frame[
        (frame["dataset"] == c.dataset)
        & (frame["runner"] == c.runner)
        & (frame["n"] == g.n)
        & frame["contender"].isin([g.tree, g.deep])
    ]
    return sorted(rows["cell_id"])


def _leader(claim: Claim, frame: pd.DataFrame, comparisons: list[Comparison]) -> Judged:
    """Who leads at each size of the claim's modality and range. With `short_below`, the claim
    has two halves: networks ahead on series that long or longer, trees holding (not behind)
    on shorter ones."""
    p = claim.params
    modality = frame.groupby("dataset")["modality"].first().to_dict() if len(frame) else {}
    lo, hi = float(p.get("n_min", 0)), float(p.get("n_max", math.inf))
    found = [
        (c, g)
        for c in comparisons
        if modality.get(c.dataset) == p["modality"]
        for g in c.gaps
        if not math.isnan(g.mean) and lo <= g.n <= hi
    ]
    short_below = p.get("short_below")
    lengths = {c.dataset: series_length(c.dataset) for c, _ in found}
    unknown = sorted({d for d, length in lengths.items() if length is None})
    if short_below is not None:
        found = [(c, g) for c, g in found if lengths[c.dataset] is not None]
    if not found:
        judged = _not_measured(claim)
        if unknown:
            told = f"; series length unknown for {', '.join(unknown)}"
            return Judged(claim, judged.status, judged.evidence + told)
        return judged

    def expect(c: Comparison) -> str:
        if short_below is None:
            return p["expect"]
        return p["expect"] if lengths[c.dataset] >= short_below else "hold"

    def good(c: Comparison, g: Gap) -> bool:
        return {
            "deep": g.deep_ahead,
            "trees": g.tree_ahead,
            "not-trees": not g.tree_ahead,
            "hold": not g.deep_ahead,
        }[expect(c)]

    def bad(c: Comparison, g: Gap) -> bool:
        return g.tree_ahead if expect(c) in ("deep", "not-trees") else g.deep_ahead

    k_good, k_bad = sum(good(c, g) for c, g in found), sum(bad(c, g) for c, g in found)
    status = _tally(k_good, k_bad, len(found), every=bool(p.get("every")))
    if short_below is not None:
        status = _halves([(good(c, g), bad(c, g), expect(c) != "hold") for c, g in found], status)
    bound = [g for _, g in found if _bound(g)]

    def where(c: Comparison, g: Gap) -> str:
        length = f", length {lengths[c.dataset]}" if short_below is not None else ""
        return f"{c.dataset} n={g.n:,}{length} on {c.runner}: {_lead(g)}"

    evidence = (
        f"{k_good} of {len(found)} sizes as claimed, {k_bad} against "
        f"({'; '.join(where(c, g) for c, g in found)})"
        + (
            f"; {len(bound)} decided against a side that was budget-bound or contended"
            if bound
            else ""
        )
        + (f"; series length unknown for {', '.join(unknown)}" if unknown and short_below else "")
    )
    cells = tuple(sorted({x for c, g in found for x in _cells_of(frame, c, g)}))
    return Judged(claim, status, evidence, cells)


def _halves(marks: list[tuple[bool, bool, bool]], overall: Status) -> Status:
    """A two-part claim (long series / short series) is confirmed only when each part measured
    is, refuted when each part measured is refuted, mixed otherwise."""
    parts = []
    for long in (True, False):
        mine = [(g, b) for g, b, is_long in marks if is_long == long]
        if mine:
            parts.append(_tally(sum(g for g, _ in mine), sum(b for _, b in mine), len(mine)))
    if parts and all(x == "confirmed" for x in parts):
        return "confirmed"
    if parts and all(x == "refuted" for x in parts):
        return "refuted"
    return "mixed" if overall != "not measured" else overall


def series_length(dataset: str) -> int | None:
    """Steps per series of a built-in sequence dataset (by its label), or None."""
    from treeline.data import builtin_names, dataset_class

    if dataset not in builtin_names():
        return None
    return dataset_class(dataset).series_length


def _bound(g: Gap) -> bool:
    """The side behind was still improving at the end of its budget, or on a loaded machine."""
    from treeline.analysis.flags import has
    from treeline.execute.result import BUDGET_BOUND_FLAG, CONTENDED_FLAG

    flags = g.loser_flags()
    return has(flags, BUDGET_BOUND_FLAG) or has(flags, CONTENDED_FLAG)


def _lead(g: Gap) -> str:
    if g.deep_ahead:
        return f"networks ahead ({g.deep} {g.mean:+.4g})"
    if g.tree_ahead:
        return f"trees ahead ({g.tree} {-g.mean:+.4g})"
    return "tied"


def _base(label: str) -> str:
    return label.split("+")[0]


def _pretrained(claim: Claim, frame: pd.DataFrame) -> Judged:
    """At each (dataset, runner, n) under n_max with both: the best pretrained network against
    the best from-scratch network, paired over seeds (a seed-bootstrap interval)."""
    ok = frame[(frame["status"] == "ok") & (frame["family"] == "deep")]
    ok = ok[ok["n"] < float(claim.params.get("n_max", math.inf))]
    pre = ok["contender"].map(lambda x: _base(str(x)) in PRETRAINED)
    good = bad = total = 0
    parts, cells = [], []
    for (dataset, runner, n), at in ok.assign(pre=pre).groupby(["dataset", "runner", "n"]):
        if at["pre"].all() or not at["pre"].any():
            continue
        best = {}
        for is_pre, side in at.groupby("pre"):
            name = side.groupby("contender")["test_score"].mean().idxmax()
            rows = side[side["contender"] == name]
            best[bool(is_pre)] = (name, dict(zip(rows["seed"], rows["test_score"], strict=True)))
            cells += list(rows["cell_id"])
        # Over seeds and test rows where predictions are stored (one seed still has an
        # interval), else over seeds; a difference without an interval decides nothing.
        found = rows_and_seeds(at, best[False][0], best[True][0])
        mean, low, high = found or paired_bootstrap(best[False][1], best[True][1])
        if math.isnan(mean):
            continue
        total += 1
        ahead, behind = low > 0, high < 0
        good, bad = good + ahead, bad + behind
        within = "" if math.isnan(low) else f" [{low:+.4g}, {high:+.4g}]"
        parts.append(
            f"{dataset} n={n:,} on {runner}: {best[True][0]} − {best[False][0]} {mean:+.4g}{within}"
        )
    if not total:
        return _not_measured(claim)
    status = _tally(good, bad, total)
    evidence = (
        f"pretrained ahead at {good} of {total} sizes, behind at {bad}, level at "
        f"{total - good - bad} ({'; '.join(parts)})"
    )
    return Judged(claim, status, evidence, tuple(sorted(cells)))


def _cpu_viability(claim: Claim, frame: pd.DataFrame) -> Judged:
    """On CPU runners: how many from-scratch network cells were still improving at the end of
    their budget or completed one trial, against the trees."""
    from treeline.analysis.flags import has
    from treeline.execute.result import BUDGET_BOUND_FLAG, UNTUNED_FLAG

    ok = frame[(frame["status"] == "ok") & (frame["device"] == "cpu")]
    if "converged" not in ok:
        return _not_measured(claim)
    ok = ok[ok["converged"].notna()]
    scratch = ok[(ok["family"] == "deep") & ~ok["contender"].map(lambda x: _base(x) in PRETRAINED)]
    trees = ok[ok["family"] == "tree"]
    if scratch.empty or trees.empty:
        return _not_measured(claim)

    def stuck(cells: pd.DataFrame) -> float:
        flagged = [has(f, BUDGET_BOUND_FLAG) or has(f, UNTUNED_FLAG) for f in cells["flags"]]
        return sum(flagged) / len(flagged)

    deep_share, tree_share = stuck(scratch), stuck(trees)
    status = (
        "confirmed"
        if deep_share >= 0.5 and tree_share < deep_share
        else "refuted"
        if deep_share <= 0.2
        else "mixed"
    )
    evidence = (
        f"on the CPU {deep_share:.0%} of {len(scratch)} network cells were budget-bound or "
        f"untuned, against {tree_share:.0%} of {len(trees)} tree cells"
    )
    return Judged(claim, status, evidence, tuple(sorted(scratch["cell_id"])))


def _gpu_price(claim: Claim, hardware_rows: list[dict[str, Any]]) -> Judged:
    """Between two GPU runners: the speed-up against the price ratio."""
    rows = [r for r in hardware_rows if r.get("baseline_device") == r.get("device") == "cuda"]
    rows = [r for r in rows if r.get("price_ratio", 0) > 1 and not math.isnan(r["speedup"])]
    if not rows:
        return _not_measured(claim)
    far = sum(r["speedup"] < 0.5 * r["price_ratio"] for r in rows)
    near = sum(r["speedup"] >= r["price_ratio"] for r in rows)
    status = _tally(far, near, len(rows))
    parts = [
        f"{r['contender']} on {r['runner']} vs {r['baseline_runner']}: ×{r['speedup']:.2g} "
        f"faster for ×{r['price_ratio']:.2g} the price"
        for r in rows
    ]
    return Judged(claim, status, "; ".join(parts))


def _trial_time(claim: Claim, frame: pd.DataFrame) -> Judged:
    """Median seconds per trial of the trees and of the networks (fit seconds ÷ trials)."""
    ok = frame[(frame["status"] == "ok") & (frame["n_trials"] > 0)]
    per = ok.assign(per_trial=ok["fit_seconds"] / ok["n_trials"])
    trees, deep = per[per["family"] == "tree"], per[per["family"] == "deep"]
    if trees.empty or deep.empty:
        return _not_measured(claim)
    t, d = statistics.median(trees["per_trial"]), statistics.median(deep["per_trial"])
    hundred = 100 * t <= AFTERNOON_SECONDS
    minutes = d >= MINUTES
    status = "confirmed" if hundred and minutes else "refuted" if not hundred else "mixed"
    evidence = (
        f"a tree trial took {t:.3g} s (median of {len(trees)} cells: "
        f"{AFTERNOON_SECONDS / t:,.0f} in 4 hours), a network trial {d:.3g} s "
        f"(median of {len(deep)} cells)"
        + (
            "; the networks' trials were cut by budgets under a minute, so their length is the "
            "budget's"
            if not minutes and float(deep["budget"].max()) < MINUTES
            else ""
        )
    )
    return Judged(claim, status, evidence)


def _gpu_scale(claim: Claim, hardware_rows: list[dict[str, Any]]) -> Judged:
    """GPU vs CPU speed-up of one contender at its smallest and largest size."""
    rows = [
        r for r in hardware_rows if r.get("device") == "cuda" and r.get("baseline_device") == "cpu"
    ]
    by: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        by.setdefault((r["dataset"], r["contender"]), []).append(r)
    pairs = [sorted(v, key=lambda r: r["n"]) for v in by.values() if len({r["n"] for r in v}) > 1]
    if not pairs:
        return _not_measured(claim)
    grows = sum(p[-1]["speedup"] > 1.5 * p[0]["speedup"] for p in pairs)
    flat = sum(p[-1]["speedup"] <= p[0]["speedup"] for p in pairs)
    status = _tally(grows, flat, len(pairs))
    parts = [
        f"{p[0]['contender']} on {p[0]['dataset']}: ×{p[0]['speedup']:.2g} at n={p[0]['n']:,}, "
        f"×{p[-1]['speedup']:.2g} at n={p[-1]['n']:,}"
        for p in pairs
    ]
    return Judged(claim, status, "; ".join(parts))
