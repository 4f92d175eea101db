"""`treeline advise DATA --target COLUMN [--time 30m]`: from a data file (a table, perhaps with
text or a column of image or clip paths; series), or a folder of class folders of images or
recordings, to "use trees / use a network, at this cost", for this data.

It infers the modality and the task and says what it inferred (`--task`, `--text`, `--image`,
`--audio` override; `--columns` and `--labels` describe series), pairs the atlas's strongest
tree route with its strongest network route for that modality, picks nested sizes up to every
labelled row and a budget per cell that fits the time given (the plan's start-up estimates
included), writes the suite it will run (kept, so the run can be repeated or extended), runs it,
and ends with the answer: which family at the user's n and how sure (the interval, whether the
verdict is budget-bound), what a cell cost, whether the gap is closing as n grows (its slope per
tenfold rows, with an interval, and the n it points to) and what a GPU runner would change (the
plan's price for the same cells on one, and how many network cells the CPU left budget-bound).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from treeline.errors import TreelineError

if TYPE_CHECKING:
    import pandas as pd

    from treeline.analysis.boundary import Comparison, Gap

# The atlas's strongest routes per modality (results/reference/atlas): (tree, network).
ROUTES = {
    "tabular": ("lightgbm", "tabm"),
    "image": ("lightgbm+pixels", "cnn"),
    "text": ("lightgbm+tfidf", "embedding-bag"),
    "text + table": ("catboost", "fusion"),
    "image + table": ("lightgbm+pixels", "fusion"),
    "audio": ("lightgbm+mfcc", "audio-cnn"),
    "audio + table": ("lightgbm+mfcc", "fusion"),
    "sequence": ("lightgbm+minirocket", "cnn1d"),
}
STARTUP = 12.0  # seconds a cell's worker spends beyond its budget (plan.STARTUP_GUESS)
MIN_BUDGET = 10.0  # below this a network does not finish an epoch worth judging
SIZES = 3  # nested sizes: every labelled row, a quarter, a sixteenth
MIN_ROWS = 50
# A string column is text when its values are long and mostly distinct (not a category).
TEXT_MEAN_CHARS = 30
TEXT_DISTINCT = 0.5
PATHS_SHARE = 0.9  # a column is paths when this share of its values name image (or clip) files


class AdviseError(TreelineError):
    """The data cannot be advised on as given; the message says what to change."""


@dataclass
class Inferred:
    """What advise decided about the data, each decision with why."""

    path: Path
    modality: str
    task: str
    target: str | None
    text: list[str] = field(default_factory=list)
    rows: int = 0  # labelled examples
    said: list[str] = field(default_factory=list)
    image: str | None = None  # a column of image paths
    audio: str | None = None  # a column of clip paths
    labels: Path | None = None  # series: their labels file
    columns: dict[str, str] | None = None  # series: a long-format file's columns
    drop: list[str] = field(default_factory=list)  # a table's columns left out

    @property
    def route(self) -> str:
        """The key of ROUTES: the modality, or which parts a multimodal table has."""
        if self.modality != "multimodal":
            return self.modality
        return f"{'image' if self.image else 'audio' if self.audio else 'text'} + table"


def parse_time(text: str) -> float:
    """'30m', '1h', '90s', '1h30m' or seconds → seconds."""
    found = re.fullmatch(
        r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text
    )
    if not found or not any(found.groups()):
        raise AdviseError(f"--time: give a duration such as 30m, 1h or 900s, got {text!r}")
    h, m, s = (float(g) if g else 0.0 for g in found.groups())
    seconds = h * 3600 + m * 60 + s
    if not math.isfinite(seconds) or seconds <= 0:
        raise AdviseError(f"--time must be longer than 0, got {text!r}")
    return seconds


def infer(
    path: Path,
    target: str | None,
    task: str | None = None,
    text: list[str] | None = None,
    image: str | None = None,
    audio: str | None = None,
    labels: Path | None = None,
    columns: dict[str, str] | None = None,
    drop: list[str] | None = None,
) -> Inferred:
    """The data's modality, task, text columns or column of image or clip paths: inferred, or
    as overridden (`image` or `audio` "": DATA is a folder of class folders of that kind; a
    name: the file's column of paths). An .npy DATA, or `columns`, is series."""
    if path.is_dir() or image == "" or audio == "":
        return _folder(path, task, "audio" if audio == "" else "image" if image == "" else None)
    if path.name.lower().endswith(".npy") or columns is not None:
        return _series(path, target, task, labels, columns)
    if labels is not None:
        raise AdviseError("--labels belongs to series: an .npy array, or a file with --columns")
    if target is None:
        raise AdviseError(f"{path} is a table: name the column to predict with --target")
    from treeline.data.tabular.user_file import FORMATS, read_table

    if not path.name.lower().endswith(FORMATS):
        from treeline.data.class_folders import ARCHIVES

        unpack = "; unpack the archive first" if path.name.lower().endswith(ARCHIVES) else ""
        raise AdviseError(
            f"{path}: give a CSV or Parquet file ({', '.join(FORMATS)}) or a folder{unpack}"
        )
    if not path.is_file():
        raise AdviseError(f"file not found: {path}")
    try:
        frame = read_table(path)
    except Exception as exc:
        raise AdviseError(f"cannot read {path.name}: {str(exc).splitlines()[0]}") from None
    if target not in frame.columns:
        from treeline.errors import unknown_name

        raise AdviseError(unknown_name(f"column in {path.name}", target, list(frame.columns)[:30]))
    said = []
    for column in drop or []:
        if column not in frame.columns or column == target:
            from treeline.errors import unknown_name

            names = [c for c in frame.columns if c != target][:30]
            raise AdviseError("--drop: " + unknown_name(f"column in {path.name}", column, names))
    if drop:
        frame = frame.drop(columns=drop)
        said.append(f"left out: {', '.join(drop)} (as given)")
    else:
        drop = [c for c in frame.columns if c != target and _is_row_number(frame[c])]
        if drop:
            frame = frame.drop(columns=drop)
            said.append(
                f"left out: {', '.join(drop)} (it counts the rows: an index, not a feature; "
                "--drop overrides)"
            )
    y = frame[target].dropna()
    if task is None:
        task, why = _task_of(y)
        said.append(f"task: {task} ({why}; --task overrides)")
    else:
        said.append(f"task: {task} (as given)")
    from treeline.data.audio.clips import SUFFIXES as CLIPS
    from treeline.data.image.folder import SUFFIXES as IMAGES

    for flag, given in (("--image", image), ("--audio", audio)):
        if given is not None and (given not in frame.columns or given == target):
            raise AdviseError(f"{flag}: no column '{given}' of paths in {path.name}")
    if image is not None or audio is not None:
        said.append(f"{'image' if image else 'audio'} column: {image or audio} (as given)")
    elif text is None:  # paths first: a path is a long, distinct string too
        for suffixes, kind in ((IMAGES, "image"), (CLIPS, "audio")):
            found = next(
                (c for c in frame.columns if c != target and _is_paths(frame[c], suffixes)), None
            )
            if found:
                image, audio = (found, None) if kind == "image" else (None, found)
                said.append(
                    f"{kind} column: {found} (its values name {kind} files; --{kind} overrides)"
                )
                break
    if image or audio:
        text = []
    elif text is None:
        text = [c for c in frame.columns if c != target and _is_text(frame[c])]
        if text:
            said.append(
                "text columns: "
                + ", ".join(text)
                + " (long, mostly distinct strings; --text overrides)"
            )
    else:
        said.append(f"text columns: {', '.join(text) or 'none'} (as given)")
    others = [c for c in frame.columns if c not in (target, image, audio, *text)]
    own = "image" if image else "audio" if audio else "text" if text else None
    modality = ("multimodal" if others else own) if own else "tabular"
    said.append(
        {
            "tabular": f"modality: a table ({len(others)} feature columns)",
            "text": "modality: text alone",
            "image": "modality: images alone",
            "audio": "modality: recordings alone",
            "multimodal": f"modality: {own} + a table ({len(others)} other columns)",
        }[modality]
    )
    labelled = len(y)
    rows = labelled - _test_rows(labelled)
    return Inferred(
        path, modality, task, target, text, rows, said, image or None, audio or None,
        drop=list(drop or []),
    )  # fmt: skip


def _folder(path: Path, task: str | None, kind: str | None) -> Inferred:
    """A folder of class folders of images or of recordings (whichever it holds more of)."""
    from treeline.data.audio.clips import SUFFIXES as CLIPS
    from treeline.data.class_folders import scan
    from treeline.data.image.folder import SUFFIXES as IMAGES

    if not path.is_dir():
        raise AdviseError(f"--{kind}: {path} is not a folder of class folders")
    scans = {"image": scan(path, IMAGES, "images"), "audio": scan(path, CLIPS, "clips")}
    if kind is None:
        kind = max(scans, key=lambda k: len(scans[k].files))
    found = scans[kind]
    if found.problems:
        raise AdviseError("; ".join(found.problems))
    classes = sorted(set(found.labels))
    task_of = "binary" if len(classes) == 2 else "multiclass"
    if task not in (None, task_of):
        raise AdviseError(f"--task {task}: {path} has {len(classes)} classes, so it is {task_of}")
    noun = "images" if kind == "image" else "clips"
    said = [
        f"{noun}: {path} is a folder of {len(classes)} class folders "
        f"({len(found.files):,} {noun}), so the task is {task_of}"
    ]
    rows = len(found.files) - _test_rows(len(found.files))
    return Inferred(path, kind, task_of, None, [], rows, said)


def _series(
    path: Path,
    target: str | None,
    task: str | None,
    labels: Path | None,
    columns: dict[str, str] | None,
) -> Inferred:
    """Series: an .npy array with --labels, or a long-format file with --columns."""
    import pandas as pd

    from treeline.data.sequence.user_series import BadSeries, Columns, read_arrays, read_long

    try:
        if path.name.lower().endswith(".npy"):
            if labels is None:
                raise AdviseError(f"{path.name} is an array of series: give --labels FILE")
            X, y, _ = read_arrays(path, labels, target)
            lengths, said = X.lengths, [f"series: {path.name}, an array of {len(X):,} series"]
        else:
            if target is None:
                raise AdviseError(f"{path.name}: name the label's column with --target")
            rows, y, _ = read_long(path, Columns(**columns or {}), target, labels, None)
            lengths = [len(r) for r in rows]
            said = [f"series: {path.name}, long format, {len(rows):,} labelled series"]
    except BadSeries as exc:
        raise AdviseError(str(exc)) from None
    said[0] += f" of {min(lengths):,}-{max(lengths):,} steps"
    if task is None:
        task, why = _task_of(pd.Series(y, name=target or "labels"))
        said.append(f"task: {task} ({why}; --task overrides)")
    rows_n = len(y) - _test_rows(len(y))
    return Inferred(path, "sequence", task, target, [], rows_n, said, labels=labels,
                    columns=columns)  # fmt: skip


def _test_rows(total: int) -> int:
    from treeline.data.dataset import CachedDataset

    return min(round(total * CachedDataset.test_fraction), CachedDataset.test_cap)


def _task_of(y: pd.Series) -> tuple[str, str]:
    import pandas as pd

    distinct = y.nunique()
    numeric = pd.to_numeric(y, errors="coerce").notna().all()
    if distinct == 2:
        return "binary", f"'{y.name}' has 2 values"
    if numeric and distinct > max(20, len(y) // 20):
        return "regression", f"'{y.name}' is numeric with {distinct:,} distinct values"
    return "multiclass", f"'{y.name}' has {distinct:,} classes"


def _is_row_number(column: pd.Series) -> bool:
    """0, 1, 2, … or 1, 2, 3, …: a row index written as a column (R's row names)."""
    import numpy as np
    import pandas as pd

    if len(column) < 3 or not pd.api.types.is_integer_dtype(column):
        return False
    values = column.to_numpy()
    return bool((np.diff(values) == 1).all() and values[0] in (0, 1))


def _is_paths(column: pd.Series, suffixes: tuple[str, ...]) -> bool:
    values = column.dropna()
    if values.empty or values.map(lambda v: isinstance(v, str)).mean() < PATHS_SHARE:
        return False
    return values.astype(str).str.lower().str.strip().str.endswith(suffixes).mean() >= PATHS_SHARE


def _is_text(column: pd.Series) -> bool:
    values = column.dropna()
    if values.empty or values.map(lambda v: isinstance(v, str)).mean() < 0.9:
        return False
    strings = values.astype(str)
    return strings.str.len().mean() >= TEXT_MEAN_CHARS and strings.nunique() >= TEXT_DISTINCT * len(
        strings
    )


@dataclass(frozen=True)
class Design:
    sizes: list[int]
    budget: float
    contenders: tuple[str, str]
    said: list[str]


def design(
    found: Inferred,
    seconds: float,
    runner_startup: float = STARTUP,
    basis: str = "the plan's guess with nothing recorded",
) -> Design:
    """Nested sizes and a budget per cell that fit `seconds` for the modality's two routes,
    each cell spending `runner_startup` seconds beyond its budget (`basis`: where that comes
    from, the plan's estimate)."""
    if found.route not in ROUTES:
        raise AdviseError(f"no advice yet for {found.route} data")
    if found.rows < MIN_ROWS:
        raise AdviseError(
            f"{found.path.name} has {found.rows} labelled rows after the test set: "
            f"advice needs at least {MIN_ROWS}"
        )
    routes = ROUTES[found.route]
    from treeline.contenders import contender_class

    if found.task == "regression" and not contender_class(routes[1]).regression:
        raise AdviseError(
            f"no network here predicts a number from {found.route} data yet ({routes[1]} "
            "classifies): give --task binary or multiclass for classes"
        )
    sizes = sorted({found.rows // 4**k for k in range(SIZES) if found.rows // 4**k >= MIN_ROWS})
    while True:
        cells = len(sizes) * len(routes)
        budget = (seconds - cells * runner_startup) / cells
        if budget >= MIN_BUDGET or len(sizes) == 1:
            break
        sizes = sizes[1:]  # fewer sizes before shorter budgets: the largest is the answer
    if budget < MIN_BUDGET:
        need = len(routes) * (MIN_BUDGET + runner_startup)
        raise AdviseError(
            f"--time is too short for two cells of {MIN_BUDGET:g} s: give {need:.0f} s or more"
        )
    budget = math.floor(budget)
    said = [
        f"routes: {routes[0]} against {routes[1]} ("
        + (
            f"the atlas's strongest tree and network for {found.route} data)"
            if found.route not in ("image + table", "audio + table")
            else f"trees on {routes[0].partition('+')[2]} features joined with the table, against "
            f"the two-tower network; the atlas has no {found.route} data yet)"
        ),
        f"sizes: n = {', '.join(f'{n:,}' for n in sizes)} (nested; {found.rows:,} labelled rows)",
        f"budget: {budget:g} s per cell, {len(sizes) * len(routes)} cells (plus about "
        f"{runner_startup:.0f} s per cell to start and score it: {basis})",
    ]
    return Design(sizes, budget, routes, said)


def suite_yaml(found: Inferred, plan: Design, name: str, runner: str) -> str:
    """The suite advise runs, as a file the user can rerun or extend."""
    import yaml

    entry: dict[str, Any] = {"label": name.removeprefix("advise-")}
    if found.modality == "sequence":
        entry.update(series=str(found.path), task=found.task)
        if found.target:
            entry["target"] = found.target
        if found.labels:
            entry["labels"] = str(found.labels)
        if found.columns:
            entry["columns"] = dict(found.columns)
    elif found.target is None:  # a folder of class folders
        entry["images" if found.modality == "image" else "audio"] = str(found.path)
    else:
        entry.update(file=str(found.path), target=found.target, task=found.task)
        if found.text:
            entry["text"] = list(found.text)
        if found.image:
            entry["image"] = found.image
        if found.audio:
            entry["audio"] = found.audio
        if found.drop:
            entry["drop"] = list(found.drop)
    entry["n"] = list(plan.sizes)
    suite = {
        "name": name,
        "description": f"treeline advise on {found.path} (target {found.target or 'its folders'})",
        "budget": plan.budget,
        "seeds": [0],
        "datasets": [entry],
        "contenders": list(plan.contenders),
        "runners": [runner],
    }
    return yaml.safe_dump(suite, sort_keys=False, allow_unicode=True)


def trend(gaps: list[Gap]) -> tuple[float, float, float, float | None] | None:
    """deep − tree's slope per tenfold rows, its 95 % interval, and the n where the line
    crosses zero beyond the largest size (None: it does not, or is not significant)."""
    usable = [g for g in gaps if not math.isnan(g.mean)]
    if len(usable) < 2:
        return None
    import numpy as np

    x = np.log10([g.n for g in usable])
    y = np.array([g.mean for g in usable])
    # Each size's standard error from its interval (one seed: no interval, a plain fit).
    se = np.array([(g.high - g.low) / 3.92 if not math.isnan(g.low) else np.nan for g in usable])
    w = 1 / np.maximum(se, 1e-9) ** 2 if not np.isnan(se).any() else np.ones_like(y)
    xm = (w * x).sum() / w.sum()
    slope = (w * (x - xm) * (y - (w * y).sum() / w.sum())).sum() / (w * (x - xm) ** 2).sum()
    intercept = (w * y).sum() / w.sum() - slope * xm
    if not np.isnan(se).any():
        half = 1.96 * math.sqrt(1 / (w * (x - xm) ** 2).sum())
    else:
        resid = y - (intercept + slope * x)
        dof = max(len(y) - 2, 1)
        half = (
            1.96 * math.sqrt((resid**2).sum() / dof / ((x - xm) ** 2).sum())
            if len(y) > 2
            else math.nan
        )
    lo, hi = slope - half, slope + half
    crossing = None
    significant = not math.isnan(half) and (lo > 0 or hi < 0)
    if significant and slope != 0:
        at = 10 ** (-intercept / slope)
        if at > max(g.n for g in usable) and (y[-1] > 0) != (slope > 0):
            crossing = float(at)
    return float(slope), float(lo), float(hi), crossing


def answer(
    comparison: Comparison, frame: pd.DataFrame, found: Inferred, gpu_usd: float | None
) -> list[str]:
    """The short answer for this data, line by line."""
    from treeline.analysis.cells import metric_of
    from treeline.analysis.flags import has
    from treeline.execute.result import BUDGET_BOUND_FLAG

    metric = metric_of(frame, comparison)
    gaps = [g for g in comparison.gaps if not math.isnan(g.mean)]
    if not gaps:
        return [f"no answer: {comparison.crossover.text}"]
    at = gaps[-1]  # every labelled row: the user's n
    interval = "" if math.isnan(at.low) else f" [{at.low:+.4g}, {at.high:+.4g}]"
    if at.deep_ahead:
        verdict = f"use a network ({at.deep})"
    elif at.tree_ahead:
        verdict = f"use trees ({at.tree})"
    else:
        verdict = f"either: no significant difference; trees ({at.tree}) are the cheaper default"
    lines = [
        f"At your n = {at.n:,}: {verdict}. {at.deep} − {at.tree} = {at.mean:+.4g}{interval} "
        f"({metric}, higher is better; 95 % interval over {at.interval})."
    ]
    binds = comparison.crossover.binds
    bound = [
        name
        for name, flags in ((at.tree, at.tree_flags), (at.deep, at.deep_flags))
        if has(flags, BUDGET_BOUND_FLAG)
    ]
    if bound:
        lines.append(
            f"How sure: budget-bound — {' and '.join(map(str, bound))} still improving when the "
            "budget ended; more time (or a GPU) could move this verdict."
        )
    else:
        lines.append("How sure: neither family was still improving when its budget ended.")
    if "contended" in binds:
        lines.append(
            "Caution: other processes loaded the machine during these cells; rerun it quiet."
        )
    ok = frame[frame["status"] == "ok"]
    last = ok[ok["n"] == at.n]
    costs = {r.contender: (r.cost_usd, r.fit_seconds) for r in last.itertuples()}
    cost_text = "; ".join(
        f"{c}: ${usd:.5f} ({secs:.0f} s)" for c, (usd, secs) in sorted(costs.items())
    )
    total = ok["cost_usd"].sum()
    lines.append(f"Cost per cell at n = {at.n:,}: {cost_text}; all {len(ok)} cells: ${total:.4f}.")
    t = trend(gaps)
    if t is None:
        lines.append("Trend: one size only, no trend.")
    else:
        slope, lo, hi, crossing = t
        what = (
            "no significant trend"
            if math.isnan(lo) or lo <= 0 <= hi
            else ("networks gaining" if slope > 0 else "trees gaining")
        )
        band = "" if math.isnan(lo) else f" [{lo:+.4g}, {hi:+.4g}]"
        lines.append(
            f"Trend: deep − tree changes by {slope:+.4g}{band} per tenfold rows over n = "
            f"{gaps[0].n:,}–{at.n:,}: {what}"
            + (
                f"; extrapolated, it crosses zero near n ≈ {crossing:,.0f} "
                "(beyond your data: a guess)"
                if crossing
                else ""
            )
            + "."
        )
    deep = ok[ok["family"] == "deep"]
    bound = sum(has(f, BUDGET_BOUND_FLAG) for f in deep["flags"]) if "flags" in deep else 0
    gpu = (
        f"the same {len(frame)} cells on a T4 would cost about ${gpu_usd:.4f} (treeline plan)"
        if gpu_usd is not None
        else ""
    )
    lines.append(
        f"On a GPU: {bound} of {len(deep)} network cells here were budget-bound on the CPU"
        + (f"; {gpu}" if gpu else "")
        + ". A GPU gives a network more epochs in the same budget; the trees gain little."
    )
    return lines
