"""`treeline compare BASE NEW`: two result sets matched by cell id — what changed in the
environment first (libraries, commit, machine, setup), then each cell's change in test score
with a test-set interval (a paired bootstrap over the stored predictions), status, trials,
work, time and cost, summarised per dataset × contender (seeds and sizes pooled) and per
modality; and which changes count as regressions under `--fail-on`."""

from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from treeline.analysis import resample
from treeline.analysis.content import Block
from treeline.data.metrics import LOWER_IS_BETTER, heading, number, value_of
from treeline.errors import ConfigError, Problem
from treeline.execute.predictions import load
from treeline.execute.result import CellResult

if TYPE_CHECKING:
    import numpy as np

    from treeline.record.results_file import ResultSet
    from treeline.record.store import Recorded

RULES = ("score", "status", "missing", "time", "cost")


@dataclass(frozen=True)
class Rule:
    kind: str
    threshold: float = math.nan
    relative: bool = False  # threshold in % of the base value

    def __str__(self) -> str:
        if math.isnan(self.threshold):
            return self.kind
        return f"{self.kind}:{self.threshold:g}{'%' if self.relative else ''}"


def parse_rules(texts: list[str]) -> list[Rule]:
    """`--fail-on` values into rules; a bad one is a usage error naming it."""
    rules, problems = [], []
    for token in (t.strip() for text in texts for t in text.split(",")):
        if not token:
            continue
        m = re.fullmatch(r"([a-z]+)(?::([0-9.]+)(%)?)?", token)
        kind = m.group(1) if m else ""
        if not m or kind not in RULES:
            problems.append(f"'{token}' is not a rule: use {', '.join(RULES)}")
            continue
        value = m.group(2)
        try:
            threshold = float(value) if value is not None else math.nan
        except ValueError:
            problems.append(f"'{token}': {value} is not a number")
            continue
        if kind in ("time", "cost") and math.isnan(threshold):
            problems.append(f"'{token}' needs a ratio, e.g. {kind}:1.5")
            continue
        if kind in ("status", "missing") and not math.isnan(threshold):
            problems.append(f"'{token}': {kind} takes no threshold")
            continue
        rules.append(Rule(kind, threshold, bool(m.group(3))))
    if problems:
        raise ConfigError([Problem("command line", None, "--fail-on", p) for p in problems])
    return rules


@dataclass
class CellChange:
    cell_id: str
    dataset: str
    modality: str
    contender: str
    metric: str
    base: CellResult
    new: CellResult
    delta: float = math.nan  # new − base test score, higher is better
    low: float = math.nan  # its 95 % interval from the test rows
    high: float = math.nan
    how: str = ""  # how the interval was made, or why there is none
    draws: np.ndarray | None = None
    regressions: list[str] = field(default_factory=list)

    @property
    def status_change(self) -> str:
        b, n = self.base.status, self.new.status
        return "" if b == n else f"{b} → {n}"

    def ratio(self, name: str) -> float:
        return _ratio(getattr(self.new.measurements, name), getattr(self.base.measurements, name))

    def work_ratio(self) -> float:
        return _ratio(_work(self.new), _work(self.base))


@dataclass
class Summary:
    key: tuple[str, ...]
    metric: str
    cells: list[CellChange]
    delta: float = math.nan
    low: float = math.nan
    high: float = math.nan


@dataclass
class Comparison:
    base: str
    new: str
    environment: list[str]
    cells: list[CellChange]
    only_base: list[str]
    only_new: list[str]
    by_contender: list[Summary]
    by_modality: dict[str, dict[str, float]]
    rules: list[Rule]

    @property
    def regressions(self) -> list[str]:
        out = [f"{c.cell_id}: {why}" for c in self.cells for why in c.regressions]
        if any(r.kind == "missing" for r in self.rules):
            out += [f"{cid}: missing from {self.new}" for cid in self.only_base]
        return out


def compare(
    base: ResultSet, new: ResultSet, rules: list[Rule], names: tuple[str, str] = ("BASE", "NEW")
) -> Comparison:
    b = {r.result.cell.id: r for r in base.records}
    n = {r.result.cell.id: r for r in new.records}
    cells = [_change(b[cid], n[cid]) for cid in sorted(b.keys() & n.keys())]
    for c in cells:
        c.regressions = [why for rule in rules if (why := _breaks(rule, c))]
    return Comparison(
        base=names[0],
        new=names[1],
        environment=environment(base.records, new.records),
        cells=cells,
        only_base=sorted(b.keys() - n.keys()),
        only_new=sorted(n.keys() - b.keys()),
        by_contender=_by_contender(cells),
        by_modality=_by_modality(cells),
        rules=rules,
    )


def _change(base: Recorded, new: Recorded) -> CellChange:
    rb, rn = base.result, new.result
    c = CellChange(
        rb.cell.id, rb.cell.dataset.label, rb.cell.modality, rb.cell.contender.label,
        rn.metric or rb.metric, rb, rn,
    )  # fmt: skip
    if rb.status != "ok" or rn.status != "ok":
        c.how = "no score on one side"
        return c
    c.delta = rn.measurements.test_score - rb.measurements.test_score
    if rb.metric != rn.metric:
        c.how, c.delta = f"metrics differ ({rb.metric} → {rn.metric})", math.nan
        return c
    if base.predictions is None or new.predictions is None:
        c.how = "no stored predictions: no test-set interval"
        return c
    seed = int.from_bytes(rb.cell.resume_key[:8].encode(), "little") % 2**32
    draws, paired = resample.paired_difference(
        rb.cell.task, rb.metric, load(base.predictions), load(new.predictions), seed
    )
    c.draws = draws
    c.low, c.high = resample.interval(draws)
    rows = len(load(base.predictions).y)
    c.how = f"paired over {rows:,} test rows" if paired else "test rows differ: unpaired"
    return c


def _breaks(rule: Rule, c: CellChange) -> str:
    """Why `c` breaks `rule`, or ''."""
    if rule.kind == "status":
        bad = c.base.status == "ok" and c.new.status != "ok"
        return f"status {c.status_change}" if bad else ""
    if rule.kind in ("time", "cost"):
        name = "wall_seconds" if rule.kind == "time" else "cost_usd"
        r = c.ratio(name)
        return f"{rule.kind} ×{r:.2f} > ×{rule.threshold:g}" if r > rule.threshold else ""
    if rule.kind != "score" or math.isnan(c.delta) or c.delta >= 0:
        return ""
    drop = _value_change(c.metric, c.delta)
    if math.isnan(rule.threshold):
        if not c.high < 0:
            return ""
        low, high = sorted(_value_change(c.metric, x) for x in (c.low, c.high))
        return (
            f"{c.metric} {_signed(c.metric, drop)} beyond its interval "
            f"[{_signed(c.metric, low)}, {_signed(c.metric, high)}]"
        )
    base_value = abs(value_of(c.metric, c.base.measurements.test_score))
    limit = rule.threshold / 100 * base_value if rule.relative else rule.threshold
    if abs(c.delta) <= limit:
        return ""
    return f"{c.metric} {_signed(c.metric, drop)} beyond the tolerance {rule}"


def _by_contender(cells: list[CellChange]) -> list[Summary]:
    groups: dict[tuple[str, ...], list[CellChange]] = {}
    for c in cells:
        groups.setdefault((c.modality, c.dataset, c.contender), []).append(c)
    out = []
    for key, members in sorted(groups.items()):
        scored = [c for c in members if not math.isnan(c.delta)]
        s = Summary(key, members[0].metric, members)
        if scored:
            s.delta = statistics.fmean(c.delta for c in scored)
            draws = [c.draws for c in scored if c.draws is not None]
            if len(draws) == len(scored):  # every cell has its test-set resamples
                s.low, s.high = resample.interval(resample.pooled(draws))
        out.append(s)
    return out


def _by_modality(cells: list[CellChange]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for c in cells:
        row = out.setdefault(c.modality, {"cells": 0, "better": 0, "worse": 0, "status": 0})
        row["cells"] += 1
        row["better"] += c.low > 0
        row["worse"] += c.high < 0
        row["status"] += bool(c.status_change)
    for modality, row in out.items():
        members = [c for c in cells if c.modality == modality]
        for name in ("n_trials", "wall_seconds", "cost_usd"):
            row[name] = _median([c.ratio(name) for c in members])
    return out


def environment(base: list[Recorded], new: list[Recorded]) -> list[str]:
    """What differs between the two sets' machines and setups: library versions first (what
    most often explains a changed score), then commit, CPU, GPU, and cells whose setup
    (budget, threads, data, options) is not the same under the same id."""
    out = []
    for lib in sorted({k for r in [*base, *new] for k in r.machine if k.startswith("version.")}):
        out += _differs(lib.removeprefix("version."), base, new, lambda r, k=lib: r.machine.get(k))
    for tag, name in (("git_commit", "commit"), ("cpu", "CPU"), ("gpu", "GPU")):
        out += _differs(name, base, new, lambda r, t=tag: r.machine.get(t))
    b = {r.result.cell.id: r.result.cell for r in base}
    setup: dict[str, int] = {}
    for r in new:
        old = b.get(r.result.cell.id)
        if old is not None and old.resume_key != r.result.cell.resume_key:
            what = _setup_change(old.to_json(), r.result.cell.to_json())
            setup[what] = setup.get(what, 0) + 1
    out += [f"setup: {what} ({k} cell{'s' if k > 1 else ''})" for what, k in setup.items()]
    prices = _differs("price per hour", base, new, lambda r: f"{r.result.cell.price_per_hour:g}")
    return out + prices + _load(base, new)


def _load(base: list[Recorded], new: list[Recorded]) -> list[str]:
    """'contended cells: 0 of 34 → 34 of 34': a loaded machine explains lost trials first."""

    def count(records: list[Recorded]) -> tuple[int, int]:
        known = [r.result.measurements.contended for r in records if r.result.status == "ok"]
        known = [c for c in known if c == c]  # NaN: recorded before contention was measured
        return sum(c == 1 for c in known), len(known)

    (a, n_a), (b, n_b) = count(base), count(new)
    if not n_a or not n_b or (a == 0 and b == 0):
        return []
    return [f"contended cells: {a} of {n_a} → {b} of {n_b} (a machine loaded by other work)"]


def _differs(name: str, base: list[Recorded], new: list[Recorded], get: Callable) -> list[str]:
    a = sorted({str(v) for r in base if (v := get(r))})
    b = sorted({str(v) for r in new if (v := get(r))})
    if not a or not b or a == b:
        return []
    return [f"{name}: {', '.join(a)} → {', '.join(b)}"]


def _setup_change(old: dict, new: dict) -> str:
    keys = sorted(k for k in old.keys() | new.keys() if k not in ("suite", "price_per_hour"))
    parts = []
    for k in keys:
        if old.get(k) != new.get(k):
            a = json.dumps(old.get(k), sort_keys=True, default=str)
            b = json.dumps(new.get(k), sort_keys=True, default=str)
            short = len(a) + len(b) < 80
            parts.append(f"{k} {a} → {b}" if short else f"{k} differs")
    return "; ".join(parts) or "the same"


def _work(r: CellResult) -> float:
    m = r.measurements
    units = [m.work_rounds, m.work_trees, m.work_steps, m.work_epochs]
    known = [u for u in units if not math.isnan(u)]
    return sum(known) if known else math.nan


def _ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan


def _median(xs: list[float]) -> float:
    known = [x for x in xs if not math.isnan(x)]
    return statistics.median(known) if known else math.nan


def _value_change(metric: str, delta: float) -> float:
    """A change of the higher-is-better score in the metric's own direction (RMSE: +)."""
    return (-delta if metric in LOWER_IS_BETTER else delta) + 0.0  # never -0.0


def _signed(metric: str, x: float) -> str:
    return number(metric, x, sign=True)


def _times(x: float) -> str:
    return "–" if math.isnan(x) else f"×{x:.2f}"


def _value(metric: str, r: CellResult) -> str:
    if r.status != "ok":
        return r.status
    return number(metric, value_of(metric, r.measurements.test_score))


def _interval(metric: str, low: float, high: float) -> str:
    if math.isnan(low):
        return "–"
    a, b = sorted(_value_change(metric, x) for x in (low, high))
    return f"[{_signed(metric, a)}, {_signed(metric, b)}]"


def _verdict(low: float, high: float, delta: float) -> str:
    if math.isnan(delta):
        return "–"
    if delta == 0 and (math.isnan(low) or low == high == 0):
        return "same"
    if math.isnan(low):
        return "better" if delta > 0 else "worse"
    return "better" if low > 0 else "worse" if high < 0 else "within interval"


MODALITY_HEADER = (
    "modality", "cells", "better", "worse", "status changed", "trials", "wall", "cost",
)  # fmt: skip


def modality_rows(c: Comparison) -> list[list[str]]:
    """The per-modality summary, as the page and the terminal show it."""
    return [
        [m, *(str(int(r[k])) for k in ("cells", "better", "worse", "status")),
         *(_times(r[k]) for k in ("n_trials", "wall_seconds", "cost_usd"))]
        for m, r in sorted(c.by_modality.items())
    ]  # fmt: skip


def blocks(c: Comparison) -> list[Block]:
    """The comparison as the report's blocks (Markdown and HTML alike)."""
    out = [Block("h1", f"Treeline comparison: {c.base} → {c.new}")]
    matched = f"{len(c.cells)} cells matched by id"
    extra = []
    if c.only_base:
        extra.append(f"{len(c.only_base)} only in {c.base}")
    if c.only_new:
        extra.append(f"{len(c.only_new)} only in {c.new}")
    out.append(Block("p", matched + (f"; {', '.join(extra)}" if extra else "") + "."))
    out.append(Block("h2", "What differs between the two"))
    same = "Libraries, commit, machine and setup are the same on both sides."
    out.append(Block("p", "; ".join(c.environment) if c.environment else same))
    regressions = c.regressions
    if c.rules:
        out.append(Block("h2", f"Regressions ({', '.join(map(str, c.rules))})"))
        if regressions:
            out.append(Block("table", (["cell", "why"], [r.split(": ", 1) for r in regressions])))
        else:
            out.append(Block("p", "None."))
    out.append(Block("h2", "Per modality"))
    out.append(Block("table", (list(MODALITY_HEADER), modality_rows(c))))
    note = (
        "Better / worse: the cell's 95 % test-set interval lies above / below 0. Trials, "
        f"wall-clock and cost: the median ratio {c.new} ÷ {c.base} over the cells."
    )
    out.append(Block("p", note))
    out.append(Block("h2", "Per dataset and contender (sizes and seeds pooled)"))
    header = ["modality", "dataset", "contender", "metric", "cells", "Δ mean", "95 % interval"]
    rows = []
    for s in c.by_contender:
        delta = number(s.metric, _value_change(s.metric, s.delta), sign=True)
        rows.append([*s.key, heading(s.metric), len(s.cells), delta,
                     _interval(s.metric, s.low, s.high)])  # fmt: skip
    out.append(Block("table", (header, rows)))
    out.append(Block("h2", "Per cell"))
    header = [
        "cell", "metric", c.base, c.new, "Δ", "95 % interval", "", "status", "trials", "work",
        "wall", "cost", "interval from",
    ]  # fmt: skip
    rows = []
    for x in c.cells:
        mb, mn = x.base.measurements, x.new.measurements
        delta = _signed(x.metric, _value_change(x.metric, x.delta))
        rows.append([
            x.cell_id, heading(x.metric), _value(x.metric, x.base), _value(x.metric, x.new),
            delta, _interval(x.metric, x.low, x.high), _verdict(x.low, x.high, x.delta),
            x.status_change or x.new.status, f"{_count(mn.n_trials)} / {_count(mb.n_trials)}",
            _times(x.work_ratio()), _times(x.ratio("wall_seconds")),
            _times(x.ratio("cost_usd")), x.how,
        ])  # fmt: skip
    out.append(Block("table", (header, rows)))
    note = (
        f"Trials: {c.new} / {c.base}. Work, wall and cost: {c.new} ÷ {c.base}. Δ is in the "
        "metric's own units (for RMSE a positive Δ is worse)."
    )
    out.append(Block("p", note))
    if c.only_base or c.only_new:
        out.append(Block("h2", "Unmatched cells"))
        rows = [[cid, c.base] for cid in c.only_base] + [[cid, c.new] for cid in c.only_new]
        out.append(Block("table", (["cell", "only in"], rows)))
    return out


def _count(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.0f}"
