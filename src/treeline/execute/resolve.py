"""The resolver: a suite file and a run's options in, every cell of the run out — or every
problem at once. This is the one place a suite is checked against the catalogues (datasets,
featurizers, contenders, runners) and against the options it runs with (runners chosen on the
command line, the budget scale, `--only`): each problem located in the file (or named by its
option), with a suggestion for a misspelt name. What it returns (plan.py) is valid.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from treeline.config.options import RunOptions
from treeline.config.runner_profile import RunnerProfile
from treeline.config.schema_problems import pydantic_problems
from treeline.config.suite import (
    MAX_BUDGET,
    MAX_SEED,
    MIN_N,
    ContenderEntry,
    DatasetEntry,
    SuiteFile,
    parse_suite,
)
from treeline.config.yaml_source import LocatedYaml
from treeline.data import Dataset, DatasetRef
from treeline.data.dataset import PREPARE_VERSION
from treeline.errors import ConfigError, Problem, unknown_name
from treeline.execute.cell import ContenderSpec
from treeline.execute.plan import Expectation, Plan, Suite, SuiteDataset, expand

MAX_CELLS = 100_000  # far beyond a run anyone waits for; also bounds validation's own work

# Options of a built-in dataset that only mean something for one task. The rule belongs to the
# dataset's Options model; it lives here until that model states it.
_TASK_ONLY_OPTIONS = {("synthetic", "classes"): "multiclass"}

# File endings that show a path was given where a name is expected.
_FILE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".json", ".xlsx", ".py", ".yaml", ".yml")

COMMAND_LINE = "command line"  # where an option's problem is located


def resolve(ref: str | Path, options: RunOptions | None = None) -> Plan:
    """The suite `ref` (a name or a path) run with `options`: its cells, each with its final
    budget, or ConfigError with every problem of the file and the options together."""
    options = options or RunOptions()
    src, model = parse_suite(ref)
    return _Checker(src, model, options).plan()


def load_suite(ref: str | Path) -> Suite:
    """The suite alone, as its own runners would run it (no run options): what `validate` and
    `report` need. Raises ConfigError listing every problem."""
    return resolve(ref).suite


class _Checker:
    """The checks that need the registries: names, sizes, modalities, files, expectations."""

    def __init__(self, src: LocatedYaml, model: SuiteFile, options: RunOptions):
        self.src, self.m, self.options = src, model, options
        self.problems: list[Problem] = []
        self.builtins: dict[str, Dataset] = {}
        self.profiles: dict[str, RunnerProfile] = {}
        self.labels: dict[str, int] = {}  # a dataset's label → its index in the file

    def option(self, flag: str, message: str) -> None:
        """A problem of a run option, not of the file: named by its flag."""
        self.problems.append(Problem(COMMAND_LINE, None, flag, message))

    def plan(self) -> Plan:
        suite = self.run()  # raises on any problem of the file
        opts = self.options
        self._options(suite)
        if self.problems:
            raise ConfigError(self.problems)
        cells = expand(suite, self.profiles, opts.budget_scale, opts.only, opts.max_trials)
        if opts.only and not cells:
            self.option("--only", f"{' '.join(opts.only)} matches no cell of '{suite.name}'")
            raise ConfigError(self.problems)
        return Plan(suite, opts, self.profiles, cells)

    def _options(self, suite: Suite) -> None:
        """The run's options against the suite: runners that exist and load, and every cell's
        budget — a dataset's own or the suite's, times --budget-scale — within the cap."""
        from treeline.config.runner_profile import available_runners, load_runner

        opts = self.options
        scale = opts.budget_scale
        if not (isinstance(scale, int | float) and math.isfinite(scale) and scale > 0):
            self.option("--budget-scale", f"must be a finite number > 0, got {scale!r}")
            scale = 1.0
        if opts.address and opts.executor != "ray":
            self.option("--address", "names a Ray cluster: use it with --executor ray")
        files = available_runners()
        for name in opts.runners or suite.runners:
            if name not in files:
                self.option("--runner", unknown_name("runner", name, files))
                continue
            try:
                self.profiles[name] = load_runner(files[name])
            except ConfigError as exc:
                for p in exc.problems:
                    self.option("--runner", f"runner profile '{name}' is invalid: {p}")
        scaled = f" at --budget-scale {scale:g}" if scale != 1 else ""
        for ds in suite.datasets:
            budget = (ds.budget or suite.budget) * scale
            if budget <= MAX_BUDGET:
                continue
            loc = ("datasets", self.labels[ds.ref.label], "budget") if ds.budget else ("budget",)
            self.add(
                loc,
                f"a cell of '{ds.ref.label}' would get a budget of {_seconds(budget)} s{scaled}, "
                f"more than the cap of 7 days ({MAX_BUDGET:,.0f} s)",
            )

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
            if not 0 <= seed <= MAX_SEED:
                self.add(
                    ("seeds", i),
                    f"a seed must be between 0 and {MAX_SEED} (2**31 - 1, what numpy, torch and "
                    f"the tree libraries accept), got {seed}",
                )
        for i, n in enumerate(m.n or []):
            if n != "max" and n < MIN_N:
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
                hint = "; a runner is a profile runners/NAME.yaml, named by its NAME"
                self.add(("runners", i), _unknown("runner", name, runner_files, hint))
                continue
            try:
                load_runner(runner_files[name])
            except ConfigError as exc:
                # Both places: the profile's line to fix, and the suite line that uses it.
                for p in exc.problems:
                    self.add(("runners", i), f"runner profile '{name}' is invalid: {p}")
        too_many = self._too_many_cells()

        datasets = []
        labels = self.labels
        mismatches: dict[int, list[str]] = {k: [] for k, _ in indexed}
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
            if too_many:  # pairs are datasets × contenders: bounded only with the cells
                datasets.append(ds)
                continue
            picked = entry.contenders if isinstance(entry, DatasetEntry) else None
            if picked is not None:
                fits = self._picked(i, picked, indexed, ds)
            else:
                fits = []
                for k, spec in indexed:
                    why = self._pair(spec, ds)
                    if why is None:
                        fits.append(spec.label)
                    else:
                        mismatches[k].append(why)
            if not fits and indexed and picked is None:
                self.add(
                    ("datasets", i),
                    f"no contender of this suite takes the {ds.kind} dataset '{ds.ref.label}'",
                )
            datasets.append(replace(ds, contenders=tuple(fits), picked=picked is not None))
        for k, whys in mismatches.items():
            if datasets and len(whys) == len(datasets):  # a contender with nothing to run on
                for why in whys:
                    self.add(("contenders", k), why)
        if any(d.picked for d in datasets):
            used = {label for d in datasets for label in d.contenders}
            for k, spec in indexed:
                if spec.label not in used and len(mismatches[k]) != len(datasets):
                    self.add(
                        ("contenders", k),
                        f"no dataset runs '{spec.label}': each one that takes it names its own "
                        "'contenders' without it",
                    )

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
            max_trials=m.max_trials,
            acceptance=m.acceptance,
        )

    def _too_many_cells(self) -> bool:
        """A suite of more than MAX_CELLS cells is refused before anything scales with it."""
        m = self.m
        entries = [e if isinstance(e, DatasetEntry) else None for e in m.datasets]
        # sizes × seeds per dataset (its own, else the suite's), at most every contender each
        pairs = sum(
            len((e and e.n) or m.n or []) * len((e and e.seeds) or m.seeds) for e in entries
        )
        cells = pairs * len(m.contenders) * len(m.runners)
        if cells <= MAX_CELLS:
            return False
        self.add(
            (),
            f"the suite expands to {cells:,} cells (dataset sizes × contenders × runners × seeds); "
            f"at most {MAX_CELLS:,}",
        )
        return True

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
        name, plus, featurizer = entry.name.partition("+")
        ok = True
        if plus and not featurizer.strip():
            from treeline.featurize import catalogue as featurizers

            self.add(
                loc,
                f"'{entry.name}' names no featurizer after '+'; give one of "
                f"{', '.join(featurizers())}, or the contender's name alone",
            )
            return None
        if name not in catalogue():
            hint = (
                "; a contender is a module under src/treeline/contenders/ named by its name "
                "(`treeline ls contenders`), not a file"
            )
            self.add(loc, _unknown("contender", name, catalogue(), hint))
            ok = False
        if featurizer and featurizer not in featurizers():
            self.add(loc, unknown_name("featurizer", featurizer, featurizers()))
            ok = False
        own = catalogue()[name].featurizer if ok else None
        if own and featurizer and featurizer != own:
            self.add(loc, f"contender '{name}' always takes its inputs through '{own}'")
            ok = False
        if not ok:
            return None
        options = entry.options
        model = catalogue()[name].Options
        try:
            checked = model.model_validate(options)
        except ValidationError as exc:
            # The options are the entry's keys besides name and label.
            self.problems.extend(
                pydantic_problems(self.src, exc, model.model_fields, at=("contenders", i))
            )
            return None
        featurize = self._featurize_options(i, entry, featurizer or own or None)
        if featurize is None:
            return None
        return ContenderSpec(
            name,
            featurizer or own or None,
            _set_options(checked, options),
            entry.label or (name if own else ""),  # its own featurizer is not in its cell ids
            featurize,
        )

    def _featurize_options(
        self, i: int, entry: ContenderEntry, featurizer: str | None
    ) -> dict[str, Any] | None:
        """The entry's `featurize` options checked against its featurizer's; None on a problem."""
        from treeline.featurize import featurizer_class

        given = entry.featurize or {}
        at = ("contenders", i, "featurize")
        if given and featurizer is None:
            self.add(at, f"'{entry.name}' takes no featurizer, so it has no featurize options")
            return None
        if not given:
            return {}
        model = featurizer_class(featurizer).Options  # type: ignore[arg-type]
        try:
            checked = model.model_validate(given)
        except ValidationError as exc:
            self.problems.extend(pydantic_problems(self.src, exc, model.model_fields, at=at))
            return None
        return _set_options(checked, given)

    def _picked(
        self,
        i: int,
        picked: list[str],
        indexed: list[tuple[int, ContenderSpec]],
        ds: SuiteDataset,
    ) -> list[str]:
        """A dataset's own `contenders`: each a label of the suite's that takes its inputs."""
        specs = {spec.label: spec for _, spec in indexed}
        self._no_duplicates_at(("datasets", i, "contenders"), picked)
        fits = []
        for j, label in enumerate(picked):
            loc = ("datasets", i, "contenders", j)
            if label not in specs:
                self.add(loc, unknown_name("contender of this suite", label, list(specs)))
            elif (why := self._pair(specs[label], ds)) is not None:
                self.add(loc, why)
            elif label not in fits:
                fits.append(label)
        return fits

    def _pair(self, spec: ContenderSpec, ds: SuiteDataset) -> str | None:
        """Why this contender (with its featurizer) cannot take this dataset's inputs, or None."""
        from treeline.contenders import catalogue as contenders
        from treeline.contenders import contender_class
        from treeline.featurize import catalogue as featurizers
        from treeline.featurize import featurizer_class

        cls = contender_class(spec.name)
        label = ds.ref.label
        if ds.task == "regression" and not cls.regression:
            return f"contender '{spec.name}' classifies only, and '{label}' is a regression task"
        if spec.featurizer:
            f = featurizer_class(spec.featurizer)
            if not _takes(f.modalities, ds):
                return (
                    f"featurizer '{spec.featurizer}' takes {', '.join(f.modalities)} inputs, "
                    f"but '{label}' is {ds.kind}"
                )
            if "tabular" not in cls.modalities and spec.featurizer != cls.featurizer:
                return (
                    f"contender '{spec.name}' does not take tables, so it cannot follow the "
                    f"featurizer '{spec.featurizer}'"
                )
            if f.sparse and not cls.takes_sparse:
                takers = [n for n, c in contenders().items() if c.takes_sparse]
                return (
                    f"featurizer '{spec.featurizer}' gives a sparse table, which contender "
                    f"'{spec.name}' would have to densify; these take it sparse: "
                    f"{', '.join(f'{n}+{spec.featurizer}' for n in takers)}"
                )
            return None
        if ds.modality in cls.modalities and set(ds.parts) <= {*cls.multimodal_parts, "tabular"}:
            return None
        fits = [n for n, f in featurizers().items() if _takes(f.modalities, ds)]
        hint = (
            f"; with a featurizer: {', '.join(f'{spec.name}+{n}' for n in fits)}"
            if fits and "tabular" in cls.modalities
            else ""
        )
        handles = [m for m in cls.modalities if m != "multimodal"]
        if "multimodal" in cls.modalities:
            handles += [f"{p} + table" for p in cls.multimodal_parts]
        return (
            f"contender '{spec.name}' cannot handle the {ds.kind} dataset '{label}' "
            f"(it handles: {', '.join(handles)}){hint}"
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
        if entry.name is None:  # the user's own data: a file, or a folder of class folders
            own = (
                self._user_file
                if entry.file is not None
                else self._user_series
                if entry.series is not None
                else self._class_folder
            )
            ref = own(i, entry)
            if ref is None:
                return None
            dataset = ref.build()
            task = dataset.task
        else:
            assert entry.name is not None
            if entry.name not in builtin_names():
                hint = (
                    "; a file is given as a mapping: {file: PATH, target: COLUMN, "
                    "task: binary|multiclass|regression}"
                )
                self.add(name_loc, _unknown("dataset", entry.name, builtin_names(), hint))
                return None
            options: dict[str, Any] | None = {}
            model = dataset_class(entry.name).Options
            if model is not None:
                raw = entry.options or {}
                options = self._dataset_options(loc, model, raw)
                if options is None or not self._options_fit_task(loc, entry.name, raw, options):
                    return None
            elif entry.options:
                self.add((*loc, "options"), f"dataset '{entry.name}' takes no options")
            label = entry.label or _default_label(entry.name, model, options)
            ref = DatasetRef(
                label=label, name=entry.name, options=options, prepared=PREPARE_VERSION
            )
            dataset = self._builtin(entry.name)
            if model is not None and options and dataset.rows_from_options:
                dataset = dataset_class(entry.name)(model(**options))
            task = str((options or {}).get("task", dataset.task))
        ok = True
        # `max`: every labelled row of this dataset (its test set is held out).
        sizes = [dataset.rows if n == "max" else n for n in sizes]
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
        metric = entry.metric
        if metric is not None:
            from treeline.data.metrics import METRICS

            if metric not in METRICS.get(task, ()):
                self.add(
                    (*loc, "metric"),
                    unknown_name(f"metric for a {task} task", metric, METRICS.get(task, ())),
                )
                return None
        if entry.seeds:
            self._no_duplicates_at((*loc, "seeds"), entry.seeds)
        return SuiteDataset(
            ref,
            tuple(sorted(set(sizes))),
            dataset.modality,
            task,
            metric,
            entry.budget,
            seeds=tuple(entry.seeds) if entry.seeds else None,
            parts=dataset.parts,
        )

    def _builtin(self, name: str) -> Dataset:
        """A built-in dataset with its default options, once per name: building synthetic with
        a suite's options draws its teacher's calibration sample (hundreds of MB at the largest
        options, once per entry), while rows and modality do not depend on options and the
        task, where it is an option, is read from the options."""
        from treeline.data import get_dataset

        if name not in self.builtins:
            self.builtins[name] = get_dataset(name)
        return self.builtins[name]

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
            at = (*loc, "options")
            self.problems.extend(pydantic_problems(self.src, exc, model.model_fields, at=at))
            return None

    def _options_fit_task(
        self, loc: tuple[str | int, ...], name: str, raw: dict[str, Any], options: dict[str, Any]
    ) -> bool:
        """An option given for another task would be silently ignored: refuse it."""
        ok = True
        for (dataset, key), task in _TASK_ONLY_OPTIONS.items():
            if dataset == name and key in raw and options.get("task") != task:
                self.add(
                    (*loc, "options", key),
                    f"'{key}' applies to task {task} only, and this dataset's task is "
                    f"{options.get('task')}: remove it or set 'task: {task}'",
                )
                ok = False
        return ok

    def _user_file(self, i: int, entry: DatasetEntry) -> DatasetRef | None:
        """The file's own problems come from the data stage (`user_file.check_file`); an image
        column's images are decoded and cached now, so theirs come before any cell too."""
        from treeline.data.audio.clips import DEFAULT_RATE
        from treeline.data.class_folders import BadFiles, default_label
        from treeline.data.image.folder import DEFAULT_SIZE
        from treeline.data.sources import sha256_of
        from treeline.data.tabular.user_file import check_file

        loc: tuple[str | int, ...] = ("datasets", i)
        assert entry.file and entry.target and entry.task
        path = Path(entry.file).expanduser()
        if not path.is_absolute():
            path = (self.src.path.parent / path).resolve()
        text = tuple(entry.text or ())
        column, noun = (entry.image, "image") if entry.image else (entry.audio, "clip")
        drop = tuple(entry.drop or ())
        checked = check_file(path, entry.target, entry.task, entry.sep, text, column, noun, drop)
        for key, message in checked.problems:
            self.add((*loc, key), message)
        if checked.problems:
            return None
        label = entry.label or default_label(path)
        files = {}  # a column of image or clip paths: it, how its files decode, their listing
        if checked.paths is not None:
            kind, setting = ("image", "size") if entry.image else ("audio", "rate")
            value = (entry.size or DEFAULT_SIZE) if entry.image else (entry.rate or DEFAULT_RATE)
            files = {kind: column, setting: value, "listing": checked.paths.digest}
        ref = DatasetRef(
            label=label,
            file=str(path),
            target=entry.target,
            task=entry.task,
            total_rows=checked.rows,
            options={
                **({"sep": entry.sep} if entry.sep else {}),
                **({"text": list(entry.text)} if entry.text else {}),
                **({"drop": list(drop)} if drop else {}),
                **files,
            },
            # The content, in the resume key: an edited file is new data, never "recorded".
            digest=sha256_of(path)[:16],
        )
        if files:
            try:
                ref.build().prepare()
            except BadFiles as exc:
                self.add((*loc, "image" if entry.image else "audio"), str(exc))
                return None
        return ref

    def _path(self, given: str) -> Path:
        """A path of the suite: relative to the suite file's folder."""
        path = Path(given).expanduser()
        return path if path.is_absolute() else (self.src.path.parent / path).resolve()

    def _user_series(self, i: int, entry: DatasetEntry) -> DatasetRef | None:
        """Series read, checked and cached now: their problems come before any cell
        (`sequence.user_series.check_series`)."""
        from treeline.data.class_folders import default_label
        from treeline.data.sequence.user_series import Columns, UserSeries, check_series

        loc: tuple[str | int, ...] = ("datasets", i)
        assert entry.series is not None and entry.task is not None
        path = self._path(entry.series)
        labels = self._path(entry.labels) if entry.labels else None
        columns = entry.columns.model_dump() if entry.columns else {}
        label = entry.label or default_label(path)
        dataset = UserSeries(
            path, label, entry.task, entry.target, labels, Columns(**columns), entry.sep
        )
        problems = check_series(dataset)
        for key, message in problems:
            self.add((*loc, *key.split(".")), message)
        if problems:
            return None
        return DatasetRef(
            label=label,
            series=str(path),
            target=entry.target,
            task=entry.task,
            total_rows=dataset.total_rows,
            options={
                **({"labels": str(labels)} if labels else {}),
                **({"columns": columns} if columns else {}),
                **({"sep": entry.sep} if entry.sep else {}),
            },
            digest=dataset.fingerprint(),  # the files' content, in the resume key
        )

    def _class_folder(self, i: int, entry: DatasetEntry) -> DatasetRef | None:
        """A folder of class folders (images, or recordings), decoded and cached now: its
        problems come before any cell (`class_folders.ClassFolder.check`)."""
        from treeline.data.class_folders import default_label

        loc: tuple[str | int, ...] = ("datasets", i)
        if entry.images is not None:
            from treeline.data.image.folder import DEFAULT_SIZE, ImageFolder

            kind, given, cls, value = (
                "images",
                entry.images,
                ImageFolder,
                entry.size or DEFAULT_SIZE,
            )
        else:
            from treeline.data.audio.clips import DEFAULT_RATE, AudioFolder

            assert entry.audio is not None
            kind, given, cls, value = "audio", entry.audio, AudioFolder, entry.rate or DEFAULT_RATE
        root = Path(given).expanduser()
        if not root.is_absolute():
            root = (self.src.path.parent / root).resolve()
        if entry.task == "regression":
            self.add((*loc, "task"), f"an '{kind}' folder's classes are its folders: no regression")
            return None
        label = entry.label or default_label(root)
        dataset, problems = cls.check(root, value, label)
        for message in problems:
            self.add((*loc, kind), message)
        if dataset is None:
            return None
        if entry.task is not None and entry.task != dataset.task:
            self.add(
                (*loc, "task"),
                f"{root} has {len(dataset.classes_found())} classes, so its task is {dataset.task}",
            )
            return None
        return DatasetRef(
            label=label,
            task=dataset.task,  # type: ignore[arg-type]
            total_rows=dataset.total_rows,
            options={cls.setting: value},
            digest=dataset.digest,  # the listing, in the resume key: an edited folder is new
            **{kind: str(root)},  # type: ignore[arg-type]
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


def _takes(modalities: tuple[str, ...], ds: SuiteDataset) -> bool:
    """Whether a featurizer of `modalities` takes the dataset: its modality, or on a multimodal
    one the part that is not a table (it is joined with the table's columns)."""
    if ds.modality != "multimodal":
        return ds.modality in modalities
    return any(p in modalities for p in ds.parts if p != "tabular")


def _unknown(kind: str, name: str, choices: Any, path_hint: str) -> str:
    """The unknown-name message, with `path_hint` when the name looks like a file's path."""
    message = unknown_name(kind, name, choices)
    looks_like_path = "/" in name or "\\" in name or name.lower().endswith(_FILE_SUFFIXES)
    return message + path_hint if looks_like_path else message


def _seconds(value: float) -> str:
    """1,200,000 — or 1e+301 for a number no one would read digit by digit."""
    return f"{value:,.0f}" if value < 1e12 else f"{value:.3g}"


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
