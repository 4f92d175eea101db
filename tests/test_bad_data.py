"""Bad data files, as a new user brings them: each gets a located error at validation, or is
handled in a way that is stated (in the cell's log and in MLflow) — never a silent wrong score."""

from __future__ import annotations

import gzip
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from treeline.cli import main

ROWS = 60


def _frame(rng_seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(rng_seed)
    x = rng.normal(size=ROWS)
    return pd.DataFrame({"a": x, "b": rng.integers(0, 5, ROWS), "y": np.where(x > 0, "yes", "no")})


def _suite(
    tmp_path: Path, file: str, target: str = "y", task: str = "binary", extra: str = ""
) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\ndescription: a bad data file\nbudget: 1\nseeds: [0]\n"
        f"datasets:\n  - file: {file}\n    target: {target}\n    task: {task}\n"
        f"    n: [40]\n{extra}contenders: [xgboost]\n"
    )
    return path


def _write(tmp_path: Path, name: str, content: str | bytes) -> str:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content)
    return name


def _csv(df: pd.DataFrame, **kw) -> str:
    return df.to_csv(index=False, **kw)


def _validate(capsys: pytest.CaptureFixture[str], suite: Path) -> tuple[int, str]:
    code = main(["validate", str(suite)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, " ".join(err.split())  # rich may wrap; compare on single spaces


def _dupes(tmp_path: Path) -> str:
    return _write(tmp_path, "f.csv", "y,a,y\n" + "yes,1,yes\nno,2,no\n" * 20)


def _parquet_dupes(tmp_path: Path) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = pa.table([pa.array([1.0, 2.0]), pa.array([0, 1]), pa.array([0, 1])], names=["a", "y", "a"])
    pq.write_table(t, tmp_path / "f.parquet")
    return "f.parquet"


def _dir(tmp_path: Path) -> str:
    (tmp_path / "d.csv").mkdir()
    return "d.csv"


# (name, file builder, target, task, extra suite lines, located field, message)
CASES = [
    ("duplicate target", _dupes, "y", "binary", "", "datasets[0].file",
     "duplicate column names in f.csv: 'y' (columns 1 and 3); rename them"),
    ("duplicate features", lambda t: _write(t, "f.csv", "a,a,y\n" + "1,2,yes\n3,4,no\n" * 20), "y",
     "binary", "", "datasets[0].file", "duplicate column names in f.csv: 'a' (columns 1 and 2)"),
    ("duplicate parquet", _parquet_dupes, "y", "binary", "", "datasets[0].file",
     "duplicate column names in f.parquet: 'a' (columns 1 and 3)"),
    ("header only", lambda t: _write(t, "f.csv", "a,b,y\n"), "y", "binary", "",
     "datasets[0].file", "f.csv has a header but no rows"),
    ("empty file", lambda t: _write(t, "f.csv", ""), "y", "binary", "", "datasets[0].file",
     "f.csv is empty: no header, no rows"),
    ("semicolons", lambda t: _write(t, "f.csv", _csv(_frame(), sep=";")), "y", "binary", "",
     "datasets[0].file", "looks separated by ';': set `sep: \";\"` on this dataset"),
    ("tabs", lambda t: _write(t, "f.csv", _csv(_frame(), sep="\t")), "y", "binary", "",
     "datasets[0].file", "looks separated by '\\t'"),
    ("sep that is not the file's", lambda t: _write(t, "f.csv", _csv(_frame())), "y", "binary",
     "    sep: ';'\n", "datasets[0].sep", "looks separated by ','"),
    ("target only", lambda t: _write(t, "f.csv", "y\n" + "yes\nno\n" * 10), "y", "binary", "",
     "datasets[0].file", "f.csv has no feature columns: only the target 'y'"),
    ("constant features", lambda t: _write(t, "f.csv", "a,b,y\n" + "1,x,yes\n1,x,no\n" * 20), "y",
     "binary", "", "datasets[0].file", "every feature column of f.csv is constant ('a', 'b')"),
    ("no target values", lambda t: _write(t, "f.csv", "a,y\n" + "1,\n2,\n" * 20), "y", "binary", "",
     "datasets[0].target", "column 'y' has no values in f.csv"),
    ("binary with 3 classes", lambda t: _write(t, "f.csv", "a,y\n" + "1,p\n2,q\n3,r\n" * 20), "y",
     "binary", "", "datasets[0].task", "binary needs exactly 2 distinct target values"),
    ("multiclass with 2", lambda t: _write(t, "f.csv", _csv(_frame())), "y", "multiclass", "",
     "datasets[0].task", "multiclass needs at least 3 classes, column 'y' has 2; use task: binary"),
    ("text regression target", lambda t: _write(t, "f.csv", "a,y\n" + "1,2.5\n2,n/a\n3,?\n" * 20),
     "y", "regression", "", "datasets[0].task",
     "regression needs a numeric target: 40 values of column 'y' are not numbers ('?', 'n/a')"),
    ("continuous multiclass",
     lambda t: _write(t, "f.csv", _csv(_frame().assign(y=np.arange(ROWS) * 0.5))),
     "y", "multiclass", "", "datasets[0].task", "a regression target rather than classes?"),
    ("rare class", lambda t: _write(t, "f.csv", "a,y\n" + "1,p\n2,q\n" * 20 + "3,r\n3,r\n"), "y",
     "multiclass", "", "datasets[0].target",
     "class 'r' (2) of column 'y' has fewer than 3 examples"),
    ("latin-1 bytes", lambda t: _write(t, "f.csv", "a,y\n1,caf\xe9\n2,no\n".encode("latin-1")),
     "y", "binary", "", "datasets[0].file", "f.csv is not UTF-8 text (byte 0xe9 at offset"),
    ("utf-16", lambda t: _write(t, "f.csv", _csv(_frame()).encode("utf-16")), "y", "binary", "",
     "datasets[0].file", "f.csv is UTF-16 text: save it as UTF-8"),
    ("a folder", _dir, "y", "binary", "", "datasets[0].file", "not a file:"),
    ("spreadsheet", lambda t: _write(t, "f.xlsx", b"PK\x03\x04"), "y", "binary", "",
     "datasets[0].file", "must be one of .csv, .tsv, .parquet, .pq, .csv.gz, .csv.bz2, .csv.xz, "
     ".tsv.gz, got 'f.xlsx'"),
    ("missing file", lambda t: "nope.csv", "y", "binary", "", "datasets[0].file",
     "file not found:"),
    ("corrupt parquet", lambda t: _write(t, "f.parquet", b"PAR1 not really"), "y", "binary", "",
     "datasets[0].file", "cannot read f.parquet:"),
    ("corrupt gzip", lambda t: _write(t, "f.csv.gz", b"\x1f\x8bnot gzip"), "y", "binary", "",
     "datasets[0].file", "cannot read f.csv.gz:"),
    ("misspelt target", lambda t: _write(t, "f.csv", _csv(_frame())), "label", "binary", "",
     "datasets[0].target", "unknown column in f.csv 'label'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("build", "target", "task", "extra", "field", "message"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_a_bad_file_is_refused_at_validation(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    build,
    target: str,
    task: str,
    extra: str,
    field: str,
    message: str,
) -> None:
    suite = _suite(tmp_path, build(tmp_path), target, task, extra)
    code, err = _validate(capsys, suite)
    assert code == 2, err
    assert "bad.yaml:" in err and f": {field}: " in err, err
    assert message in err, err


SHADOW = "root:*:20228:0:99999:7:::\n" + "sam:$y$j9T$secretsalt$hash:20228:0:99999:7:::\n" * 30


@pytest.mark.parametrize(
    ("sep", "field", "said"),
    [("*", "target", "is not shown"), (":", "target", "is not shown"), ("$", "sep", "looks sep")],
)
def test_a_first_line_that_is_not_a_header_is_never_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sep: str, field: str, said: str
) -> None:
    """A .csv holding /etc/shadow's lines, with `sep: '*'`, printed `valid: :20228:0:99999:7:::,
    root:`; with ':' its blank fields printed as duplicates (blank names are pandas' `Unnamed: i`
    now, so no longer duplicates). Names are shown only when the line looks like a header, and
    never a long one."""
    _write(tmp_path, "secret.csv", SHADOW)
    suite = _suite(tmp_path, "secret.csv", "label", extra=f"    sep: '{sep}'\n")
    code, err = _validate(capsys, suite)
    assert code == 2, err
    assert f"datasets[0].{field}: " in err and said in err, err
    for secret in ("root:", "20228", "secretsalt", "99999"):
        assert secret not in err, err


def test_many_column_names_are_cut_short(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = [f"feature_{i}_" + "x" * 50 for i in range(200)]
    _write(tmp_path, "wide.csv", ",".join(names) + "\n" + ",".join("1" * 200) + "\n")
    code, err = _validate(capsys, _suite(tmp_path, "wide.csv", "label"))
    assert code == 2 and "unknown column in wide.csv 'label'" in err, err
    assert "(200 columns)" in err and "feature_150" not in err and len(err) < 2500, err


def test_a_gzipped_csv_is_read_like_a_csv(tmp_path: Path, capsys) -> None:
    (tmp_path / "f.csv.gz").write_bytes(gzip.compress(_csv(_frame()).encode()))
    code, err = _validate(capsys, _suite(tmp_path, "f.csv.gz"))
    assert code == 0, err


def _user_bundle(tmp_path: Path, df: pd.DataFrame, task: str = "binary", n: int = 40, **kw):
    from treeline.data.tabular.user_file import UserFile

    path = tmp_path / "f.csv"
    path.write_text(_csv(df, **kw))
    total = int(df["y"].notna().sum())
    return UserFile(path, "y", task, "f", total).bundle(n, 0)


def test_a_few_non_numeric_tokens_become_missing_and_are_counted(tmp_path: Path) -> None:
    df = _frame()
    df["a"] = df["a"].round(3).astype(object)
    df.loc[[3, 7, 11], "a"] = ["n/a", "?", "n/a"]
    b = _user_bundle(tmp_path, df)
    assert "a" in b.train.X.numeric  # not a category with ~60 levels
    assert "column 'a': 3 non-numeric values ('?', 'n/a') treated as missing" in b.notes


def test_a_text_column_stays_a_category(tmp_path: Path) -> None:
    df = _frame().assign(city=["paris", "rome", "oslo"] * (ROWS // 3))
    b = _user_bundle(tmp_path, df)
    assert "city" in b.train.X.categorical and not any("city" in n for n in b.notes)


def test_infinities_are_missing_for_every_contender(tmp_path: Path) -> None:
    df = _frame()
    df.loc[[1, 2], "a"] = [np.inf, -np.inf]
    b = _user_bundle(tmp_path, df)
    values = np.concatenate(
        [
            b.train.X.frame["a"].to_numpy(),
            b.val.X.frame["a"].to_numpy(),
            b.test.X.frame["a"].to_numpy(),
        ]
    )
    assert not np.isinf(values).any() and np.isnan(values).sum() == 2
    assert "column 'a': 2 infinite values treated as missing" in b.notes


def test_dates_are_expanded_to_numeric_parts(tmp_path: Path) -> None:
    days = pd.date_range("2024-01-01", periods=ROWS, freq="D")
    df = _frame().assign(when=days.strftime("%Y-%m-%d"))
    b = _user_bundle(tmp_path, df)
    cols = set(b.train.X.numeric)
    assert {"when_year", "when_month", "when_day", "when_weekday"} <= cols
    assert "when" not in b.train.X.categorical and "when_hour" not in cols
    assert any(n.startswith("column 'when': dates expanded to") for n in b.notes)


def test_booleans_are_numeric(tmp_path: Path) -> None:
    df = _frame().assign(flag=[True, False] * (ROWS // 2))
    b = _user_bundle(tmp_path, df)
    assert "flag" in b.train.X.numeric
    assert "column 'flag': booleans as 0/1" in b.notes


def test_a_rare_class_is_in_train_and_validation_when_the_data_allows(tmp_path: Path) -> None:
    """3 of 300 rows are class 'r': a stratified n=40 would likely hold none of them."""
    rng = np.random.default_rng(1)
    y = np.array(["p"] * 200 + ["q"] * 97 + ["r"] * 3)
    df = pd.DataFrame({"a": rng.normal(size=300), "y": y})
    b = _user_bundle(tmp_path, df, task="multiclass", n=40)
    r = b.classes.index("r")
    assert (b.train.y == r).sum() >= 1 and (b.val.y == r).sum() >= 1
    assert len(b.train) + len(b.val) == 40


def test_a_cell_the_data_cannot_support_is_skipped_with_the_reason(tmp_path: Path) -> None:
    from treeline.data.split import NotEnoughData

    df = pd.DataFrame({"a": np.arange(60.0), "y": [f"c{i % 12}" for i in range(60)]})
    with pytest.raises(NotEnoughData, match="cannot hold one example of each of its 12 classes"):
        _user_bundle(tmp_path, df, task="multiclass", n=20)


def test_handling_is_stated_in_the_log_and_in_mlflow(tmp_path: Path) -> None:
    """A real run: the notes reach the cell's log and the run's `treeline.data_notes` tag; a
    cell the data cannot support is `skipped` with its reason."""
    df = _frame()
    df["a"] = df["a"].round(3).astype(object)
    df.loc[[3, 7], "a"] = "n/a"
    (tmp_path / "f.csv").write_text(_csv(df))
    suite = _suite(tmp_path, "f.csv")
    assert main(["run", str(suite)]) == 0
    log = next((tmp_path / "results" / "logs" / "bad").glob("*.log")).read_text()
    assert "data: column 'a': 2 non-numeric values ('n/a') treated as missing" in log
    with sqlite3.connect(tmp_path / "results" / "mlflow.db") as db:
        (notes,) = db.execute("SELECT value FROM tags WHERE key = 'treeline.data_notes'").fetchone()
    assert notes == "column 'a': 2 non-numeric values ('n/a') treated as missing"


def test_a_library_error_becomes_one_readable_line() -> None:
    from treeline.execute.tuning import one_line

    exc = RuntimeError(
        "[10:23:11] /workspace/src/data/data.cc:501: Check failed: valid: Label contains NaN\n"
        "Stack trace:\n  [bt] (0) /usr/lib/libxgboost.so(+0x1234) [0x7f]\n  [bt] (1) x\n"
    )
    assert one_line(exc) == "RuntimeError: Check failed: valid: Label contains NaN"
    assert one_line(ValueError()) == "ValueError"


def test_a_run_skips_the_cell_the_data_cannot_support(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": np.arange(60.0), "y": [f"c{i % 12}" for i in range(60)]})
    (tmp_path / "f.csv").write_text(_csv(df))
    suite = str(_suite(tmp_path, "f.csv", task="multiclass"))
    assert main(["run", suite]) == 1  # nothing asked for was measured
    assert main(["run", suite, "--allow-skipped"]) == 0
    with sqlite3.connect(tmp_path / "results" / "mlflow.db") as db:
        tags = dict(db.execute("SELECT key, value FROM tags WHERE key LIKE 'treeline.%'"))
    assert tags["treeline.status"] == "skipped"
    assert "n=40 leaves 8 validation rows for its 12 classes" in tags["treeline.error"]
