"""A corpus of malformed suites, each validated through the real command line: exit code 2, the
problem at `file:line: field`, a message that says what to do, never a traceback; and the worst
of them (aliases of aliases) within 5 s and 1 GiB."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest

from treeline.cli import main
from treeline.console import duration

GOOD = """\
name: bad
description: a suite
budget: 10
seeds: [0]
n: [1000]
datasets: [adult]
contenders: [xgboost]
runners: [cpu]
"""

# Each level holds nine aliases of the one before: 9**9 values from 10 short lines.
LAUGHS = GOOD.replace(
    "description: a suite", "description: &a [lol, lol, lol, lol, lol, lol]"
) + "".join(
    f"l{i}: &{b} [*{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}]\n"
    for i, (a, b) in enumerate(zip("abcdefghi", "bcdefghij", strict=True))
)

BROKEN_RUNNER = """\
name: broken
description: a profile with a price that is not a number
device: cpu
threads: auto
price_source: nowhere
price_per_hour: free
price_date: 2025-01-15
"""


def swap(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


def dedent(text: str) -> str:
    return textwrap.dedent(text)


class Case(NamedTuple):
    id: str
    text: str | bytes
    line: int | None  # None: the whole file, no line
    field: str
    fragment: str | tuple[str, ...]  # `{dir}`: the folder the suite is in; a tuple: any of them


EXPECTATION = "expectations:\n  - dataset: adult\n    contender: xgboost\n    test_score: {}\n"

CASES = [
    # -- the document: size, depth, encoding, YAML features the schema does not use -----------
    Case("billion-laughs", LAUGHS, 12, "", "holds more than 10,000 values"),
    Case(
        "long-text-aliases",
        swap("description: a suite", f"description: &d {'x' * 100_000}")
        + "x: ["
        + ", ".join(["*d"] * 50)
        + "]\n",
        9,
        "",
        "more than 4,194,304 characters of text",
    ),
    Case("too-large", GOOD + "# " + "x" * (1 << 20) + "\n", None, "", "limited to 1,048,576 bytes"),
    # Refused at its line either way: by our depth limit, or (PyYAML >= 6.0.4, whose scanner
    # reads ahead through the brackets) by the parser's own nesting limit first.
    Case(
        "deep-flow",
        GOOD + "x: " + "[" * 10_000 + "]" * 10_000 + "\n",
        9,
        "",
        ("nested more than 32 levels deep", "YAML syntax error: exceeded maximum nesting depth"),
    ),
    Case(
        "deep-block",
        GOOD + "".join(" " * i + f"k{i}:\n" for i in range(40)),
        41,
        "",
        "nested more than 32 levels deep",
    ),
    Case(
        "merge-key",
        swap("budget: 10", "<<: {budget: 10}"),
        3,
        "",
        "merge keys ('<<: *anchor') are not supported; write the keys out",
    ),
    Case(
        "merge-key-in-entry",
        swap(
            "contenders: [xgboost]",
            "contenders:\n  - &t {name: tabm, k: 4}\n  - <<: *t\n    label: tabm-b",
        ),
        9,
        "contenders[1]",
        "merge keys",
    ),
    Case(
        "include-tag",
        swap("datasets: [adult]", "datasets: !include more.yaml"),
        6,
        "datasets",
        "the tag '!include' is not supported",
    ),
    Case(
        "python-tag-on-list",
        swap("budget: 10", "budget: !!python/object/apply:os.system [true]"),
        3,
        "budget",
        "the tag '!!python/object/apply:os.system' is not supported",
    ),
    Case(
        "binary-tag",
        swap("description: a suite", "description: !!binary aGVsbG8="),
        2,
        "description",
        "the tag '!!binary' is not supported",
    ),
    Case(
        "scalar-tag-on-list",
        swap("seeds: [0]", "seeds: !!str [0]"),
        4,
        "seeds",
        "the tag '!!str' is not supported",
    ),
    Case("tag-on-key", swap("budget: 10", "!secret budget: 10"), 3, "", "the tag '!secret'"),
    Case(
        "complex-key-list",
        GOOD + "? [a, b]\n: 1\n",
        9,
        "",
        "a key must be a plain name, not a list",
    ),
    Case(
        "complex-key-mapping",
        swap("datasets: [adult]", "datasets:\n  - name: adult\n    ? {n: 1}\n    : 2"),
        8,
        "datasets[0]",
        "a key must be a plain name, not a mapping",
    ),
    Case(
        "alias-as-key",
        swap("seeds: [0]", "seeds: &s [0]") + "*s : 1\n",
        9,
        "",
        "a key must be a plain name, not a list or a mapping",
    ),
    Case(
        "undefined-alias",
        swap("seeds: [0]", "seeds: *nope"),
        4,
        "seeds",
        "alias '*nope' has no anchor '&nope' before it",
    ),
    Case(
        "recursive-alias",
        swap("datasets: [adult]", "datasets: &d [adult, *d]"),
        6,
        "datasets[1]",
        "alias '*d' refers to a value that contains it",
    ),
    Case(
        "nested-duplicate-key",
        swap("datasets: [adult]", "datasets:\n  - name: adult\n    name: diamonds"),
        8,
        "datasets[0].name",
        "duplicate key 'name' (first at line 7)",
    ),
    Case("two-documents", GOOD + "---\nname: other\n", 9, "", "more than one YAML document"),
    Case("tab-indent", swap("datasets: [adult]", "datasets:\n\t- adult"), 7, "", "YAML syntax"),
    Case(
        "impossible-date",
        swap("description: a suite", "description: 2025-02-30"),
        2,
        "description",
        "cannot read '2025-02-30': day is out of range",
    ),
    Case(
        "latin-1",
        swap("description: a suite", "description: café").encode("latin-1"),
        2,
        "",
        "not UTF-8: byte 0xe9 at line 2, column 17 cannot be decoded; save the file as UTF-8",
    ),
    Case("utf-16-bom", GOOD.encode("utf-16"), 1, "", "encoded as UTF-16; save it as UTF-8"),
    Case("utf-16-no-bom", GOOD.encode("utf-16-le"), 1, "", "encoded as UTF-16"),
    Case("utf-32", GOOD.encode("utf-32"), 1, "", "encoded as UTF-32; save it as UTF-8"),
    Case(
        "nul-byte", swap("budget: 10", "budget: 1\x000"), 3, "", "a NUL byte at line 3, column 10"
    ),
    Case("top-level-list", "- adult\n- xgboost\n", 1, "", "a suite must be a mapping"),
    Case("top-level-text", "just some text\n", 1, "", "mapping of keys to values, got 'just"),
    Case("empty", "", 1, "", "the file is empty"),
    Case("only-comments", "# nothing here\n", 1, "", "the file is empty"),
    # -- keys in another case --------------------------------------------------------------
    Case(
        "capital-key",
        swap("budget:", "Budget:"),
        3,
        "Budget",
        "unknown key 'Budget' (did you mean 'budget'?)",
    ),
    Case("capital-name", swap("name:", "Name:"), 1, "Name", "(did you mean 'name'?)"),
    Case(
        "capital-entry-key",
        swap("datasets: [adult]", "datasets:\n  - Name: adult"),
        7,
        "datasets[0].Name",
        "unknown key 'Name' (did you mean 'name'?)",
    ),
    Case(
        "capital-contender-option",
        swap("contenders: [xgboost]", "contenders:\n  - name: tabm\n    K: 4"),
        9,
        "contenders[0].K",
        "unknown key 'K' (did you mean 'k'?)",
    ),
    # -- nothing, or the wrong type ----------------------------------------------------------
    Case(
        "null-datasets",
        swap("datasets: [adult]", "datasets:"),
        6,
        "datasets",
        "valid list, got nothing (an empty value)",
    ),
    Case("null-seeds", swap("seeds: [0]", "seeds: ~"), 4, "seeds", "got nothing"),
    Case(
        "null-description",
        swap("description: a suite", "description:"),
        2,
        "description",
        "valid string, got nothing",
    ),
    Case(
        "null-dataset-item",
        swap("datasets: [adult]", "datasets: [adult, ~]"),
        6,
        "datasets[1]",
        "give a built-in dataset's name or a mapping",
    ),
    Case(
        "number-dataset-item",
        swap("datasets: [adult]", "datasets: [7]"),
        6,
        "datasets[0]",
        "({name: ...} or {file: ..., target: ..., task: ...}), got 7",
    ),
    Case(
        "list-contender-item",
        swap("contenders: [xgboost]", "contenders: [[xgboost]]"),
        7,
        "contenders[0]",
        "give a contender's name or a mapping {name: ...}, got ['xgboost']",
    ),
    Case(
        "date-for-text",
        swap("description: a suite", "description: 2024-01-01"),
        2,
        "description",
        "got 2024-01-01 (YAML read it as a date: quote it to make it text)",
    ),
    Case(
        "number-for-name",
        swap("name: bad", "name: 123"),
        1,
        "name",
        "got 123 (YAML read it as the int 123: quote it",
    ),
    Case("bool-budget", swap("budget: 10", "budget: yes"), 3, "budget", "number, got True"),
    Case(
        "quoted-budget",
        swap("budget: 10", "budget: '10'"),
        3,
        "budget",
        "got '10' (quoted, so text: remove the quotes)",
    ),
    Case("quoted-seed", swap("seeds: [0]", 'seeds: ["1"]'), 4, "seeds[0]", "(quoted, so text"),
    Case("bool-size", swap("n: [1000]", "n: [true]"), 5, "n[0]", "valid integer, got True"),
    Case("bool-seed", swap("seeds: [0]", "seeds: [false]"), 4, "seeds[0]", "integer, got False"),
    # -- values that validate as numbers but cannot run --------------------------------------
    Case("infinite-budget", swap("budget: 10", "budget: .inf"), 3, "budget", "finite number"),
    Case("nan-budget", swap("budget: 10", "budget: .nan"), 3, "budget", "finite number, got nan"),
    Case(
        "absurd-budget",
        swap("budget: 10", "budget: 1.0e+9"),
        3,
        "budget",
        "a cell's budget is at most 7 days (604,800 s), got 1e+09",
    ),
    Case(
        "plain-exponent-budget",
        swap("budget: 10", "budget: 1e3"),
        3,
        "budget",
        "got '1e3' (YAML reads it as text: write a number with a dot and a signed exponent",
    ),
    Case(
        "seed-too-large",
        swap("seeds: [0]", "seeds: [0, 2147483648]"),
        4,
        "seeds[1]",
        "a seed must be between 0 and 2147483647",
    ),
    Case("negative-seed", swap("seeds: [0]", "seeds: [-1]"), 4, "seeds[0]", "got -1"),
    Case("duplicate-seed", swap("seeds: [0]", "seeds: [3, 3]"), 4, "seeds[1]", "duplicate entry 3"),
    Case("duplicate-size", swap("n: [1000]", "n: [1000, 1000]"), 5, "n[1]", "duplicate entry"),
    Case(
        "duplicate-entry-size",
        swap("datasets: [adult]", "datasets:\n  - name: adult\n    n: [500, 500]"),
        8,
        "datasets[0].n[1]",
        "duplicate entry 500",
    ),
    Case(
        "nan-expectation",
        GOOD + EXPECTATION.format("[.nan, 0.9]"),
        12,
        "expectations[0].test_score[0]",
        "finite number, got nan",
    ),
    Case(
        "infinite-expectation",
        GOOD + EXPECTATION.format("[0.8, .inf]"),
        12,
        "expectations[0].test_score[1]",
        "finite number, got inf",
    ),
    Case(
        "reversed-expectation",
        GOOD + EXPECTATION.format("[0.9, 0.1]"),
        10,
        "expectations[0]",
        "test_score must be [low, high] with low <= high, got [0.9, 0.1]",
    ),
    Case(
        "classes-for-regression",
        swap(
            "datasets: [adult]",
            "datasets:\n  - name: synthetic\n    options:\n"
            "      task: regression\n      classes: 5",
        ),
        10,
        "datasets[0].options.classes",
        "'classes' applies to task multiclass only, and this dataset's task is regression",
    ),
    Case(
        "classes-for-default-binary",
        swap("datasets: [adult]", "datasets:\n  - name: synthetic\n    options: {classes: 3}"),
        8,
        "datasets[0].options.classes",
        "task is binary: remove it or set 'task: multiclass'",
    ),
    # -- names: case, and paths where a name is expected -------------------------------------
    Case(
        "contender-case",
        swap("contenders: [xgboost]", "contenders: [XGBoost]"),
        7,
        "contenders[0]",
        "unknown contender 'XGBoost' (did you mean 'xgboost'?)",
    ),
    Case(
        "dataset-case",
        swap("datasets: [adult]", "datasets: [Adult]"),
        6,
        "datasets[0]",
        "(did you mean 'adult'?)",
    ),
    Case("runner-case", swap("runners: [cpu]", "runners: [CPU]"), 8, "runners[0]", "mean 'cpu'?"),
    Case(
        "featurizer-case",
        swap("contenders: [xgboost]", "contenders: [xgboost+Pixels]")
        .replace("[adult]", "[digits]")
        .replace("[1000]", "[500]"),
        7,
        "contenders[0]",
        "unknown featurizer 'Pixels' (did you mean 'pixels'?)",
    ),
    Case(
        "dataset-path",
        swap("datasets: [adult]", "datasets: [data/my.csv]"),
        6,
        "datasets[0]",
        "a file is given as a mapping: {file: PATH, target: COLUMN, task: ",
    ),
    Case(
        "dataset-file-name",
        swap("datasets: [adult]", "datasets: [my.parquet]"),
        6,
        "datasets[0]",
        "a file is given as a mapping",
    ),
    Case(
        "contender-path",
        swap("contenders: [xgboost]", "contenders: [./mine.py]"),
        7,
        "contenders[0]",
        "a contender is a module under src/treeline/contenders/",
    ),
    Case(
        "runner-path",
        swap("runners: [cpu]", "runners: [runners/cpu.yaml]"),
        8,
        "runners[0]",
        "a runner is a profile runners/NAME.yaml, named by its NAME",
    ),
    # -- a runner profile the suite uses -----------------------------------------------------
    Case(
        "broken-runner-profile",
        swap("runners: [cpu]", "runners: [cpu, broken]"),
        8,
        "runners[1]",
        "runner profile 'broken' is invalid: {dir}/runners/broken.yaml:6: price_per_hour: "
        "Input should be a valid number, got 'free'",
    ),
]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current directory, with a broken runner profile in its `runners/` (the current
    directory's profiles come first)."""
    (tmp_path / "runners").mkdir()
    (tmp_path / "runners" / "broken.yaml").write_text(BROKEN_RUNNER)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(folder: Path, text: str | bytes) -> Path:
    path = folder / "bad.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def validate(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["validate", str(path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    return err


def test_the_corpus_is_large_and_its_ids_unique() -> None:
    assert len(CASES) >= 45
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_suite_is_located(
    workdir: Path, capsys: pytest.CaptureFixture[str], case: Case
) -> None:
    path = write(workdir, case.text)
    err = validate(path, capsys)
    where = f"{path}:{case.line}" if case.line else str(path)
    prefix = f"{where}: {case.field}: " if case.field else f"{where}: "
    fragments = (case.fragment,) if isinstance(case.fragment, str) else case.fragment
    fragments = tuple(f.replace("{dir}", str(workdir)) for f in fragments)
    lines = [ln for ln in err.splitlines() if prefix in ln and any(f in ln for f in fragments)]
    assert lines, f"expected {prefix!r} … one of {fragments!r} in:\n{err}"


def test_a_key_in_another_case_is_one_problem_not_two(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = validate(write(workdir, swap("budget:", "Budget:")), capsys)
    assert "required field is missing" not in err
    assert len(err.strip().splitlines()) == 1


def test_every_problem_of_the_document_is_reported_at_once_in_line_order(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        swap("budget: 10", "budget: !!python/name:os.system")
        .replace("seeds:", "Seeds:")
        .replace("datasets: [adult]", "datasets: [adult, 3]")
        .replace("contenders: [xgboost]", "contenders:\n  - ? [a]\n    : b")
    )
    err = validate(write(workdir, text), capsys)
    lines = [int(ln.split(":")[1]) for ln in err.strip().splitlines()]
    assert lines == [3, 4, 6, 8], err


def test_a_directory_or_a_missing_file_is_refused(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "is a directory, not a YAML file" in validate(workdir / "runners", capsys)
    assert f"{workdir / 'none.yaml'}: file not found" in validate(workdir / "none.yaml", capsys)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_refused(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(workdir, GOOD)
    path.chmod(0)
    assert "cannot read: permission denied" in validate(path, capsys)


@pytest.mark.parametrize("case", ["billion-laughs", "infinite-budget", "capital-key"])
def test_run_refuses_a_malformed_suite_like_validate(
    workdir: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    (found,) = [c for c in CASES if c.id == case]
    path = write(workdir, found.text)
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{found.line}: " in err and found.fragment in err
    assert "Traceback" not in err


@pytest.mark.parametrize("scale", ["inf", "nan", "-1", "0", "ten"])
def test_run_refuses_a_budget_scale_no_budget_can_use(
    workdir: Path, capsys: pytest.CaptureFixture[str], scale: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--budget-scale", scale, str(write(workdir, GOOD))])
    assert info.value.code == 2
    assert "--budget-scale" in capsys.readouterr().err


def test_run_refuses_a_budget_scale_past_the_cap(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--budget-scale", "1e300", str(write(workdir, GOOD))]) == 2
    assert "more than the cap of 7 days" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "00:00:00"), (3661, "01:01:01"), (90061, "1d 01:01:01"), (math.inf, "?"), (math.nan, "?")],
)
def test_eta_shows_days_and_survives_an_unbounded_estimate(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown


def test_the_worst_suite_is_refused_within_5_s_and_1_gib(tmp_path: Path) -> None:
    path = write(tmp_path, LAUGHS)
    # Measured from a fresh parent, so the peak is this child's and not an earlier test's.
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        f"p = subprocess.run([sys.executable, '-m', 'treeline', 'validate', {str(path)!r}],"
        " capture_output=True, text=True)\n"
        "took = time.perf_counter() - t\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(p.returncode, took, peak)\n"
        "sys.stderr.write(p.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    code, took, peak_kib = proc.stdout.split()
    assert int(code) == 2, proc.stderr
    assert "holds more than 10,000 values" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert float(took) < 5.0
    assert int(peak_kib) < 1 << 20  # ru_maxrss is in KiB on Linux
