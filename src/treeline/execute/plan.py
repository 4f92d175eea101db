"""The plan: a parsed suite file resolved against the catalogues (datasets, featurizers,
contenders, runners) into a `Suite`, then expanded into cells. Every problem is reported at once,
located in the file, with a suggestion for a misspelt name."""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from treeline.config.runner_profile import RunnerProfile
from treeline.config.suite import (
    MIN_N,
    ContenderEntry,
    DatasetEntry,
    SuiteFile,
    parse_suite,
)
from treeline.config.yaml_source import LocatedYaml, pydantic_problems
from treeline.data import DatasetRef
from treeline.errors import ConfigError, Problem, unknown_name
from treeline.execute.cell import Cell, ContenderSpec, runner_fields


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
    contenders: tuple[ContenderSpec, ...]
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
                "contenders": [c.__dict__ for c in self.contenders],
                "runners": self.runners,
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_suite(ref: str | Path) -> Suite:
    """Parse and fully validate a suite; raises ConfigError listing every problem."""
    src, model = parse_suite(ref)
    return _Checker(src, model).run()


class _Checker:
    """The checks that need the registries: names, sizes, modalities, files, expectations."""

    def __init__(self, src: LocatedYaml, model: SuiteFile):
        self.src, self.m = src, model
        self.problems: list[Problem] = []

    def add(self, loc: tuple[str | int, ...], message: str) -> None:
        self.problems.append(self.src.problem(loc, message))

    def run(self) -> Suite:
        from treeline.config.runner_profile import available_runners, load_runner

        m = self.m
        if m.name != self.src.path.stem:
            self.add(("name",), f"must match the file name '{self.src.path.stem}', got '{m.name}'")
        for key, values in (
            ("seeds", m.seeds),
            ("n", m.n or []),
            ("runners", m.runners),
        ):
            self._no_duplicates(key, values)
        for i, seed in enumerate(m.seeds):
            if seed < 0:
                self.add(("seeds", i), f"a seed must be >= 0, got {seed}")
        for i, n in enumerate(m.n or []):
            if n < MIN_N:
                self.add(("n", i), f"n must be >= {MIN_N}, got {n}")

        indexed = [(i, c) for i, e in enumerate(m.contenders) if (c := self._contender(i, e))]
        contenders = [c for _, c in indexed]
        seen: set[str] = set()
        for i, c in indexed:
            if c.label in seen:
                self.add(
                    ("contenders", i), f"duplicate entry '{c.label}'; give one a distinct 'label'"
                )
            seen.add(c.label)
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
            for k, spec in indexed:
                self._pair(spec, k, ds)

        expectations = self._expectations(datasets, [c.label for c in contenders])
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

    def _contender(self, i: int, entry: str | ContenderEntry) -> ContenderSpec | None:
        """`name`, `name+featurizer`, or a mapping with a label and typed options."""
        from treeline.contenders import catalogue
        from treeline.featurize import catalogue as featurizers

        if isinstance(entry, str):
            entry, loc = ContenderEntry(name=entry), ("contenders", i)
        else:
            loc = ("contenders", i, "name")
        name, _, featurizer = entry.name.partition("+")
        ok = True
        if name not in catalogue():
            self.add(loc, unknown_name("contender", name, catalogue()))
            ok = False
        if featurizer and featurizer not in featurizers():
            self.add(loc, unknown_name("featurizer", featurizer, featurizers()))
            ok = False
        if not ok:
            return None
        options = entry.options
        try:
            checked = catalogue()[name].Options.model_validate(options)
        except ValidationError as exc:
            model = catalogue()[name].Options
            for p in pydantic_problems(self.src, exc, model.model_fields):
                sub = [p.field] if p.field else []
                self.problems.append(self.src.problem(("contenders", i, *sub), p.message))
            return None
        return ContenderSpec(
            name, featurizer or None, _set_options(checked, options), entry.label or ""
        )

    def _pair(self, spec: ContenderSpec, i: int, ds: SuiteDataset) -> None:
        """Can this contender (with its featurizer) take this dataset's inputs?"""
        from treeline.contenders import contender_class
        from treeline.featurize import catalogue as featurizers
        from treeline.featurize import featurizer_class

        cls = contender_class(spec.name)
        label = ds.ref.label
        if spec.featurizer:
            f = featurizer_class(spec.featurizer)
            if ds.modality not in f.modalities:
                self.add(
                    ("contenders", i),
                    f"featurizer '{spec.featurizer}' takes {', '.join(f.modalities)} inputs, "
                    f"but '{label}' is {ds.modality}",
                )
            elif "tabular" not in cls.modalities:
                self.add(
                    ("contenders", i),
                    f"contender '{spec.name}' does not take tables, so it cannot follow the "
                    f"featurizer '{spec.featurizer}'",
                )
            return
        if ds.modality in cls.modalities:
            return
        fits = [n for n, f in featurizers().items() if ds.modality in f.modalities]
        hint = (
            f"; with a featurizer: {', '.join(f'{spec.name}+{n}' for n in fits)}"
            if fits and "tabular" in cls.modalities
            else ""
        )
        self.add(
            ("contenders", i),
            f"contender '{spec.name}' cannot handle the {ds.modality} dataset '{label}' "
            f"(it handles: {', '.join(cls.modalities)}){hint}",
        )

    def _dataset(self, i: int, entry: str | DatasetEntry) -> SuiteDataset | None:
        from treeline.data import builtin_names, dataset_class

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
            options: dict[str, Any] | None = {}
            model = dataset_class(entry.name).Options
            if model is not None:
                options = self._dataset_options(loc, model, entry.options or {})
                if options is None:
                    return None
            elif entry.options:
                self.add((*loc, "options"), f"dataset '{entry.name}' takes no options")
            label = entry.label or _default_label(entry.name, model, options)
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

    def _dataset_options(
        self, loc: tuple[str | int, ...], model: type[BaseModel], raw: dict[str, Any]
    ) -> dict[str, Any] | None:
        try:
            return model.model_validate(raw).model_dump()
        except ValidationError as exc:
            for p in pydantic_problems(self.src, exc, model.model_fields):
                # Re-anchor at `options.<key>` of this entry.
                sub = p.field
                self.problems.append(
                    self.src.problem((*loc, "options", *([sub] if sub else [])), p.message)
                )
            return None

    def _user_file(self, i: int, entry: DatasetEntry) -> DatasetRef | None:
        """The file's own problems come from the data stage (`user_file.check_file`)."""
        from treeline.data.tabular.user_file import check_file

        loc: tuple[str | int, ...] = ("datasets", i)
        assert entry.file and entry.target and entry.task
        path = Path(entry.file).expanduser()
        if not path.is_absolute():
            path = (self.src.path.parent / path).resolve()
        checked = check_file(path, entry.target, entry.task, entry.sep)
        for key, message in checked.problems:
            self.add((*loc, key), message)
        if checked.problems:
            return None
        label = entry.label or path.stem.lower().replace(" ", "-")
        return DatasetRef(
            label=label,
            file=str(path),
            target=entry.target,
            task=entry.task,
            total_rows=checked.rows,
            options={"sep": entry.sep} if entry.sep else {},
        )

    def _expectations(
        self, datasets: list[SuiteDataset], contenders: list[str]
    ) -> list[Expectation]:
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
            if e.contender not in contenders:
                self.add(
                    (*loc, "contender"),
                    unknown_name("contender of this suite", e.contender, contenders),
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


def _default_label(name: str, model: type[BaseModel] | None, options: dict[str, Any]) -> str:
    """The dataset's name, or with a short hash of its options when they are not the defaults."""
    if model is None or options == model().model_dump():
        return name
    blob = json.dumps(options, sort_keys=True, default=str).encode()
    return f"{name}-{hashlib.sha256(blob).hexdigest()[:6]}"


def _set_options(checked: BaseModel, given: dict[str, Any]) -> dict[str, Any]:
    """Only the options the suite set: defaults stay out of the cell, its id and its resume key,
    so adding an option to a contender does not invalidate every recorded cell."""
    return {k: v for k, v in checked.model_dump().items() if k in given}


def expand(
    suite: Suite,
    profiles: dict[str, RunnerProfile],
    budget_scale: float = 1.0,
    only: list[str] | None = None,
) -> list[Cell]:
    """Dataset × n × runner × seed × contender, in the order a person reads a results table.

    `profiles`: the runners to use, by name. `only`: glob patterns on cell ids.
    """
    from treeline.contenders import contender_class

    cells = [
        Cell(
            suite=suite.name,
            dataset=ds.ref,
            modality=ds.modality,
            task=ds.task,
            n=n,
            contender=spec,
            family=contender_class(spec.name).family,
            **runner_fields(runner, p),
            seed=seed,
            budget=suite.budget * budget_scale,
        )
        for ds in suite.datasets
        for n in ds.sizes
        for runner, p in profiles.items()
        for seed in suite.seeds
        for spec in suite.contenders
    ]
    if only:
        cells = [c for c in cells if any(fnmatch.fnmatchcase(c.id, pat) for pat in only)]
    return cells
