"""Suite files (`suites/NAME.yaml`): what to compare, validated in full before anything runs.

Every problem is reported at once, each with file, line, field, the rule and the bad value, and a
suggestion for a misspelt name.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from treeline.datasets import DatasetRef, Task
from treeline.errors import ConfigError, Problem, unknown_name
from treeline.locate import named_files
from treeline.yaml_source import LocatedYaml, load_yaml, pydantic_problems

_NAME = r"^[a-z0-9][a-z0-9._-]*$"
MIN_N = 10  # below this an 80/20 split leaves almost nothing to validate on


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class DatasetEntry(_Strict):
    """A built-in dataset (`name`) or a user's table (`file`, `target`, `task`)."""

    name: str | None = None
    label: str | None = Field(None, pattern=_NAME)
    file: str | None = None
    target: str | None = None
    task: Task | None = None
    n: list[PositiveInt] | None = Field(None, min_length=1)
    options: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> DatasetEntry:
        if (self.name is None) == (self.file is None):
            raise ValueError("give exactly one of 'name' (a built-in dataset) or 'file'")
        if self.file is not None and (self.target is None or self.task is None):
            raise ValueError("a 'file' dataset needs 'target' (the column) and 'task'")
        if self.name is not None and (self.target is not None or self.task is not None):
            raise ValueError("'target' and 'task' belong to 'file' datasets only")
        return self


class ExpectationEntry(_Strict):
    """A score range a cell must land in (drift checks)."""

    dataset: str
    contender: str
    n: PositiveInt | None = None
    runner: str | None = None
    test_score: list[float] = Field(min_length=2, max_length=2)

    @model_validator(mode="after")
    def _ordered(self) -> ExpectationEntry:
        lo, hi = self.test_score
        if lo > hi:
            raise ValueError(f"test_score must be [low, high] with low <= high, got [{lo}, {hi}]")
        return self


class SuiteFile(_Strict):
    name: str = Field(pattern=_NAME)
    description: str = Field(min_length=1)
    budget: float = Field(gt=0, description="seconds of tuning + training per cell")
    seeds: list[int] = Field(min_length=1)
    n: list[PositiveInt] | None = Field(None, min_length=1)
    datasets: list[str | DatasetEntry] = Field(min_length=1)
    contenders: list[str] = Field(min_length=1)
    runners: list[str] = Field(default_factory=lambda: ["cpu"], min_length=1)
    expectations: list[ExpectationEntry] = Field(default_factory=list)


_KEYS = (
    set(SuiteFile.model_fields)
    | set(DatasetEntry.model_fields)
    | set(ExpectationEntry.model_fields)
)


@dataclass(frozen=True)
class SuiteDataset:
    ref: DatasetRef
    sizes: tuple[int, ...]
    modality: str
    task: str


@dataclass(frozen=True)
class Expectation:
    dataset: str
    contender: str
    n: int | None
    runner: str | None
    low: float
    high: float

    def applies(self, dataset: str, contender: str, n: int, runner: str) -> bool:
        return (
            self.dataset == dataset
            and self.contender == contender
            and self.n in (None, n)
            and self.runner in (None, runner)
        )


@dataclass(frozen=True)
class Suite:
    """A validated suite: every name resolved, every size checked."""

    name: str
    description: str
    path: Path
    budget: float
    seeds: tuple[int, ...]
    datasets: tuple[SuiteDataset, ...]
    contenders: tuple[str, ...]
    runners: tuple[str, ...]
    expectations: tuple[Expectation, ...]

    @property
    def digest(self) -> str:
        """Hash of the resolved configuration (not of the file's formatting)."""
        blob = json.dumps(
            {
                "budget": self.budget,
                "seeds": self.seeds,
                "datasets": [(d.ref.identity(), d.sizes) for d in self.datasets],
                "contenders": self.contenders,
                "runners": self.runners,
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def suite_files() -> dict[str, Path]:
    return named_files("suites")


def resolve_suite_path(ref: str) -> Path:
    """A path to a YAML file, or the name of a suite in `suites/`."""
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or path.exists() or "/" in ref:
        return path
    files = suite_files()
    if ref not in files:
        raise ConfigError.single(ref, None, "", unknown_name("suite", ref, files))
    return files[ref]


def load_suite(ref: str | Path) -> Suite:
    """Parse and fully validate a suite; raises ConfigError listing every problem."""
    path = resolve_suite_path(str(ref))
    src = load_yaml(path)
    if not isinstance(src.data, dict):
        raise ConfigError([src.problem((), "a suite must be a mapping of keys to values")])
    try:
        model = SuiteFile.model_validate(src.data)
    except ValidationError as exc:
        raise ConfigError(pydantic_problems(src, exc, _KEYS)) from None
    return _Checker(src, model).run()


class _Checker:
    """The checks that need the registries: names, sizes, modalities, files, expectations."""

    def __init__(self, src: LocatedYaml, model: SuiteFile):
        self.src, self.m = src, model
        self.problems: list[Problem] = []

    def add(self, loc: tuple[str | int, ...], message: str) -> None:
        self.problems.append(self.src.problem(loc, message))

    def run(self) -> Suite:
        from treeline.contenders import REGISTRY
        from treeline.runner_profile import available_runners, load_runner

        m = self.m
        if m.name != self.src.path.stem:
            self.add(("name",), f"must match the file name '{self.src.path.stem}', got '{m.name}'")
        for key, values in (
            ("seeds", m.seeds),
            ("n", m.n or []),
            ("contenders", m.contenders),
            ("runners", m.runners),
        ):
            self._no_duplicates(key, values)
        for i, seed in enumerate(m.seeds):
            if seed < 0:
                self.add(("seeds", i), f"a seed must be >= 0, got {seed}")
        for i, n in enumerate(m.n or []):
            if n < MIN_N:
                self.add(("n", i), f"n must be >= {MIN_N}, got {n}")

        contenders = []
        for i, name in enumerate(m.contenders):
            if name not in REGISTRY:
                self.add(("contenders", i), unknown_name("contender", name, REGISTRY))
            else:
                contenders.append(name)
        runner_files = available_runners()
        for i, name in enumerate(m.runners):
            if name not in runner_files:
                self.add(("runners", i), unknown_name("runner", name, runner_files))
                continue
            try:
                load_runner(runner_files[name])
            except ConfigError as exc:
                self.problems.extend(exc.problems)

        datasets = []
        labels: dict[str, int] = {}
        for i, entry in enumerate(m.datasets):
            ds = self._dataset(i, entry)
            if ds is None:
                continue
            if ds.ref.label in labels:
                self.add(
                    ("datasets", i),
                    f"duplicate dataset '{ds.ref.label}' (also "
                    f"datasets[{labels[ds.ref.label]}]); give one a distinct 'label'",
                )
                continue
            labels[ds.ref.label] = i
            datasets.append(ds)
            for name in contenders:
                info = REGISTRY[name]
                if ds.modality not in info.modalities:
                    self.add(
                        ("contenders", m.contenders.index(name)),
                        f"contender '{name}' cannot handle the {ds.modality} dataset "
                        f"'{ds.ref.label}' (it handles: {', '.join(info.modalities)})",
                    )

        expectations = self._expectations(datasets)
        if self.problems:
            raise ConfigError(self.problems)
        return Suite(
            name=m.name,
            description=m.description,
            path=self.src.path,
            budget=float(m.budget),
            seeds=tuple(m.seeds),
            datasets=tuple(datasets),
            contenders=tuple(contenders),
            runners=tuple(m.runners),
            expectations=tuple(expectations),
        )

    def _no_duplicates(self, key: str, values: list[Any]) -> None:
        seen: set[Any] = set()
        for i, v in enumerate(values):
            if v in seen:
                self.add((key, i), f"duplicate entry {v!r}")
            seen.add(v)

    def _dataset(self, i: int, entry: str | DatasetEntry) -> SuiteDataset | None:
        from treeline.datasets import builtin_names

        loc: tuple[str | int, ...] = ("datasets", i)
        if isinstance(entry, str):
            entry = DatasetEntry(name=entry)
            name_loc = loc
        else:
            name_loc = (*loc, "name")
        sizes = entry.n or self.m.n
        size_loc = (*loc, "n") if entry.n else ("n",)
        if sizes is None:
            self.add(loc, "no sizes: give 'n' on the dataset or at the top of the suite")
            return None
        if entry.n:
            self._no_duplicates_at((*loc, "n"), entry.n)
        if entry.file is not None:
            ref = self._user_file(i, entry)
            if ref is None:
                return None
            dataset = ref.build()
        else:
            assert entry.name is not None
            if entry.name not in builtin_names():
                self.add(name_loc, unknown_name("dataset", entry.name, builtin_names()))
                return None
            options: dict[str, Any] = {}
            if entry.name == "synthetic":
                options = self._synthetic_options(loc, entry.options or {})
                if options is None:
                    return None
            elif entry.options:
                self.add((*loc, "options"), f"dataset '{entry.name}' takes no options")
            label = entry.label or _default_label(entry.name, options)
            ref = DatasetRef(label=label, name=entry.name, options=options)
            dataset = ref.build()
        ok = True
        for j, n in enumerate(sizes):
            where = (*size_loc, j)
            if n < MIN_N:
                self.add(where, f"n must be >= {MIN_N}, got {n}")
                ok = False
            elif n > dataset.rows:
                self.add(
                    where,
                    f"n={n} is larger than the {dataset.rows:,} labelled rows of "
                    f"'{ref.label}' (its test set is held out)",
                )
                ok = False
        if not ok:
            return None
        return SuiteDataset(ref, tuple(sorted(sizes)), dataset.modality, dataset.task)

    def _no_duplicates_at(self, loc: tuple[str | int, ...], values: list[Any]) -> None:
        seen: set[Any] = set()
        for j, v in enumerate(values):
            if v in seen:
                self.add((*loc, j), f"duplicate entry {v!r}")
            seen.add(v)

    def _synthetic_options(self, loc: tuple[str | int, ...], raw: dict[str, Any]):
        from treeline.datasets.synthetic import SyntheticOptions

        try:
            return SyntheticOptions.model_validate(raw).model_dump()
        except ValidationError as exc:
            for p in pydantic_problems(self.src, exc, SyntheticOptions.model_fields):
                # Re-anchor at `options.<key>` of this entry.
                sub = p.field
                self.problems.append(
                    self.src.problem((*loc, "options", *([sub] if sub else [])), p.message)
                )
            return None

    def _user_file(self, i: int, entry: DatasetEntry) -> DatasetRef | None:
        from treeline.datasets.user_file import FORMATS, read_table, table_columns

        loc: tuple[str | int, ...] = ("datasets", i)
        assert entry.file and entry.target and entry.task
        path = Path(entry.file).expanduser()
        if not path.is_absolute():
            path = (self.src.path.parent / path).resolve()
        if not path.name.lower().endswith(FORMATS):
            self.add((*loc, "file"), f"must be one of {', '.join(FORMATS)}, got '{path.name}'")
            return None
        if not path.exists():
            self.add((*loc, "file"), f"file not found: {path}")
            return None
        try:
            columns = table_columns(path)
        except Exception as exc:  # any reader error is the user's file, not our bug
            self.add((*loc, "file"), f"cannot read {path.name}: {exc}")
            return None
        if entry.target not in columns:
            self.add(
                (*loc, "target"), unknown_name(f"column in {path.name}", entry.target, columns)
            )
            return None
        target = read_table(path, [entry.target])[entry.target].dropna()
        distinct = target.nunique()
        if entry.task == "binary" and distinct != 2:
            self.add(
                (*loc, "task"),
                f"binary needs exactly 2 distinct target values, "
                f"column '{entry.target}' has {distinct}",
            )
            return None
        if entry.task == "regression":
            import pandas as pd

            if not pd.api.types.is_numeric_dtype(target):
                self.add(
                    (*loc, "task"),
                    f"regression needs a numeric target, column '{entry.target}' is {target.dtype}",
                )
                return None
        label = entry.label or path.stem.lower().replace(" ", "-")
        return DatasetRef(
            label=label,
            file=str(path),
            target=entry.target,
            task=entry.task,
            total_rows=len(target),
        )

    def _expectations(self, datasets: list[SuiteDataset]) -> list[Expectation]:
        by_label = {d.ref.label: d for d in datasets}
        out = []
        for i, e in enumerate(self.m.expectations):
            loc: tuple[str | int, ...] = ("expectations", i)
            good = True
            if e.dataset not in by_label:
                self.add(
                    (*loc, "dataset"), unknown_name("dataset of this suite", e.dataset, by_label)
                )
                good = False
            if e.contender not in self.m.contenders:
                self.add(
                    (*loc, "contender"),
                    unknown_name("contender of this suite", e.contender, self.m.contenders),
                )
                good = False
            if e.runner is not None and e.runner not in self.m.runners:
                self.add(
                    (*loc, "runner"), unknown_name("runner of this suite", e.runner, self.m.runners)
                )
                good = False
            if good and e.n is not None and e.n not in by_label[e.dataset].sizes:
                self.add(
                    (*loc, "n"),
                    f"n={e.n} is not one of the sizes of '{e.dataset}': "
                    f"{list(by_label[e.dataset].sizes)}",
                )
                good = False
            if good:
                out.append(Expectation(e.dataset, e.contender, e.n, e.runner, *e.test_score))
        return out


def _default_label(name: str, options: dict[str, Any]) -> str:
    if name != "synthetic":
        return name
    from treeline.datasets.synthetic import SyntheticOptions

    if options == SyntheticOptions().model_dump():
        return "synthetic"
    return f"synthetic-{SyntheticOptions(**options).digest()[:6]}"
