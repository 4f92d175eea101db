"""Suite files (`suites/NAME.yaml`): their schema, checked key by key with located problems.

This is the file alone; `execute/plan.py` resolves its names against the catalogues (datasets,
featurizers, contenders, runners) and reports every remaining problem at once, each with file,
line, field, the rule and the bad value, and a suggestion for a misspelt name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PositiveInt,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from treeline.config.schema_problems import pydantic_problems
from treeline.config.yaml_source import LocatedYaml, load_yaml
from treeline.errors import ConfigError, unknown_name
from treeline.locate import named_files

Task = Literal["binary", "multiclass", "regression"]

_NAME = r"^[a-z0-9][a-z0-9._-]*$"
MIN_N = 10  # below this an 80/20 split leaves almost nothing to validate on
MAX_BUDGET = 7 * 24 * 3600.0  # seconds per cell; more is a typo, and overflows schedules and ETAs
MAX_SEED = 2**31 - 1  # numpy, torch and the tree libraries all take seeds in [0, 2**31 - 1]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SeriesColumns(_Strict):
    """A long-format series file's columns (data/sequence/user_series.py)."""

    id: str = Field("id", min_length=1)
    time: str = Field("time", min_length=1)
    value: str = Field("value", min_length=1)
    channel: str | None = Field(None, min_length=1)


class DatasetEntry(_Strict):
    """A built-in dataset (`name`) or a user's table (`file`, `target`, `task`)."""

    name: str | None = None
    label: str | None = Field(None, pattern=_NAME)
    file: str | None = None
    images: str | None = None  # a folder of class folders
    # A `file`'s text columns (support tickets, reviews): text, or text + table with the rest.
    text: list[str] | None = Field(None, min_length=1)
    # A `file`'s columns to leave out: an id, a column that gives the answer away.
    drop: list[str] | None = Field(None, min_length=1)
    # A `file`'s column of image paths (relative to the file's folder): images, or images +
    # table with the other columns.
    image: str | None = Field(None, min_length=1)
    size: int | None = Field(None, ge=8, le=512)  # `images` or `image`: resized to size×size
    # A folder of class folders of recordings; with `file`, its column of clip paths.
    audio: str | None = Field(None, min_length=1)
    rate: int | None = Field(None, ge=1_000, le=192_000)  # `audio`: resampled to this rate (Hz)
    # Series: a long-format CSV/Parquet (its `columns`), or an .npy array with `labels`.
    series: str | None = Field(None, min_length=1)
    labels: str | None = Field(None, min_length=1)
    columns: SeriesColumns | None = None
    target: str | None = None
    task: Task | None = None
    sep: str | None = Field(None, min_length=1, max_length=1)  # a 'file' CSV's separator
    metric: str | None = None  # checked against the task in the plan (data/metrics.py)
    n: list[PositiveInt | Literal["max"]] | None = Field(None, min_length=1)
    # This dataset's cells' budget, in place of the suite's (equal within the dataset).
    budget: float | None = Field(None, gt=0, allow_inf_nan=False, le=MAX_BUDGET)
    # This dataset's seeds, in place of the suite's: more seeds where cells are cheap.
    seeds: list[int] | None = Field(None, min_length=1)
    # The suite's contenders (labels) this dataset runs, in place of every one that fits it.
    contenders: list[str] | None = Field(None, min_length=1)
    options: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> DatasetEntry:
        folder = self.audio if self.file is None else None  # `audio` without `file`: a folder
        kinds = (self.name, self.file, self.images, folder, self.series)
        if sum(x is not None for x in kinds) != 1:
            raise ValueError(
                "give exactly one of 'name' (a built-in dataset), 'file' (a table), 'images' "
                "(a folder of class folders of images), 'audio' (one of recordings) or "
                "'series' (a long-format table or an array of series)"
            )
        if self.series is None and (self.labels is not None or self.columns is not None):
            raise ValueError("'labels' and 'columns' belong to 'series' datasets only")
        if self.series is not None:
            array = self.series.lower().endswith(".npy")
            if self.task is None:
                raise ValueError("a 'series' dataset needs 'task'")
            if array and self.labels is None:
                raise ValueError("an array of series (.npy) needs 'labels': one per series")
            if array and self.columns is not None:
                raise ValueError("'columns' names a long-format file's columns, not an array's")
            if not array and self.target is None:
                raise ValueError(
                    "a long-format 'series' file needs 'target': the label's column, in it or "
                    "in its 'labels' file"
                )
        if (self.images or folder) is not None and (
            self.target is not None or self.sep is not None
        ):
            raise ValueError(
                "a folder's classes are its folders' names: it takes no 'target' or 'sep'"
            )
        if self.drop is not None and self.file is None:
            raise ValueError("'drop' names columns of a 'file' dataset to leave out")
        if self.text is not None and self.file is None:
            raise ValueError("'text' names columns of a 'file' dataset")
        if self.image is not None and self.file is None:
            raise ValueError("'image' names a column of image paths in a 'file' dataset")
        columns = [k for k in ("text", "image", "audio") if getattr(self, k) is not None]
        if self.file is not None and len(columns) > 1:
            raise ValueError(
                f"a 'file' dataset takes one of 'text' columns, an 'image' column or an 'audio' "
                f"column, not {' and '.join(columns)}"
            )
        if self.size is not None and self.images is None and self.image is None:
            raise ValueError("'size' belongs to 'images' folders and 'image' columns only")
        if self.rate is not None and self.audio is None:
            raise ValueError("'rate' belongs to 'audio' datasets only")
        if self.file is not None and (self.target is None or self.task is None):
            raise ValueError("a 'file' dataset needs 'target' (the column) and 'task'")
        if self.name is not None and (
            self.target is not None or self.task is not None or self.sep is not None
        ):
            raise ValueError("'target', 'task' and 'sep' belong to 'file' datasets only")
        return self


class ExpectationEntry(_Strict):
    """A score range a cell must land in (drift checks)."""

    dataset: str
    contender: str
    n: PositiveInt | None = None
    runner: str | None = None
    test_score: list[FiniteFloat] = Field(min_length=2, max_length=2)

    @model_validator(mode="after")
    def _ordered(self) -> ExpectationEntry:
        lo, hi = self.test_score
        if lo > hi:
            raise ValueError(f"test_score must be [low, high] with low <= high, got [{lo}, {hi}]")
        return self


class ContenderEntry(BaseModel):
    """`name` is a contender, or `contender+featurizer`; every other key is one of the
    contender's typed options (checked against its catalogue entry in the plan)."""

    model_config = ConfigDict(extra="allow", strict=True)

    name: str
    label: str | None = Field(None, pattern=_NAME)
    # The featurizer's typed options (minilm-embed: precision, max_length), checked in the plan.
    featurize: dict[str, Any] | None = None

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


def _kind(value: Any) -> str | None:
    """Which member of a `name | mapping` list item: a name, a mapping, or neither (an error)."""
    if isinstance(value, str):
        return "name"
    return "mapping" if isinstance(value, dict) else None


def _name_or_mapping(mapping: type[BaseModel], what: str) -> Any:
    """`str | mapping` told apart by the value's type, so an error names what was expected
    once instead of once per member of the union."""
    return Annotated[
        Annotated[str, Tag("name")] | Annotated[mapping, Tag("mapping")],
        Discriminator(
            _kind,
            custom_error_type="name_or_mapping",
            custom_error_message=f"give {what}",
        ),
    ]


DatasetItem = _name_or_mapping(
    DatasetEntry,
    "a built-in dataset's name or a mapping ({name: ...} or {file: ..., target: ..., task: ...})",
)
ContenderItem = _name_or_mapping(ContenderEntry, "a contender's name or a mapping {name: ...}")


class SuiteFile(_Strict):
    name: str = Field(pattern=_NAME)
    description: str = Field(min_length=1)
    budget: float = Field(
        gt=0, allow_inf_nan=False, description="seconds of tuning + training per cell"
    )
    seeds: list[int] = Field(min_length=1)
    # A cap on trials per cell besides the budget: a quick check of a suite's plumbing, or a
    # tuning protocol counted in trials. None: trials run until the budget is spent.
    max_trials: PositiveInt | None = None
    n: list[PositiveInt | Literal["max"]] | None = Field(None, min_length=1)
    datasets: list[DatasetItem] = Field(min_length=1)
    contenders: list[ContenderItem] = Field(min_length=1)
    runners: list[str] = Field(default_factory=lambda: ["cpu"], min_length=1)
    expectations: list[ExpectationEntry] = Field(default_factory=list)
    # Checks run after the cells (acceptance.py): `gpu`, the GPU acceptance of gpu-smoke.
    acceptance: Literal["gpu"] | None = None

    @field_validator("budget")
    @classmethod
    def _bounded(cls, budget: float) -> float:
        if budget > MAX_BUDGET:
            raise ValueError(
                f"a cell's budget is at most 7 days ({MAX_BUDGET:,.0f} s), got {budget:g}"
            )
        return budget


KEYS = (
    set(SuiteFile.model_fields)
    | set(DatasetEntry.model_fields)
    | set(ExpectationEntry.model_fields)
)


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


def parse_suite(ref: str | Path) -> tuple[LocatedYaml, SuiteFile]:
    """Read a suite file and check its schema; raises ConfigError listing every problem."""
    path = resolve_suite_path(str(ref))
    src = load_yaml(path)
    if not isinstance(src.data, dict):
        raise ConfigError(
            [
                *src.problems,
                src.problem(
                    (), f"a suite must be a mapping of keys to values, got {_what(src.data)}"
                ),
            ]
        )
    try:
        model = SuiteFile.model_validate(src.data)
    except ValidationError as exc:
        problems = [*src.problems, *pydantic_problems(src, exc, KEYS)]
        raise ConfigError(sorted(problems, key=lambda p: p.line or 0)) from None
    if src.problems:
        raise ConfigError(src.problems)
    return src, model


def _what(value: Any) -> str:
    """How YAML read a value, in words."""
    if value is None:
        return "nothing (an empty document)"
    return "a list" if isinstance(value, list) else repr(value)[:80]
