"""The boundary: from recorded cells to where deep learning starts to win, with intervals.

Reads results only (no re-running). Per (dataset, runner): the best tree and the best deep
contender at each n (best = highest mean test score over seeds among finished cells), their
per-seed scores, the gap deep − tree with a bootstrap interval over the seeds and each seed's
test rows (from the stored predictions), the crossover size n* (either way) and what binds the
verdict besides the data (budget-bound, contended). The same comparison along the budget axis
(anytime curves at fractions of the budget), the cost axis (score against dollars, the Pareto
front) and the hardware axis (one contender on several runners).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

BOOTSTRAP = 2000
CONFIDENCE = 0.95
MIN_SEEDS = 3  # fewer paired seeds give an interval too rough to call: marked indicative
BUDGET_FRACTIONS = (0.125, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class Gap:
    """deep − tree at one n, paired over the seeds both families finished."""

    n: int
    tree: str | None
    deep: str | None
    tree_scores: dict[int, float]
    deep_scores: dict[int, float]
    mean: float  # NaN when a family has no finished cell at this n
    low: float  # NaN with fewer than two paired seeds: one seed gives no interval
    high: float
    tree_flags: tuple[str, ...] = ()  # analysis/flags.py: ≈ baseline, untuned, budget-bound…
    deep_flags: tuple[str, ...] = ()
    # What the interval resamples: the seeds and each seed's test rows (from the stored
    # predictions), or the seeds alone (records without predictions).
    interval: str = "seeds"

    @property
    def n_seeds(self) -> int:
        return len(set(self.tree_scores) & set(self.deep_scores))

    @property
    def deep_ahead(self) -> bool:
        """Deep's interval lies above zero (without one: its point estimate, flagged)."""
        if math.isnan(self.mean):
            return False
        return self.low > 0 if not math.isnan(self.low) else self.mean > 0

    @property
    def tree_ahead(self) -> bool:
        if math.isnan(self.mean):
            return False
        return self.high < 0 if not math.isnan(self.high) else self.mean < 0

    def loser_flags(self) -> tuple[str, ...]:
        """The flags of the family that is behind here (none where neither is)."""
        return self.tree_flags if self.deep_ahead else self.deep_flags if self.tree_ahead else ()


ROWS_AND_SEEDS = "seeds and test rows"


@dataclass(frozen=True)
class Crossover:
    # "crossover" | "reverse crossover" | "trees ahead" | "deep ahead" | "no crossover" |
    # "no significant difference" | "no data"
    verdict: str
    n_star: float | None  # interpolated in log n, for a crossover either way
    text: str
    indicative: bool  # fewer than MIN_SEEDS seeds somewhere: an estimate, not a finding
    # What decides the verdict besides the data: "budget-bound" (a family behind at some size
    # was still improving when its budget ended), "contended" (a loaded machine).
    binds: tuple[str, ...] = ()


@dataclass
class Comparison:
    dataset: str
    runner: str
    gaps: list[Gap]
    crossover: Crossover
    missing: list[str] = field(default_factory=list)  # cells not ok, shown not hidden


def paired_bootstrap(
    tree: dict[int, float], deep: dict[int, float], seed: int = 0
) -> tuple[float, float, float]:
    """Mean of deep − tree over shared seeds and its percentile bootstrap interval."""
    seeds = sorted(set(tree) & set(deep))
    if not seeds:
        return math.nan, math.nan, math.nan
    diff = np.array([deep[s] - tree[s] for s in seeds])
    if len(diff) < 2:
        return float(diff.mean()), math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (BOOTSTRAP, len(diff)))].mean(axis=1)
    alpha = (1 - CONFIDENCE) / 2
    return (
        float(diff.mean()),
        float(np.quantile(means, alpha)),
        float(np.quantile(means, 1 - alpha)),
    )


def family_best(frame: pd.DataFrame, family: str) -> tuple[str | None, dict[int, float]]:
    """The family's contender with the best mean test score, and its per-seed scores."""
    ok = frame[(frame["family"] == family) & (frame["status"] == "ok")]
    if ok.empty:
        return None, {}
    means = ok.groupby("contender")["test_score"].mean()
    best = str(means.idxmax())
    rows = ok[ok["contender"] == best]
    return best, dict(zip(rows["seed"].astype(int), rows["test_score"].astype(float), strict=True))


def gaps_along_n(frame: pd.DataFrame, score_column: str = "test_score") -> list[Gap]:
    """One Gap per tested n of one (dataset, runner)."""
    out = []
    from treeline.analysis.flags import flags

    for n, at_n in sorted(frame.groupby("n"), key=lambda kv: kv[0]):
        at_n = at_n.assign(test_score=at_n[score_column])
        tree, t_scores = family_best(at_n, "tree")
        deep, d_scores = family_best(at_n, "deep")
        ok = at_n[at_n["status"] == "ok"]
        rows = None
        if score_column == "test_score" and tree and deep:  # predictions are of the final model
            rows = rows_and_seeds(ok, tree, deep)
        if rows is not None:
            (mean, low, high), how = rows, ROWS_AND_SEEDS
        else:
            (mean, low, high), how = paired_bootstrap(t_scores, d_scores), "seeds"
        t_flags = tuple(flags(ok[ok["contender"] == tree])) if tree else ()
        d_flags = tuple(flags(ok[ok["contender"] == deep])) if deep else ()
        out.append(
            Gap(int(n), tree, deep, t_scores, d_scores, mean, low, high, t_flags, d_flags, how)
        )
    return out


def rows_and_seeds(ok: pd.DataFrame, tree: str, deep: str) -> tuple[float, float, float] | None:
    """deep − tree over the seeds both finished, with an interval that resamples the seeds and,
    within each, the test rows (paired: both models on the same rows), from the stored test
    predictions. None where a cell has none stored."""
    from treeline.analysis.resample import interval, paired_difference, pooled
    from treeline.execute.predictions import load

    if "predictions" not in ok:
        return None
    by = {(r.contender, int(r.seed)): r for r in ok.itertuples() if r.contender in (tree, deep)}
    seeds = sorted({s for c, s in by if c == tree} & {s for c, s in by if c == deep})
    draws, means = [], []
    for seed in seeds:
        t, d = by[tree, seed], by[deep, seed]
        if t.predictions is None or d.predictions is None:
            return None
        diff, _ = paired_difference(t.task, t.metric, load(t.predictions), load(d.predictions))
        draws.append(diff)
        means.append(d.test_score - t.test_score)
    if not draws:
        return None
    low, high = interval(pooled(draws))
    return float(np.mean(means)), low, high


def crossover(gaps: list[Gap]) -> Crossover:
    """Where the leader changes as n grows, either way.

    A crossover: the smallest tested n from which deep is ahead at every larger tested n,
    after sizes where it was not; a reverse crossover: the same for trees, after sizes where
    deep was ahead. n* is interpolated in log n between the last size before and the first
    from; the other verdicts: one family ahead everywhere, or no significant difference.
    """
    gaps = [g for g in gaps if not math.isnan(g.mean)]
    indicative = any(g.n_seeds < MIN_SEEDS for g in gaps)
    if not gaps:
        return Crossover("no data", None, "no size where both families finished", indicative)

    def ahead_from(side: str) -> int:
        """The index from which `side` is ahead at every larger size (len: nowhere)."""
        first = len(gaps)
        while first > 0 and getattr(gaps[first - 1], side):
            first -= 1
        return first

    for side, name, who in (
        ("deep_ahead", "crossover", "deep"),
        ("tree_ahead", "reverse crossover", "trees"),
    ):
        first = ahead_from(side)
        if first == 0:
            return Crossover(
                f"{who} ahead", None, f"{who} ahead across the tested range", indicative
            )
        # A reverse crossover needs deep ahead somewhere below; a crossover does not need
        # trees ahead below (deep catching up from a tie is the chapter's claim).
        if first < len(gaps) and (side == "deep_ahead" or any(g.deep_ahead for g in gaps[:first])):
            lo, hi = gaps[first - 1], gaps[first]
            n_star = _zero_between(lo, hi)
            below = "" if side == "deep_ahead" else ", deep ahead below: a reverse crossover"
            return Crossover(
                name,
                n_star,
                f"{who} ahead from n ≈ {n_star:,.0f} (between {lo.n:,} and {hi.n:,}){below}",
                indicative,
            )
    ahead = [g.deep_ahead for g in gaps]
    if any(ahead):
        sizes = ", ".join(f"{g.n:,}" for g in gaps if g.deep_ahead)
        return Crossover(
            "no crossover",
            None,
            f"deep ahead only at n = {sizes}, not at the "
            "largest size: no crossover in the tested range",
            indicative,
        )
    if any(g.tree_ahead for g in gaps):
        sizes = ", ".join(f"{g.n:,}" for g in gaps if g.tree_ahead)
        return Crossover(
            "trees ahead",
            None,
            f"trees ahead at n = {sizes}, no significant "
            "difference elsewhere: no crossover in the tested range",
            indicative,
        )
    return Crossover(
        "no significant difference",
        None,
        "no significant difference at any tested size",
        indicative,
    )


def _zero_between(lo: Gap, hi: Gap) -> float:
    """Where the gap crosses zero between two sizes, interpolated in log n (else `lo.n`)."""
    if lo.mean * hi.mean < 0:
        t = -lo.mean / (hi.mean - lo.mean)
        return math.exp(math.log(lo.n) + t * (math.log(hi.n) - math.log(lo.n)))
    return float(lo.n)


def compare(frame: pd.DataFrame, score_column: str = "test_score") -> list[Comparison]:
    """Every (dataset, runner) of a results table."""
    out = []
    for (dataset, runner), part in frame.groupby(["dataset", "runner"], sort=True):
        gaps = gaps_along_n(part, score_column)
        missing = [
            f"{r.cell_id}: {r.status}{_reason(getattr(r, 'error', ''))}"
            for r in part.itertuples()
            if r.status != "ok"
        ]
        found = crossover(gaps)
        caveats, binds = _caveats(gaps, float(part["budget"].max()))
        found = replace(found, text=found.text + caveats, binds=binds)
        out.append(Comparison(str(dataset), str(runner), gaps, found, missing))
    return out


def _reason(error: object) -> str:
    """' (the last line of its error)', or '' when there is none."""
    if not isinstance(error, str) or not error.strip():
        return ""
    return f" ({error.strip().splitlines()[-1][:160]})"


def _caveats(gaps: list[Gap], budget: float) -> tuple[str, tuple[str, ...]]:
    """What a verdict rests on besides the data, said after it, and what binds it: a family
    behind that was still improving when its budget ended (budget-bound), completed one trial
    or did not beat the trivial model; cells on a loaded machine; sizes with no verdict."""
    from treeline.analysis.flags import has
    from treeline.execute.result import (
        BASELINE_FLAG,
        BUDGET_BOUND_FLAG,
        CONTENDED_FLAG,
        UNTUNED_FLAG,
    )

    out, binds = "", []

    def behind(flag: str) -> list[Gap]:
        return [g for g in gaps if has(g.loser_flags(), flag)]

    def sizes(found: list[Gap]) -> str:
        return ", ".join(f"{g.n:,}" for g in found)

    def where(found: list[Gap]) -> str:
        """'20,000 (network behind: mlp)'."""
        return ", ".join(
            f"{g.n:,} ({'tree' if g.deep_ahead else 'network'} behind: "
            f"{g.tree if g.deep_ahead else g.deep})"
            for g in found
        )

    if bound := behind(BUDGET_BOUND_FLAG):
        binds.append("budget-bound")
        out += (
            f" — budget-bound at n = {where(bound)}: still improving when its {budget:g} s "
            "ended, so at this budget the data-size question is not answered there"
        )
    if untuned := behind(UNTUNED_FLAG):
        out += f" — untuned at n = {where(untuned)}: one complete trial in {budget:g} s"
    if baseline := behind(BASELINE_FLAG):
        out += f" — no better than the trivial model at n = {where(baseline)}"
    loaded = [g for g in gaps if has(g.tree_flags + g.deep_flags, CONTENDED_FLAG)]
    if loaded:
        binds.append("contended")
        out += (
            f" — contended at n = {sizes(loaded)}: other processes loaded the machine while "
            "these cells ran (rerun on a quiet machine, or on a runner with `clock: cpu`)"
        )
    none = [g for g in gaps if math.isnan(g.mean)]
    if none and len(none) < len(gaps):
        out += "; no verdict at " + ", ".join(f"n = {g.n:,} ({_lacking(g)})" for g in none)
    return out, tuple(binds)


def _lacking(g: Gap) -> str:
    """Which family a size without a verdict misses."""
    missing = [name for name, best in (("tree", g.tree), ("network", g.deep)) if best is None]
    if missing:
        return f"no {' and no '.join(missing)} with a finished cell"
    return "no seed that both families finished"


def score_at_fraction(anytime: list[tuple[float, float]], budget: float, fraction: float) -> float:
    """The test score of the best model found within `fraction` of the budget (NaN if none).
    A trial that ended within the grace after the budget counts at the budget, as the cell's
    result does: fraction 1 always agrees with the main verdict."""
    from treeline.execute.budget import Budget

    limit = fraction * budget
    score = math.nan
    for elapsed, test_score in sorted(anytime):
        if budget < elapsed <= Budget(budget).limit:
            elapsed = budget
        if elapsed <= limit:
            score = test_score
    return score


def along_budget(
    frame: pd.DataFrame, fractions: tuple[float, ...] = BUDGET_FRACTIONS
) -> dict[float, list[Comparison]]:
    """The comparison re-read off the anytime curves at fractions of the budget."""
    out = {}
    for f in fractions:
        scored = frame.assign(
            at_fraction=[
                score_at_fraction(a, b, f) if s == "ok" else math.nan
                for a, b, s in zip(frame["anytime"], frame["budget"], frame["status"], strict=True)
            ]
        )
        scored.loc[scored["at_fraction"].isna(), "status"] = "not yet"
        comparisons = compare(scored, "at_fraction")
        for c in comparisons:
            if c.crossover.verdict == "no data":
                c.crossover = _not_yet(scored, c, f)
        out[f] = comparisons
    return out


def _not_yet(scored: pd.DataFrame, c: Comparison, fraction: float) -> Crossover:
    """At this fraction one family (or both) has no model yet: say which, and why."""
    part = scored[(scored["dataset"] == c.dataset) & (scored["runner"] == c.runner)]
    have = set(part[part["status"] == "ok"]["family"])
    lacking = [name for fam, name in (("tree", "trees"), ("deep", "networks")) if fam not in have]
    who = " and ".join(lacking) or "the two families at the same size"
    text = (
        f"no verdict: the {who} have no model yet at {fraction:g} of the budget "
        "(their first trial ends later)"
    )
    return Crossover("no data", None, text, c.crossover.indicative)


def pareto_front(points: list[tuple[float, float, Any]]) -> list[tuple[float, float, Any]]:
    """(cost, score, label) points not beaten on both cheaper-or-equal and better-or-equal."""
    front, best = [], -math.inf
    for cost, score, label in sorted(points, key=lambda p: (p[0], -p[1])):
        if score > best:
            front.append((cost, score, label))
            best = score
    return front


def one_point(task: str, best_score: float) -> float:
    """'One point': 0.01 of accuracy, or 1 % of the best RMSE for regression."""
    return 0.01 if task != "regression" else 0.01 * abs(best_score)


def hardware(frame: pd.DataFrame, replays: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    """Contenders measured on several runners, relative to a baseline runner (per dataset, n
    and contender). From replays where they exist: the same work on both, so the speed-up is
    recorded ÷ replayed fit seconds and the cost ratio the price of that work alone. Otherwise
    from equal-budget cells (seed means): trials per second, relative to the cheapest runner,
    where each runner did different work."""
    rows: list[dict[str, Any]] = []
    keys = ["dataset", "n", "contender"]
    replayed: set[tuple[Any, ...]] = set()
    # Each runner's device and price, for what a comparison is between (claims.py).
    known = frame.drop_duplicates("runner").set_index("runner") if len(frame) else None

    def about(runner: str, base: str) -> dict[str, Any]:
        if known is None or runner not in known.index or base not in known.index:
            return {}
        a, b = known.loc[runner], known.loc[base]
        price_a, price_b = a.get("price_per_hour", math.nan), b.get("price_per_hour", math.nan)
        ratio = price_a / price_b if price_b else math.nan
        return {"device": a.get("device"), "baseline_device": b.get("device"), "price_ratio": ratio}

    if replays is not None and not replays.empty:
        cross = replays[
            (replays["status"] == "ok") & (replays["runner"] != replays["recorded_runner"])
        ]
        for key, part in cross.groupby([*keys, "recorded_runner", "runner"]):
            *k, base, runner = key
            replayed.add((*k, runner))
            rows.append(
                {
                    **dict(zip(keys, k, strict=True)),
                    "runner": runner,
                    "baseline_runner": base,
                    "speedup": float((part["recorded_fit_seconds"] / part["fit_seconds"]).mean()),
                    "score_delta": float(part["difference"].mean()),
                    "cost_ratio": float((part["cost_usd"] / part["recorded_cost_usd"]).mean()),
                    "source": f"replay ({len(part)}): identical work",
                    **about(runner, base),
                }
            )
    ok = frame[frame["status"] == "ok"]
    for key, part in ok.groupby(keys):
        per_runner = part.groupby("runner").agg(
            trials_per_s=("trials_per_second", "mean"),
            score=("test_score", "mean"),
            cost=("cost_usd", "mean"),
            price=("price_per_hour", "first"),
        )
        if len(per_runner) < 2:
            continue
        base = per_runner.sort_values("price").iloc[0]
        for runner, r in per_runner.iterrows():
            if (*key, runner) in replayed:
                continue
            rows.append(
                {
                    **dict(zip(keys, key, strict=True)),
                    "runner": runner,
                    "baseline_runner": base.name,
                    "speedup": r.trials_per_s / base.trials_per_s,
                    "score_delta": r.score - base.score,
                    "cost_ratio": r.cost / base.cost if base.cost else math.nan,
                    "source": "equal budget: trials/s",
                    **about(str(runner), str(base.name)),
                }
            )
    return rows


def replay_exactness(replays: pd.DataFrame) -> list[dict[str, Any]]:
    """Per contender and (recorded → replayed) device: how many replays came out bit-equal,
    and the largest test-score difference of those that did not."""
    ok = replays[replays["status"] == "ok"]
    rows = []
    for (contender, dev_from, dev_to), part in ok.groupby(
        ["contender", "recorded_device", "device"]
    ):
        inexact = part[~part["bit_equal"].astype(bool)]
        rows.append(
            {
                "contender": contender,
                "devices": f"{dev_from} → {dev_to}",
                "replays": len(part),
                "bit_equal": int(part["bit_equal"].astype(bool).sum()),
                "same_work": int(part["same_work"].astype(bool).sum()),
                "max_abs_difference": float(inexact["difference"].abs().max())
                if len(inexact)
                else 0.0,
            }
        )
    return rows
