"""Results that travel: a store's cells out to an export (`treeline export`), exports into a
store (`treeline import`), and any of the two — a file, a whole store, a suite in a store — as
one result set (`treeline compare`, `report --from`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from treeline.errors import TreelineError
from treeline.execute.result import latest
from treeline.locate import redact
from treeline.record import results_file
from treeline.record.results_file import ResultSet
from treeline.record.store import Tracker, suites_in, tracking_uri


def suite_of(ref: str) -> tuple[str, str, str]:
    """(name, description, digest) of a suite named or given by its file; a name no suite file
    has is taken as it is, without either (a suite recorded on another machine, imported)."""
    from treeline.config.suite import suite_files
    from treeline.execute.resolve import load_suite

    if ref.endswith((".yaml", ".yml")) or ref in suite_files():
        suite = load_suite(ref)
        return suite.name, suite.description, suite.digest
    return ref, "", ""


def suite_name(ref: str) -> str:
    return suite_of(ref)[0]


def from_store(suites: list[str] | None = None, uri: str | None = None) -> ResultSet:
    """The latest record of each cell of `suites` (every suite of the store when None), in
    full: as `report` reads them, with curves, schedules and predictions."""
    uri = tracking_uri(uri)
    found = suites_in(uri)
    names = list(found) if suites is None else suites
    for name in names:
        if name not in found:
            raise TreelineError(
                f"no recorded cells for suite '{name}' in {redact(uri)}: run `treeline run "
                f"{name}` first, or name the store with --tracking-uri"
            )
    out = ResultSet([], sources=[redact(uri)])
    for name in names:
        records = Tracker(name, uri, create=False).records()
        out.records += latest(records, lambda r: r.result)
        out.suites[name] = found[name]
    return out


def export(suite: str, path: Path, uri: str | None = None) -> ResultSet:
    data = from_store([suite], uri)
    if not data.records:
        raise TreelineError(f"suite '{suite}' has no recorded cells in {data.sources[0]}")
    results_file.write(data.records, path, data.suites, data.sources[0])
    return data


@dataclass
class Imported:
    written: int = 0
    present: int = 0
    conflicts: list[str] = field(default_factory=list)  # "cell id (suite)"


def import_files(paths: list[Path], uri: str | None = None) -> Imported:
    """Every record of the files into the store, each in its suite's experiment: written once
    (a record already there is left as it is), and a cell the store holds another record of
    is named, not overwritten. Every file is read before anything is written."""
    data = results_file.read(paths)
    out = Imported()
    trackers: dict[str, tuple[Tracker, dict]] = {}
    for rec in data.records:
        suite = rec.result.cell.suite
        if suite not in trackers:
            tracker = Tracker(suite, uri, data.suites.get(suite, ""))
            trackers[suite] = (tracker, tracker.runs_by_key())
        tracker, by_key = trackers[suite]
        outcome = tracker.add(rec, by_key)
        if outcome == "written":
            out.written += 1
        elif outcome == "present":
            out.present += 1
        else:
            out.conflicts.append(f"{rec.result.cell.id} ({suite})")
    return out


def results_of(ref: str, uri: str | None = None) -> ResultSet:
    """A result set named on the command line: an export file (`.parquet`), a store URI (all its
    suites), `URI#SUITE`, or a suite (name or file) in the store of --tracking-uri."""
    if ref.endswith(".parquet") or (Path(ref).is_file() and not ref.endswith((".yaml", ".yml"))):
        return results_file.read([Path(ref)])
    if "://" in ref:
        store, _, suite = ref.partition("#")
        return from_store([suite] if suite else None, store)
    return from_store([suite_name(ref)], uri)
