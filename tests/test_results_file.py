"""Results as data: export, import, report --from and compare on a real recorded suite (a real
SQLite MLflow store, real cells), and exports that are not what they claim refused by name."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import SHARED_CACHE

from treeline.analysis import resample
from treeline.cli import main
from treeline.errors import TreelineError
from treeline.execute.predictions import load
from treeline.execute.schedule import loads
from treeline.record import results_file
from treeline.record.store import Tracker

ROOT = Path(__file__).resolve().parent.parent
SUITE = """\
name: travel
description: two tables, a tree and a network, to export and compare
budget: 1
seeds: [0]
datasets:
  - name: adult
    n: [300]
  - name: diamonds
    n: [300]
contenders: [xgboost, mlp]
runners: [cpu]
"""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, Path]]:
    """(suite file, store URI, export) of one real run of SUITE."""
    root = tmp_path_factory.mktemp("travel")
    suite = root / "travel.yaml"
    suite.write_text(SUITE)
    uri = f"sqlite:///{root}/mlflow.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TREELINE_RESULTS", str(root / "results"))
        mp.setenv("TREELINE_CACHE", str(SHARED_CACHE))
        assert main(["run", str(suite), "--tracking-uri", uri]) == 0
        export = root / "travel.parquet"
        assert main(["export", str(suite), "--tracking-uri", uri, "-o", str(export)]) == 0
    yield suite, uri, export


def _rows(path: Path) -> list[dict]:
    return sorted(pq.read_table(path).to_pylist(), key=lambda r: r["cell_id"])


def test_an_export_holds_every_cell_with_predictions_that_rescore_to_its_score(
    recorded: tuple[Path, str, Path],
) -> None:
    _, _, export = recorded
    data = results_file.read([export])
    assert len(data.records) == 4
    assert data.suites == {"travel": "two tables, a tree and a network, to export and compare"}
    for rec in data.records:
        r = rec.result
        assert r.status == "ok" and rec.predictions is not None
        assert r.anytime and loads(rec.schedule) and rec.machine["git_commit"]
        p = load(rec.predictions)
        assert len(p.y) == r.measurements.n_test
        rescored = resample.rescore(r.cell.task, r.metric, p)
        assert rescored == pytest.approx(r.measurements.test_score, rel=1e-9, abs=1e-12)
    table = pq.read_table(export)
    assert table.column_names == list(results_file.COLUMN_NAMES)
    meta = json.loads(table.schema.metadata[b"treeline"])
    assert meta["schema_version"] == results_file.SCHEMA_VERSION


def test_export_import_and_report_from_file_give_the_same_tables(
    recorded: tuple[Path, str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite, uri, export = recorded
    other = f"sqlite:///{tmp_path}/empty.db"
    assert main(["import", str(export), "--tracking-uri", other]) == 0
    assert "4 cells written, 0 already there" in capsys.readouterr().out
    assert main(["import", str(export), "--tracking-uri", other]) == 0  # idempotent
    assert "0 cells written, 4 already there" in capsys.readouterr().out
    assert len(Tracker("travel", other).runs()) == 4

    again = tmp_path / "again.parquet"
    assert main(["export", "travel", "--tracking-uri", other, "-o", str(again)]) == 0
    before, after = _rows(export), _rows(again)
    for a, b in zip(before, after, strict=True):
        a.pop("run_id"), b.pop("run_id")
        assert json.dumps(a, default=str) == json.dumps(b, default=str)

    reports = {}
    for name, args in {
        "store": ["report", str(suite), "--tracking-uri", uri],
        "imported": ["report", str(suite), "--tracking-uri", other],
        "file": ["report", "--from", str(export)],
    }.items():
        out = tmp_path / name
        assert main([*args, "--out", str(out)]) == 0
        reports[name] = (out / "report.md").read_text()
    assert reports["store"] == reports["imported"] == reports["file"]
    assert "xgboost" in reports["file"]


def test_a_conflicting_record_is_named_and_not_overwritten(
    recorded: tuple[Path, str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, export = recorded
    data = results_file.read([export])
    rec = data.records[0]
    other = dataclasses.replace(rec.result, started_at=rec.result.started_at + 60)
    other.measurements = dataclasses.replace(other.measurements, test_score=0.123)
    doctored = tmp_path / "doctored.parquet"
    results_file.write([rec._replace(result=other)], doctored, data.suites, "test")
    store = f"sqlite:///{tmp_path}/copy.db"
    assert main(["import", str(export), "--tracking-uri", store]) == 0
    capsys.readouterr()
    assert main(["import", str(doctored), "--tracking-uri", store]) == 1
    err = capsys.readouterr().err
    assert f"not imported: {rec.result.cell.id} (travel)" in err
    kept = {r.cell.id: r for r in Tracker("travel", store).results()}
    assert kept[rec.result.cell.id].measurements.test_score == rec.result.measurements.test_score


def test_an_imported_cell_resumes_and_replays_like_one_run_here(
    recorded: tuple[Path, str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite, _, export = recorded
    store = f"sqlite:///{tmp_path}/imported.db"
    assert main(["import", str(export), "--tracking-uri", store]) == 0
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TREELINE_RESULTS", str(tmp_path / "results"))
        mp.setenv("TREELINE_CACHE", str(SHARED_CACHE))
        mp.setenv("COLUMNS", "200")
        assert main(["run", str(suite), "--tracking-uri", store]) == 0
        assert capsys.readouterr().out.count("(recorded earlier)") == 4
        assert len(Tracker("travel", store).runs()) == 4  # nothing run again

        cell = "adult/n=300/xgboost/cpu/s0"
        assert main(["replay", cell, "--suite", "travel", "--tracking-uri", store]) == 0
        assert "bit-equal test score; the same work in every trial" in capsys.readouterr().out
    (replay,) = Tracker("travel", store).replays()
    assert replay.bit_equal and replay.replayed.cell.id == cell


def _worse(rec, fraction: float = 0.4):
    """The record with a fraction of its test predictions replaced by the worst answer."""
    import io

    p = load(rec.predictions)
    pred = p.pred.copy()
    rows = np.arange(len(p.y))[: int(len(p.y) * fraction)]
    if pred.ndim == 2:
        pred[rows] = np.eye(pred.shape[1])[(p.y[rows].astype(int) + 1) % pred.shape[1]]
    else:
        pred[rows] = p.y[rows] + 10 * np.std(p.y)
    buf = io.BytesIO()
    np.savez_compressed(buf, pred=pred, y=p.y)
    from treeline.data.metrics import score

    s = score(rec.result.cell.task, p.y, pred, rec.result.metric)
    m = dataclasses.replace(rec.result.measurements, test_score=s.score, test_metric=s.value)
    return rec._replace(result=dataclasses.replace(rec.result, measurements=m)), buf.getvalue()


def test_compare_names_what_changed_and_fails_only_when_asked(
    recorded: tuple[Path, str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, uri, export = recorded
    data = results_file.read([export])
    by_id = {r.result.cell.id: r for r in data.records}
    worse_id, failed_id, gone_id = sorted(by_id)[:3]
    worse, pred = _worse(by_id[worse_id])
    by_id[worse_id] = worse._replace(predictions=pred)
    failed = by_id[failed_id]
    by_id[failed_id] = failed._replace(
        result=dataclasses.replace(failed.result, status="failed", error="boom"), predictions=None
    )
    del by_id[gone_id]
    new = []
    for r in by_id.values():
        machine = {**r.machine, "version.xgboost": "9.9.9"}
        new.append(r._replace(machine=machine))
    new_file = tmp_path / "new.parquet"
    results_file.write(new, new_file, data.suites, "test")

    out = tmp_path / "cmp"
    assert main(["compare", str(export), str(new_file), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "xgboost:" in printed and "→ 9.9.9" in printed
    md = (out / "compare.md").read_text()
    assert md.index("xgboost:") < md.index("## Per cell")
    assert f"| {worse_id} |" in md and "| worse |" in md
    assert f"| {gone_id} | travel.parquet |" in md
    assert (out / "compare.html").read_text().startswith("<!doctype html>")

    rules = ["--fail-on", "score,status", "--fail-on", "missing"]
    assert main(["compare", str(export), str(new_file), "--out", str(out), *rules]) == 1
    printed = capsys.readouterr().out
    assert f"regression {worse_id}: " in printed and "beyond its interval" in printed
    assert f"regression {failed_id}: status ok → failed" in printed
    assert f"regression {gone_id}: missing from new.parquet" in printed
    # The same set against itself, from the store: nothing to fail on.
    store = f"{uri}#travel"
    assert main(["compare", str(export), store, "--out", str(out), *rules]) == 0
    assert "no regressions" in capsys.readouterr().out


def test_a_bad_fail_on_rule_is_a_usage_error(
    recorded: tuple[Path, str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, export = recorded
    assert main(["compare", str(export), str(export), "--fail-on", "score,speed"]) == 2
    assert "--fail-on: 'speed' is not a rule" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["missing", "text", "no-metadata", "newer", "no-column"])
def test_a_file_that_is_not_an_export_is_refused_by_name(
    case: str, recorded: tuple[Path, str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, export = recorded
    bad = tmp_path / "bad.parquet"
    table = pq.read_table(export)
    meta = json.loads(table.schema.metadata[b"treeline"])
    if case == "text":
        bad.write_text("cell_id,status\nx,ok\n")
    elif case == "no-metadata":
        pq.write_table(table.replace_schema_metadata({}), bad)
    elif case == "newer":
        meta["schema_version"] = results_file.SCHEMA_VERSION + 1
        pq.write_table(table.replace_schema_metadata({"treeline": json.dumps(meta)}), bad)
    elif case == "no-column":
        pq.write_table(table.drop_columns(["predictions"]), bad)
    expected = {
        "missing": "no such file",
        "text": "not a Treeline export",
        "no-metadata": "no Treeline export",
        "newer": f"results schema version {results_file.SCHEMA_VERSION + 1}",
        "no-column": "columns missing: predictions",
    }[case]
    store = f"sqlite:///{tmp_path}/s.db"
    for args in (["import", str(bad), "--tracking-uri", store], ["report", "--from", str(bad)]):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert str(bad) in err and expected in err, err
    assert not (tmp_path / "s.db").exists() or not Tracker("travel", store).runs()


def test_a_version_1_export_reads_its_later_columns_as_not_measured(
    recorded: tuple[Path, str, Path], tmp_path: Path
) -> None:
    _, _, export = recorded
    table = pq.read_table(export)
    meta = json.loads(table.schema.metadata[b"treeline"])
    meta["schema_version"] = 1
    added = [n for n, v in results_file._ADDED_IN.items() if v > 1]
    old = tmp_path / "v1.parquet"
    pq.write_table(
        table.drop_columns(added).replace_schema_metadata({"treeline": json.dumps(meta)}), old
    )
    (rec, *_) = results_file.read([old]).records
    assert all(np.isnan(getattr(rec.result.measurements, n)) for n in added)
    assert rec.result.measurements.test_score == rec.result.measurements.test_score
    meta["schema_version"] = 2  # the same columns missing from a version-2 file: refused
    pq.write_table(
        table.drop_columns(added).replace_schema_metadata({"treeline": json.dumps(meta)}), old
    )
    with pytest.raises(TreelineError, match="columns missing: fit_wall_seconds"):
        results_file.read([old])
    newer = [n for n, v in results_file._ADDED_IN.items() if v > 2]  # a version-2 file
    pq.write_table(
        table.drop_columns(newer).replace_schema_metadata({"treeline": json.dumps(meta)}), old
    )
    (rec, *_) = results_file.read([old]).records
    assert newer and all(np.isnan(getattr(rec.result.measurements, n)) for n in newer)


def test_the_atlas_of_a_recorded_suite_is_logged_apart_from_the_suites(
    recorded: tuple[Path, str, Path], tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    from treeline.record.store import suites_in

    _, uri, _ = recorded
    for _ in range(2):  # a second atlas replaces the first
        assert main(["atlas", "travel", "--tracking-uri", uri, "--out", str(tmp_path)]) == 0
    assert "| tabular | adult | cpu @ 1 s |" in (tmp_path / "atlas.md").read_text()
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("atlas (reports)").experiment_id])
    names = {a.path for a in client.list_artifacts(run.info.run_id, "report")}
    assert "report/atlas.md" in names and "report/atlas.png" in names
    assert "atlas (reports)" not in suites_in(uri) and "travel" in suites_in(uri)


def test_every_committed_reference_export_reads_and_is_described() -> None:
    folder = ROOT / "results" / "reference"
    files = sorted(folder.glob("*.parquet"))
    assert files, "no reference export committed"
    readme = (folder / "README.md").read_text()
    for path in files:
        data = results_file.read([path])
        assert data.records and all(r.machine["git_commit"] for r in data.records)
        assert f"`{path.name}`" in readme, f"{path.name} is not described in reference/README.md"


def test_results_readme_describes_every_column() -> None:
    text = (ROOT / "results" / "README.md").read_text()
    assert results_file.columns_markdown() in text, (
        "results/README.md: paste `python -c 'from treeline.record.results_file import "
        "columns_markdown; print(columns_markdown())'`"
    )
    assert f"Schema version {results_file.SCHEMA_VERSION}" in text


def test_a_worse_model_gets_an_interval_below_zero_and_pooling_adds_the_seeds() -> None:
    from treeline.execute.predictions import Predictions

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p = np.stack([0.9 - y * 0.8, y * 0.8 + 0.1], axis=1)
    good, shuffled = Predictions(p, y), Predictions(rng.permutation(p), y)
    draws, paired = resample.paired_difference("binary", "accuracy", good, shuffled)
    assert paired and resample.interval(draws)[1] < 0
    # Two seeds that disagree: the pooled interval spans both, wider than either's own.
    low, high = resample.interval(resample.pooled([draws, draws + 0.3]))
    own = resample.interval(draws)
    assert high - low > own[1] - own[0]
