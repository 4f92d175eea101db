"""Malformed suites: each fails with file, line, field, the rule and the bad value, exit code 2."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from treeline.cli import main
from treeline.errors import ConfigError
from treeline.execute.resolve import load_suite, resolve

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


def write(tmp_path: Path, text: str, name: str = "bad") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def swap(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


# (id, suite text, line, field, message fragment)
CASES = [
    (
        "unknown-key",
        GOOD + "budgte: 5\n",
        9,
        "budgte",
        "unknown key 'budgte' (did you mean 'budget'?)",
    ),
    (
        "wrong-type",
        swap("budget: 10", "budget: ten"),
        3,
        "budget",
        "Input should be a valid number, got 'ten'",
    ),
    (
        "negative-budget",
        swap("budget: 10", "budget: -5"),
        3,
        "budget",
        "Input should be greater than 0, got -5",
    ),
    ("zero-budget", swap("budget: 10", "budget: 0"), 3, "budget", "greater than 0, got 0"),
    ("empty-datasets", swap("datasets: [adult]", "datasets: []"), 6, "datasets", "at least 1 item"),
    (
        "empty-contenders",
        swap("contenders: [xgboost]", "contenders: []"),
        7,
        "contenders",
        "at least 1 item",
    ),
    (
        "duplicate-contender",
        swap("contenders: [xgboost]", "contenders: [xgboost, xgboost]"),
        7,
        "contenders[1]",
        "duplicate entry 'xgboost'",
    ),
    (
        "misspelt-dataset",
        swap("datasets: [adult]", "datasets: [adlt]"),
        6,
        "datasets[0]",
        "unknown dataset 'adlt' (did you mean 'adult'?)",
    ),
    (
        "misspelt-contender",
        swap("contenders: [xgboost]", "contenders: [xgbost]"),
        7,
        "contenders[0]",
        "unknown contender 'xgbost' (did you mean 'xgboost'?)",
    ),
    (
        "misspelt-runner",
        swap("runners: [cpu]", "runners: [cpuu]"),
        8,
        "runners[0]",
        "unknown runner 'cpuu' (did you mean 'cpu'?)",
    ),
    (
        "size-too-large",
        swap("n: [1000]", "n: [1000, 100000]"),
        5,
        "n[1]",
        "n=100000 is larger than the 26,049 labelled rows of 'adult'",
    ),
    (
        "modality",
        swap("datasets: [adult]", "datasets: [digits]").replace("n: [1000]", "n: [500]"),
        7,
        "contenders[0]",
        "contender 'xgboost' cannot handle the image dataset 'digits'",
    ),
    (
        "missing-file",
        swap(
            "datasets: [adult]", "datasets:\n  - file: nowhere.csv\n    target: y\n    task: binary"
        ),
        7,
        "datasets[0].file",
        "file not found",
    ),
    (
        "missing-target",
        swap(
            "datasets: [adult]", "datasets:\n  - file: data.csv\n    target: labl\n    task: binary"
        ),
        8,
        "datasets[0].target",
        "unknown column in data.csv 'labl' (did you mean 'label'?)",
    ),
    ("yaml-syntax", swap("seeds: [0]", "seeds: [0"), 5, "", "YAML syntax error"),
    (
        "duplicate-yaml-key",
        GOOD + "budget: 20\n",
        9,
        "budget",
        "duplicate key 'budget' (first at line 3)",
    ),
    ("seeds-not-a-list", swap("seeds: [0]", "seeds: 0"), 4, "seeds", "valid list, got 0"),
    (
        "duplicate-dataset",
        swap("datasets: [adult]", "datasets: [adult, adult]"),
        6,
        "datasets[1]",
        "duplicate dataset 'adult'",
    ),
    (
        "missing-field",
        swap("description: a suite\n", ""),
        1,
        "description",
        "required field is missing",
    ),
    (
        "dataset-entry-unknown-key",
        swap("datasets: [adult]", "datasets:\n  - name: adult\n    sizes: [100]"),
        8,
        "datasets[0].sizes",
        "unknown key 'sizes'",
    ),
    (
        "synthetic-option",
        swap(
            "datasets: [adult]", "datasets:\n  - name: synthetic\n    options:\n      informatve: 3"
        ),
        9,
        "datasets[0].options.informatve",
        "unknown key 'informatve' (did you mean 'informative'?)",
    ),
    (
        "binary-with-3-classes",
        swap(
            "datasets: [adult]",
            "datasets:\n  - file: data.csv\n    target: three\n    task: binary",
        ),
        9,
        "datasets[0].task",
        "binary needs exactly 2 distinct target values, column 'three' has 3",
    ),
    (
        "expectation-contender",
        GOOD + "expectations:\n  - dataset: adult\n    contender: catboost\n"
        "    test_score: [0.8, 0.9]\n",
        11,
        "expectations[0].contender",
        "unknown contender of this suite 'catboost'",
    ),
    (
        "expectation-range",
        GOOD + "expectations:\n  - dataset: adult\n    contender: xgboost\n"
        "    test_score: [0.9, 0.8]\n",
        10,
        "expectations[0]",
        "low <= high, got [0.9, 0.8]",
    ),
    (
        "name-mismatch",
        swap("name: bad", "name: other"),
        1,
        "name",
        "must match the file name 'bad', got 'other'",
    ),
    (
        "string-size",
        swap("n: [1000]", "n: ['1000']"),
        5,
        "n[0]",
        "Input should be a valid integer, got '1000'",
    ),
    (
        "image-without-featurizer",
        swap("datasets: [adult]", "datasets: [digits]").replace("n: [1000]", "n: [500]"),
        7,
        "contenders[0]",
        "cannot handle the image dataset 'digits' (it handles: tabular); "
        "with a featurizer: xgboost+hog, xgboost+mobilenet-embed, xgboost+pixels",
    ),
    (
        "misspelt-featurizer",
        swap("contenders: [xgboost]", "contenders: [xgboost+pixles]"),
        7,
        "contenders[0]",
        "unknown featurizer 'pixles' (did you mean 'pixels'?)",
    ),
    (
        "featurizer-on-a-table",
        swap("contenders: [xgboost]", "contenders: [xgboost+pixels]"),
        7,
        "contenders[0]",
        "featurizer 'pixels' takes image inputs, but 'adult' is tabular",
    ),
    (
        "contender-option-misspelt",
        swap("contenders: [xgboost]", "contenders:\n  - name: tabm\n    kk: 4"),
        9,
        "contenders[0].kk",
        "unknown key 'kk' (did you mean 'k'?)",
    ),
    (
        "contender-option-value",
        swap("contenders: [xgboost]", "contenders:\n  - name: tabm\n    k: 0"),
        9,
        "contenders[0].k",
        "greater than 0",
    ),
    (
        "contender-takes-no-options",
        swap("contenders: [xgboost]", "contenders:\n  - name: xgboost\n    frozen: true"),
        9,
        "contenders[0].frozen",
        "unknown key 'frozen'",
    ),
    (
        "same-contender-twice-without-label",
        swap("contenders: [xgboost]", "contenders:\n  - tabm\n  - name: tabm\n    k: 4"),
        9,
        "contenders[1]",
        "duplicate entry 'tabm'; give one a distinct 'label'",
    ),
]


@pytest.fixture
def data_csv(tmp_path: Path) -> Path:
    rows = ["a,b,label,three"] + [
        f"{i},{i % 7},{'yes' if i % 3 else 'no'},{i % 3}" for i in range(200)
    ]
    path = tmp_path / "data.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize(
    ("text", "line", "field", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_suite_is_rejected_with_location(
    tmp_path: Path,
    data_csv: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    line: int,
    field: str,
    fragment: str,
) -> None:
    path = write(tmp_path, text)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    prefix = f"{path}:{line}: {field}: " if field else f"{path}:{line}: "
    lines = [ln for ln in err.splitlines() if prefix in ln and fragment in ln]
    assert lines, f"expected {prefix!r} … {fragment!r} in:\n{err}"
    assert "Traceback" not in err


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = swap("contenders: [xgboost]", "contenders: [xgbost]").replace(
        "runners: [cpu]", "runners: [gpuu]"
    )
    with pytest.raises(ConfigError) as info:
        load_suite(write(tmp_path, text))
    fields = {p.field for p in info.value.problems}
    assert fields == {"contenders[0]", "runners[0]"}


def test_cli_exits_2_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, swap("budget: 10", "budget: -1"))
    proc = subprocess.run(
        [sys.executable, "-m", "treeline", "validate", str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert f"{path}:3: budget:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_suite_name_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "quickstrat"]) == 2
    assert "unknown suite 'quickstrat' (did you mean 'quickstart'?)" in capsys.readouterr().err


def test_user_file_suite_resolves_relative_to_the_suite(tmp_path: Path, data_csv: Path) -> None:
    text = swap(
        "datasets: [adult]",
        "datasets:\n  - file: data.csv\n    target: label\n    task: binary\n    n: [100]",
    )
    suite = load_suite(write(tmp_path, text))
    (ds,) = suite.datasets
    assert ds.ref.file == str(data_csv) and ds.ref.label == "data" and ds.sizes == (100,)


def test_contender_options_and_featurizers_are_in_the_cell_id_and_resume_key(
    tmp_path: Path,
) -> None:
    from treeline.config.runner_profile import get_runner
    from treeline.execute.plan import expand

    path = write(
        tmp_path,
        swap(
            "contenders: [xgboost]",
            "contenders:\n  - tabm\n  - name: tabm\n    label: tabm-k4\n    k: 4",
        ),
    )
    cells = expand(load_suite(path), {"cpu": get_runner("cpu")})
    ids = [c.id for c in cells]
    assert ids == ["adult/n=1000/tabm/cpu/s0", "adult/n=1000/tabm-k4/cpu/s0"]
    assert cells[0].contender.options == {} and cells[1].contender.options == {"k": 4}
    assert cells[0].resume_key != cells[1].resume_key
    images = write(
        tmp_path,
        GOOD.replace("name: bad", "name: images")
        .replace("datasets: [adult]", "datasets: [digits]")
        .replace("n: [1000]", "n: [500]")
        .replace("contenders: [xgboost]", "contenders: [xgboost+pixels, mlp+pixels]"),
        name="images",
    )
    cells = expand(load_suite(images), {"cpu": get_runner("cpu")})
    assert [c.id for c in cells] == [
        "digits/n=500/xgboost+pixels/cpu/s0",
        "digits/n=500/mlp+pixels/cpu/s0",
    ]
    assert cells[0].contender.featurizer == "pixels" and cells[0].modality == "image"


def test_n_max_means_every_labelled_row(tmp_path: Path) -> None:
    from treeline.data import get_dataset

    suite = load_suite(write(tmp_path, swap("n: [1000]", "n: [1000, max]")))
    assert suite.datasets[0].sizes == (1000, get_dataset("adult").rows)
    same = load_suite(write(tmp_path, swap("n: [1000]", f"n: [max, {get_dataset('adult').rows}]")))
    assert same.datasets[0].sizes == (get_dataset("adult").rows,)  # one cell, not two


def test_n_must_be_a_number_or_max(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(write(tmp_path, swap("n: [1000]", "n: [1000, maximum]")))]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "bad.yaml:5: n[1]: Input should be 'max', got 'maximum'" in err


def test_a_dataset_may_choose_its_metric(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from treeline.run import SuiteRun

    text = swap("datasets: [adult]", "datasets:\n  - {name: adult, metric: roc_auc}")
    cells = SuiteRun(resolve(write(tmp_path, text))).cells
    assert {c.metric for c in cells} == {"roc_auc"}
    (tmp_path / "default").mkdir()
    default = SuiteRun(resolve(write(tmp_path / "default", GOOD))).cells[0]
    assert "metric" not in default.to_json()  # default cells keep their resume keys
    bad = swap("datasets: [adult]", "datasets:\n  - {name: adult, metric: rmse}")
    assert main(["validate", str(write(tmp_path, bad))]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "datasets[0].metric: unknown metric for a binary task 'rmse'" in err


def test_a_suite_of_tables_and_images_pairs_contenders_by_modality(tmp_path: Path) -> None:
    """Each contender runs on the datasets it takes (through its featurizer or directly); a
    dataset may set its own budget; a dataset no contender takes is an error."""
    from treeline.config.runner_profile import get_runner
    from treeline.execute.plan import expand

    mixed = swap(
        "datasets: [adult]",
        "datasets:\n  - adult\n  - name: digits\n    n: [500]\n    budget: 3",
    ).replace("contenders: [xgboost]", "contenders: [xgboost, xgboost+pixels, cnn]")
    suite = load_suite(write(tmp_path, mixed))
    cells = expand(suite, {"cpu": get_runner("cpu")}, budget_scale=2)
    assert [(c.id, c.budget.seconds) for c in cells] == [
        ("adult/n=1000/xgboost/cpu/s0", 20.0),
        ("digits/n=500/xgboost+pixels/cpu/s0", 6.0),
        ("digits/n=500/cnn/cpu/s0", 6.0),
    ]
    assert main(["validate", str(tmp_path / "bad.yaml")]) == 0
    orphan = swap("datasets: [adult]", "datasets: [adult, digits]")
    with pytest.raises(ConfigError) as info:
        load_suite(write(tmp_path, orphan))
    assert [p.message for p in info.value.problems] == [
        "no contender of this suite takes the image dataset 'digits'"
    ]


def test_a_dataset_s_own_seeds_count_toward_the_cell_cap(tmp_path: Path) -> None:
    """20 sizes × 2,000 seeds of its own × 3 contenders is 120,000 cells: refused before
    anything scales with it, like the suite's own seeds."""
    sizes = ", ".join(str(1000 + i) for i in range(20))
    seeds = ", ".join(str(i) for i in range(2000))
    text = swap(
        "datasets: [adult]", f"datasets:\n  - name: adult\n    n: [{sizes}]\n    seeds: [{seeds}]"
    ).replace("contenders: [xgboost]", "contenders: [xgboost, lightgbm, catboost]")
    with pytest.raises(ConfigError) as info:
        load_suite(write(tmp_path, text))
    assert "the suite expands to 120,000 cells" in info.value.problems[0].message


def test_n_max_counts_the_rows_a_dataset_s_options_give(tmp_path: Path) -> None:
    """spoken-digits with `rows: 500` has 500 labelled clips: `max` is 500 (it was the default
    20,000, and every cell failed at run time), and n=1000 is refused at its line."""
    text = swap(
        "datasets: [adult]",
        "datasets:\n  - name: spoken-digits\n    options: {rows: 500}\n    n: [max]",
    ).replace("contenders: [xgboost]", "contenders: [xgboost+mfcc]")
    suite = load_suite(write(tmp_path, text))
    assert suite.datasets[0].sizes == (500,)
    with pytest.raises(ConfigError) as info:
        load_suite(write(tmp_path, text.replace("n: [max]", "n: [1000]")))
    (problem,) = info.value.problems
    assert problem.line == 9 and "larger than the 500 labelled rows" in problem.message


def test_a_dataset_may_name_its_own_seeds_and_contenders(tmp_path: Path) -> None:
    """Cheap cells get more seeds; each dataset runs the routes named for it. A name that is
    not one of the suite's, one that cannot take the data, and a contender left to no dataset
    are errors at their lines."""
    from treeline.config.runner_profile import get_runner
    from treeline.execute.plan import expand

    text = swap(
        "datasets: [adult]",
        "datasets:\n  - name: adult\n    seeds: [0, 1, 2]\n    contenders: [lightgbm]\n"
        "  - name: diamonds\n    contenders: [xgboost]",
    ).replace("contenders: [xgboost]\nrunners", "contenders: [xgboost, lightgbm]\nrunners")
    suite = load_suite(write(tmp_path, text))
    cells = expand(suite, {"cpu": get_runner("cpu")})
    assert [c.id for c in cells] == [
        "adult/n=1000/lightgbm/cpu/s0",
        "adult/n=1000/lightgbm/cpu/s1",
        "adult/n=1000/lightgbm/cpu/s2",
        "diamonds/n=1000/xgboost/cpu/s0",
    ]
    (tmp_path / "plain").mkdir()
    plain = load_suite(write(tmp_path / "plain", GOOD))
    assert suite.digest != plain.digest
    bad = text.replace("contenders: [lightgbm]", "contenders: [lightgbm, cnn, lightgbm]")
    bad = bad.replace("contenders: [xgboost]\n", "contenders: [lightgbm]\n", 1)
    with pytest.raises(ConfigError) as info:
        load_suite(write(tmp_path, bad))
    got = [(p.line, p.message) for p in info.value.problems]
    assert any("'cnn'" in m and "contender of this suite" in m for _, m in got), got
    assert any("duplicate entry 'lightgbm'" in m for _, m in got), got
    assert any("no dataset runs 'xgboost'" in m for _, m in got), got


def test_the_budget_cap_holds_through_a_dataset_s_budget_and_the_budget_scale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dataset's own budget of 600,000 s is within the 7-day cap; at --budget-scale 2 its
    cells would get 1,200,000 s: refused, located at that dataset's budget, before any cell."""
    from treeline.config.options import RunOptions

    text = swap("datasets: [adult]", "datasets:\n  - name: adult\n    budget: 600000")
    path = write(tmp_path, text)
    assert {c.budget.seconds for c in resolve(path).cells} == {600000.0}
    with pytest.raises(ConfigError) as info:
        resolve(path, RunOptions(budget_scale=2))
    (problem,) = info.value.problems
    assert (problem.line, problem.field) == (8, "datasets[0].budget")
    assert "budget of 1,200,000 s at --budget-scale 2" in problem.message
    assert "cap of 7 days (604,800 s)" in problem.message
    # The suite's own budget, scaled past the cap, is located at the suite's budget.
    with pytest.raises(ConfigError) as info:
        (tmp_path / "plain").mkdir()
        resolve(write(tmp_path / "plain", GOOD), RunOptions(budget_scale=70000))
    assert [(p.line, p.field) for p in info.value.problems] == [(3, "budget")]
    # And through the command line: exit 2, the located line, no traceback, nothing run.
    results = tmp_path / "results"
    assert main(["run", str(path), "--budget-scale", "2"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:8: datasets[0].budget:" in err and "Traceback" not in err
    assert not (results / "mlflow.db").exists()


def test_run_options_are_checked_with_the_suite_and_every_problem_is_told(tmp_path: Path) -> None:
    from treeline.config.options import RunOptions

    path = write(tmp_path, GOOD)
    with pytest.raises(ConfigError) as info:
        resolve(path, RunOptions(runners=["cpu", "gpu9"], only=["nothing/*"], address="x:1"))
    messages = [str(p) for p in info.value.problems]
    assert messages[0] == "command line: --address: names a Ray cluster: use it with --executor ray"
    assert messages[1].startswith("command line: --runner: unknown runner 'gpu9'")
    with pytest.raises(ConfigError) as info:
        resolve(path, RunOptions(only=["nothing/*"]))
    assert [str(p) for p in info.value.problems] == [
        "command line: --only: nothing/* matches no cell of 'bad'"
    ]


@pytest.mark.parametrize(
    ("contenders", "message"),
    [
        ("[xgboost+]", "'xgboost+' names no featurizer after '+'"),
        ("[{name: cnn, size: 1}]", "size: Input should be greater than or equal to 8, got 1"),
    ],
    ids=["empty-featurizer", "image-size"],
)
def test_a_contender_that_could_only_fail_at_run_time_is_refused(
    tmp_path: Path, contenders: str, message: str
) -> None:
    text = swap("contenders: [xgboost]", f"contenders: {contenders}")
    text = text.replace("datasets: [adult]", "datasets: [digits]").replace("[1000]", "[500]")
    with pytest.raises(ConfigError) as info:
        load_suite(write(tmp_path, text))
    assert any(message in str(p) for p in info.value.problems), info.value.problems


def test_a_trial_cap_from_the_suite_or_the_command_line_reaches_every_cell(tmp_path: Path) -> None:
    from treeline.config.options import RunOptions

    path = write(tmp_path, swap("seeds: [0]", "seeds: [0]\nmax_trials: 3"))
    capped = resolve(path).cells
    assert {c.max_trials for c in capped} == {3}
    assert {c.max_trials for c in resolve(path, RunOptions(max_trials=1)).cells} == {1}
    (tmp_path / "plain").mkdir()
    (plain,) = resolve(write(tmp_path / "plain", GOOD)).cells
    assert plain.max_trials is None and "max_trials" not in plain.to_json()
    assert plain.resume_key != capped[0].resume_key  # another protocol, another record
    bad = write(tmp_path, swap("seeds: [0]", "seeds: [0]\nmax_trials: 0"))
    with pytest.raises(ConfigError) as info:
        load_suite(bad)
    assert [(p.line, p.field) for p in info.value.problems] == [(5, "max_trials")]
