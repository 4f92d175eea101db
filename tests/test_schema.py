"""Every MLflow name lives in `record/schema.py`, and the store's own queries go through it: a
name renamed there renames the writes and the reads together, and a literal spelled anywhere
else is found here."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from cells import a_cell
from design_names import TAGS

import treeline
from treeline.data import DatasetRef
from treeline.execute.budget import Budget
from treeline.execute.cell import Cell
from treeline.execute.result import FINISHED, CellResult, Measurements
from treeline.record import schema
from treeline.record.claims import ClaimBook
from treeline.record.store import Tracker, find_recorded

PACKAGE = Path(treeline.__file__).parent


def a_result(seed: int = 0) -> CellResult:
    cell = a_cell(suite="names", price_source="test (2026-12-01)", seed=seed)
    m = Measurements(test_score=0.8, test_metric=0.8, val_score=0.79, fit_seconds=0.9)
    return CellResult(cell, "ok", metric="accuracy", measurements=m, ended_at=1.8e9)


def _strings(path: Path) -> list[tuple[int, str]]:
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_no_module_but_the_schema_spells_a_tag_name_or_a_filter() -> None:
    names = {
        v
        for k, v in vars(schema).items()
        if k.isupper() and isinstance(v, str) and v.startswith(schema.TAG) and v != schema.TAG
    }
    names |= {schema.CLAIM_PREFIX}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "schema.py" and path.parent.name == "record":
            continue
        for line, text in _strings(path):
            if text in names or "tags.`" in text or "LIKE '" in text:
                found.append(f"{path.relative_to(PACKAGE)}:{line}: {text!r}")
    assert found == []


def test_the_check_finds_a_literal_query(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text('f = "tags.`treeline.resume_key` = \'abc\'"\nt = "treeline.status"\n')
    assert [line for line, _ in _strings(bad)] == [1, 2]


def test_the_schema_names_are_the_ones_the_design_fixes() -> None:
    written = set(schema.tags(a_result(), {}))
    assert {schema.TAG + t for t in TAGS} <= written


def test_a_renamed_name_renames_the_store_s_writes_and_queries_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rename the names a resume and a lookup search by: the store must still find its own
    cells (it reads the names from the schema) and no run may carry the old names. A store
    that spelled `treeline.resume_key` in its own filter finds nothing here."""
    for attribute in ("RESUME_KEY", "CELL_ID", "STATUS", "COMPLETE", "CELL", "KIND"):
        monkeypatch.setattr(schema, attribute, getattr(schema, attribute) + "_renamed")
    uri = f"sqlite:///{tmp_path}/m.db"
    tracker = Tracker("names", uri)
    result = a_result()
    tracker.record(result, {})
    key = result.cell.resume_key

    (run,) = tracker.runs()
    assert schema.RESUME_KEY in run.data.tags and "treeline.resume_key" not in run.data.tags
    assert tracker.recorded(key, FINISHED) is not None
    assert set(tracker.done()) == {key}
    assert [r.result.cell.id for r in find_recorded(result.cell.id, "names", uri)] == [
        result.cell.id
    ]
    # Recording the cell again replaces its run: found by the renamed key, deleted.
    tracker.record(result, {})
    assert len(tracker.runs()) == 1


def test_a_claim_s_names_come_from_the_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema, "CLAIM_PREFIX", "renamed-claim")
    monkeypatch.setattr(schema, "CLAIM_OWNER", "holder")
    tracker = Tracker("names", f"sqlite:///{tmp_path}/m.db")
    claims = ClaimBook(tracker.client, tracker.experiment_id)
    claim = claims.take("k1", "adult/n=200/xgboost/cpu/s0")
    assert claim is not None and claim.name.startswith("renamed-claim-")
    model = tracker.client.get_registered_model(claim.name)
    assert model.tags["holder"] == claims.owner
    assert claims.take("k1", "adult/n=200/xgboost/cpu/s0") is None  # found by the new prefix
    claims.release_all()


def test_the_resume_key_ignores_the_price_and_follows_a_user_file_s_content() -> None:
    cell = a_result().cell
    repriced = dataclasses.replace(cell, price_per_hour=0.2, price_source="new (2027-01-01)")
    assert repriced.resume_key == cell.resume_key
    assert dataclasses.replace(cell, budget=Budget(2.0)).resume_key != cell.resume_key
    mine = DatasetRef(label="mine", file="/d/mine.csv", target="y", task="binary", total_rows=50)
    one = dataclasses.replace(cell, dataset=dataclasses.replace(mine, digest="aaaa"))
    other = dataclasses.replace(cell, dataset=dataclasses.replace(mine, digest="bbbb"))
    assert one.resume_key != other.resume_key
    assert Cell.from_json(one.to_json()) == one


def test_a_built_in_s_cells_follow_its_preparation_version(tmp_path) -> None:
    """Data prepared another way (a new PREPARE_VERSION) is new data: its cells run again
    rather than being "recorded earlier" on the old preparation."""
    from treeline.data.dataset import PREPARE_VERSION
    from treeline.execute.resolve import resolve

    suite = tmp_path / "v.yaml"
    suite.write_text(
        "name: v\ndescription: x\nbudget: 1\nseeds: [0]\n"
        "datasets:\n  - name: adult\n    n: [200]\ncontenders: [xgboost]\n"
    )
    [cell] = resolve(suite).cells
    assert cell.dataset.prepared == PREPARE_VERSION
    bumped = dataclasses.replace(cell.dataset, prepared=PREPARE_VERSION + 1)
    assert dataclasses.replace(cell, dataset=bumped).resume_key != cell.resume_key
    assert Cell.from_json(cell.to_json()) == cell
