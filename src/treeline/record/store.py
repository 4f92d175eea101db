"""MLflow: one experiment per suite, one run per cell. Every name and query comes from
`record/schema.py`; results are written and read back only through it.

A run is written in full and then tagged `treeline.complete`; a run without that tag (a process
killed while writing it) is deleted before the cell is recorded again, so a resumed suite never
holds two runs for one cell.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from treeline.errors import TreelineError, first_line
from treeline.execute.result import FINISHED, PASSED, AnytimePoint, CellResult, Replay
from treeline.execute.schedule import TrialRecord, dumps, loads
from treeline.locate import redact, results_dir
from treeline.record import schema

if TYPE_CHECKING:
    from mlflow.entities import Run


def default_tracking_uri() -> str:
    return f"sqlite:///{(results_dir() / 'mlflow.db').resolve()}"


def tracking_uri(explicit: str | None = None) -> str:
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


class Recorded(NamedTuple):
    """A recorded cell as a replay or an export needs it."""

    run_id: str
    result: CellResult
    machine: dict[str, str]  # the `machine` tags it was recorded with (versions, CPU, GPU)
    experiment: str
    predictions: bytes | None = None  # its predictions.npz (execute/predictions.py)
    schedule: str = ""  # its schedule.json as text: carried whole, not parsed (exports)


def find_cell(client: Any, experiment_ids: list[str], cell_id: str) -> list[Recorded]:
    if not experiment_ids:
        return []
    runs = client.search_runs(
        experiment_ids, filter_string=schema.tag_filter(schema.CELL_ID, cell_id)
    )
    out = []
    for run in runs:
        r = schema.from_mlflow(run.data.tags, run.data.metrics, run.data.params, [])
        if r is not None:
            machine = schema.machine_tags(run.data.tags)
            out.append(Recorded(run.info.run_id, r, machine, run.info.experiment_id))
    return out


def find_recorded(cell_id: str, suite: str | None = None, uri: str | None = None) -> list[Recorded]:
    """A cell by id, in one suite's experiment or (no `suite`) in every experiment of the store.
    Creates nothing: a store without that suite just has no such cell."""
    from mlflow import MlflowClient

    _quiet_mlflow()
    uri = tracking_uri(uri)
    check_store(uri, create=False)
    client = MlflowClient(uri)
    if suite is None:
        ids = [e.experiment_id for e in client.search_experiments()]
    else:
        exp = client.get_experiment_by_name(suite)
        ids = [exp.experiment_id] if exp is not None and exp.lifecycle_stage == "active" else []
    return find_cell(client, ids, cell_id)


def suites_in(uri: str | None = None) -> dict[str, str]:
    """The store's suites (its live experiments) with their descriptions. Creates nothing."""
    from mlflow import MlflowClient

    _quiet_mlflow()
    uri = tracking_uri(uri)
    check_store(uri, create=False)
    return {
        e.name: e.tags.get(schema.NOTE, "")
        for e in MlflowClient(uri).search_experiments()
        if e.name != "Default" and e.tags.get(schema.KIND) != schema.KIND_REPORTS
    }


def _quiet_mlflow() -> None:
    import logging

    # mlflow sets its own logger to INFO on import; its schema chatter is not ours to show.
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # It logs a failed write with its traceback before raising; ours says it once (run.py).
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    # A server store prints "View run … at" per run; and by default retries a dead server for
    # minutes. Fewer, shorter retries: a store that fails is spooled (spool.py), not waited on.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")


class StoreError(TreelineError):
    """The tracking store cannot be used (found before any cell runs), or failed mid-suite.
    Its message never shows a password of the store's URI."""

    def __init__(self, message: str):
        super().__init__(redact(message))


def check_store(uri: str, create: bool = True) -> None:
    """Fail fast, with the store named, when it cannot be used: a URI MLflow cannot take
    (record/uri.py), an unwritable or misplaced SQLite file, a server or database that does
    not answer. `create`: False for readers (report, replay), which never make a store."""
    from treeline.record.uri import sqlite_path, uri_problem

    db = sqlite_path(uri)
    if db is not None and create and uri == default_tracking_uri():
        db.parent.mkdir(parents=True, exist_ok=True)  # only the default folder is made for you
    problem = uri_problem(uri, create=create)
    if problem:
        raise StoreError(problem)
    if db is not None:
        _check_sqlite(db, uri)
    elif uri.startswith(("http://", "https://")):
        _check_server(uri)
    elif "://" in uri and not uri.startswith("databricks"):
        _check_database(uri)


def _check_database(uri: str) -> None:
    """A database server that does not answer is said before any cell, in one line, within
    seconds (a driver would otherwise wait its own timeout, cell after cell)."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    timeout = {"connect_timeout": 5} if uri.startswith(("postgresql", "mysql")) else {}
    engine = create_engine(uri, connect_args=timeout)
    try:
        with engine.connect():
            return
    except SQLAlchemyError as exc:
        reason = first_line(getattr(exc, "orig", None) or exc)
        raise StoreError(f"tracking store {uri} does not answer ({reason})") from None
    finally:
        engine.dispose()


def _check_folder(folder: Path, uri: str) -> None:
    for parent in (folder, *folder.parents):
        if parent.exists():
            if not parent.is_dir():
                raise StoreError(f"tracking store {uri}: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise StoreError(f"tracking store {uri}: {parent} is not writable")
            return


def _check_sqlite(db: Path, uri: str) -> None:
    import sqlite3

    _check_folder(db.parent, uri)
    if db.exists():
        if db.is_dir():
            raise StoreError(f"tracking store {uri}: {db} is a folder, not a database file")
        if not os.access(db, os.R_OK | os.W_OK):
            raise StoreError(f"tracking store {uri}: {db} is not writable")
        try:
            with sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=10) as con:
                con.execute("PRAGMA schema_version").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(
                f"tracking store {uri}: {db} is not a usable database ({exc})"
            ) from None


def _check_server(uri: str) -> None:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5) as reply:
            if reply.status == 200:
                return _check_api(uri)
            problem = f"HTTP {reply.status}"
    except urllib.error.HTTPError as exc:
        problem = f"HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError) as exc:
        problem = str(getattr(exc, "reason", exc))
    raise StoreError(
        f"tracking server {uri} does not answer ({problem}): start it (`mlflow server`), or "
        "choose another store with --tracking-uri"
    )


def _check_api(uri: str) -> None:
    """A server answers /health under any name, but may refuse its API to a host name it does
    not allow (mlflow server --allowed-hosts), or to a runner without a login (--app-name
    basic-auth): ask the API once, before any cell runs, with the credentials MLflow would
    send (MLFLOW_TRACKING_USERNAME/PASSWORD or ~/.mlflow/credentials; MLFLOW_TRACKING_TOKEN)."""
    import urllib.error
    import urllib.request

    probe = uri.rstrip("/") + "/api/2.0/mlflow/experiments/get-by-name?experiment_name=treeline"
    request = urllib.request.Request(probe, headers=_auth_headers(uri))
    try:
        with urllib.request.urlopen(request, timeout=10):
            return
    except urllib.error.HTTPError as exc:
        if exc.code == 404:  # no such experiment yet: the API answered
            return
        if exc.code in (401, 403):
            given = "refused the credentials given" if request.headers else "needs a login"
            raise StoreError(
                f"tracking server {uri} {given} (HTTP {exc.code}): set MLFLOW_TRACKING_USERNAME "
                "and MLFLOW_TRACKING_PASSWORD (or ~/.mlflow/credentials) to a user the server's "
                "admin created"
            ) from None
        body = exc.read(300).decode(errors="replace").strip()
        raise StoreError(
            f"tracking server {uri} refuses its API (HTTP {exc.code}: {body}); a server started "
            "with --host 0.0.0.0 accepts only the host names in its --allowed-hosts"
        ) from None
    except (urllib.error.URLError, OSError):
        return  # the cell's own write will say what is wrong


def _auth_headers(uri: str) -> dict[str, str]:
    """The Authorization header MLflow's client would send to `uri`."""
    import base64

    from mlflow.utils.credentials import get_default_host_creds

    creds = get_default_host_creds(uri)
    if creds.username and creds.password:
        pair = f"{creds.username}:{creds.password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    if creds.token:
        return {"Authorization": f"Bearer {creds.token}"}
    return {}


class Tracker:
    def __init__(
        self, experiment: str, uri: str | None = None, description: str = "", create: bool = True
    ):
        """`create`: False for readers, which refuse a SQLite file that does not exist."""
        _quiet_mlflow()
        self.uri = tracking_uri(uri)
        self.shown = redact(self.uri)  # the URI as printed: no password
        check_store(self.uri, create)
        if self.uri.startswith("sqlite:///"):
            db = Path(self.uri.removeprefix("sqlite:///"))
            # Two runners opening a fresh SQLite store at once both run MLflow's schema
            # migration, and the second crashes in alembic: one opens it at a time.
            with _file_lock(db.with_name(db.name + ".treeline-lock")):
                self._open(experiment, description)
        else:
            self._open(experiment, description)

    def _open(self, experiment: str, description: str) -> None:
        from mlflow import MlflowClient

        self.client = MlflowClient(self.uri)
        self.name = experiment
        exp_id, exp = self._experiment(experiment)
        self.experiment_id = exp_id
        if description and (exp is None or exp.tags.get(schema.NOTE) != description):
            self.client.set_experiment_tag(exp_id, schema.NOTE, description)  # the UI's description

    def _experiment(self, experiment: str) -> tuple[str, Any]:
        """The experiment's id, created (or restored) if need be, and what MLflow had (None
        where it was created here)."""
        from mlflow.exceptions import MlflowException

        exp = self.client.get_experiment_by_name(experiment)
        if exp is None:
            # MLflow would put a SQLite store's artifacts in ./mlruns of whatever the working
            # directory is; keep them beside the database (results/mlruns for the default).
            location = None
            if self.uri.startswith("sqlite:///"):
                db = Path(self.uri.removeprefix("sqlite:///"))
                location = (db.parent / "mlruns").resolve().as_uri()
            try:
                exp_id = self.client.create_experiment(experiment, artifact_location=location)
            except MlflowException as exc:  # another runner created it a moment before us
                exp = self.client.get_experiment_by_name(experiment)
                if exc.error_code != "RESOURCE_ALREADY_EXISTS" or exp is None:
                    raise
                exp_id = exp.experiment_id
        else:
            if exp.lifecycle_stage == "deleted":
                self.client.restore_experiment(exp.experiment_id)
            exp_id = exp.experiment_id
        return exp_id, exp

    def recorded(
        self, resume_key: str, statuses: tuple[str, ...], since: float = 0.0
    ) -> CellResult | None:
        """A complete run of this cell with one of `statuses` that ended after `since` (epoch
        seconds): what another runner recorded while this one waited. None if there is none."""
        for run in self._with_key(resume_key):
            r = self._result(run, anytime=False)
            if r is not None and r.status in statuses and (run.info.end_time or 0) >= since * 1000:
                return r
        return None

    def runs(self) -> list[Run]:
        """Every live run of the experiment: read from SQLite directly where the store is one,
        else from MLflow (paginated)."""
        from treeline.record import sqlite_runs

        fast = sqlite_runs.runs(self.uri, self.experiment_id)
        if fast is not None:
            return fast  # type: ignore[return-value]  # the parts of Run Treeline reads
        out, token = [], None
        while True:
            page = self.client.search_runs([self.experiment_id], max_results=5000, page_token=token)
            out.extend(page)
            token = page.token
            if not token:
                return out

    def done(self, rerun_failed: bool = False) -> dict[str, CellResult]:
        """Complete results a rerun keeps, by resume key (without their anytime curves)."""
        statuses = ("ok",) if rerun_failed else FINISHED
        out = {}
        for run in self.runs():
            if run.info.status == "RUNNING" and run.data.tags.get(schema.COMPLETE) == "1":
                # Written by an earlier Treeline that tagged complete before terminating.
                ok = schema.is_ok_or_skipped(run.data.tags)
                self.client.set_terminated(run.info.run_id, "FINISHED" if ok else "FAILED")
            r = self._result(run, anytime=False)
            if r is not None and r.status in statuses:
                out[r.cell.resume_key] = r
        return out

    def results(self) -> list[CellResult]:
        """Every complete cell of the experiment, anytime curves included."""
        return [r for run in self.runs() if (r := self._result(run, anytime=True)) is not None]

    def _result(self, run: Run, anytime: bool) -> CellResult | None:
        curve: list[tuple[float, float]] = []
        if anytime and run.data.tags.get(schema.STATUS) == "ok":
            history = self.client.get_metric_history(run.info.run_id, schema.ANYTIME_TEST)
            curve = sorted((m.step / 1000.0, m.value) for m in history)
        result = schema.from_mlflow(run.data.tags, run.data.metrics, run.data.params, curve)
        if result is None or run.info.start_time is None:
            return result
        return replace(result, started_at=run.info.start_time / 1000)  # the worker's start

    def recorded_by(self, resume_key: str) -> set[str]:
        """The claim holders (host:pid:token) that recorded a complete run of this cell."""
        return {
            run.data.tags.get(schema.CLAIMED_BY, "")
            for run in self._with_key(resume_key)
            if run.data.tags.get(schema.COMPLETE) == "1"
        } - {""}

    def _with_key(self, key: str) -> list[Run]:
        return self.client.search_runs(
            [self.experiment_id], filter_string=schema.tag_filter(schema.RESUME_KEY, key)
        )

    def record(self, result: CellResult, machine: dict[str, str]) -> str:
        """Write one cell's run; replaces any earlier run with the same resume key, and any
        run of the same cell on other data (an edited file, a built-in prepared anew): the
        store and its report never mix results of two versions of the data."""
        for old in self._with_key(result.cell.resume_key):
            self.client.delete_run(old.info.run_id)
        data = result.cell.dataset.identity()
        for old in self.client.search_runs(
            [self.experiment_id], filter_string=schema.tag_filter(schema.CELL_ID, result.cell.id)
        ):
            if schema.data_of(old.data.tags) not in (None, data):
                self.client.delete_run(old.info.run_id)  # soft: the UI can restore it
        return self._create(result, machine)

    def add(self, recorded: Recorded, by_key: dict[str, list[Run]] | None = None) -> str:
        """An exported cell into this store, as it was recorded (`treeline import`): "written";
        "present" when this very record is here already; "conflict" when another record of
        the same cell (same resume key) is — kept, never overwritten. `by_key`: the store's
        runs by resume key (`runs_by_key`), read once for many cells instead of once each."""
        result = recorded.result
        key = result.cell.resume_key
        runs = self._with_key(key) if by_key is None else by_key.get(key, [])
        complete = [r for r in runs if r.data.tags.get(schema.COMPLETE) == "1"]
        if any(_same_record(r, result) for r in complete):
            return "present"
        if complete:
            return "conflict"
        for old in runs:  # cut off while being written: replaced, as a rerun would
            self.client.delete_run(old.info.run_id)
        run_id = self._create(result, recorded.machine, recorded.predictions, recorded.schedule)
        if by_key is not None:  # a second record of the cell in the same import meets this one
            by_key[key] = [self.client.get_run(run_id)]
        return "written"

    def runs_by_key(self) -> dict[str, list[Run]]:
        out: dict[str, list[Run]] = {}
        for run in self.runs():
            if schema.RESUME_KEY in run.data.tags:
                out.setdefault(run.data.tags[schema.RESUME_KEY], []).append(run)
        return out

    def _create(
        self,
        result: CellResult,
        machine: dict[str, str],
        predictions: bytes | None = None,
        schedule: str = "",
    ) -> str:
        run = self.client.create_run(
            self.experiment_id,
            run_name=result.cell.id,
            tags=schema.tags(result, machine),
            start_time=_millis(result.started_at),
        )
        run_id = run.info.run_id
        self._write(run_id, schema.metrics(result), result)
        self._artifacts(run_id, result, predictions, schedule)
        # Terminated before complete: a run killed in between is incomplete (replaced by the
        # next record of its cell), never "complete but RUNNING" for ever. The cell's own end
        # time: the UI's Duration is the cell's wall-clock, not the write's.
        self.client.set_terminated(
            run_id,
            "FINISHED" if result.status in PASSED else "FAILED",
            end_time=_millis(result.ended_at),
        )
        self.client.set_tag(run_id, schema.COMPLETE, "1")
        return run_id

    def _write(self, run_id: str, values: dict[str, float], result: CellResult) -> None:
        from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param

        data = Dataset(**schema.dataset_input(result))
        context = InputTag("mlflow.data.context", "train+validation+test")
        log_inputs(self.client, run_id, [DatasetInput(data, [context])])

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, 0) for k, v in values.items()]
        for point in result.anytime:
            step = round(point.elapsed * 1000)
            metrics.append(Metric(schema.ANYTIME_VAL, point.val_score, now, step))
            metrics.append(Metric(schema.ANYTIME_TEST, point.test_score, now, step))
        plist = [Param(k, v) for k, v in schema.params(result).items()]
        # MLflow takes at most 100 params and 1000 metrics per batch.
        for i in range(0, len(plist), 100):
            self.client.log_batch(run_id, params=plist[i : i + 100])
        for i in range(0, len(metrics), 1000):
            self.client.log_batch(run_id, metrics=metrics[i : i + 1000])

    def log_report(self, folder: Path, suite_hash: str) -> str:
        """The report's files as artifacts of one run (replacing the last one), in the suite's
        reports experiment (`<suite> (reports)`): the suite's own runs list holds its cells."""
        # Where earlier versions put it: beside the cells.
        is_report = schema.tag_filter(schema.KIND, schema.KIND_REPORT)
        for old in self.client.search_runs([self.experiment_id], filter_string=is_report):
            self.client.delete_run(old.info.run_id)
        return log_page(
            self.client,
            schema.reports_experiment(self.name),
            f"report of {self.name}",
            folder,
            {
                schema.SUITE_HASH: suite_hash,
                schema.NOTE: f"The report of suite '{self.name}' (experiment {self.name}).",
            },
        )

    def _artifacts(
        self, run_id: str, result: CellResult, predictions: bytes | None = None, schedule: str = ""
    ) -> None:
        """The log, cell.json, schedule.json (`schedule`, else the result's) and
        predictions.npz (`predictions`, else the file the worker wrote)."""
        if result.log_path is not None and result.log_path.exists():
            self.client.log_artifact(run_id, str(result.log_path))
        detail = result.to_json()
        detail.pop("schedule")  # its own artifact, below
        self.client.log_text(
            run_id, json.dumps(detail, indent=2, default=str), schema.CELL_ARTIFACT
        )
        if result.schedule and not schedule:
            schedule = dumps(result.schedule)
        if schedule:
            self.client.log_text(run_id, schedule, schema.SCHEDULE_ARTIFACT)
        if predictions is None and result.predictions is not None and result.predictions.exists():
            predictions = result.predictions.read_bytes()
        if predictions is not None:
            with tempfile.TemporaryDirectory() as tmp:  # under the artifact's own name
                named = Path(tmp) / schema.PREDICTIONS_ARTIFACT
                named.write_bytes(predictions)
                self.client.log_artifact(run_id, str(named))

    def records(self) -> list[Recorded]:
        """Every complete cell of the experiment in full: anytime curves with validation,
        trial schedule, predictions (an export's rows). A local artifact store is read from
        disk; a remote one is downloaded from, 8 runs at a time."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(8) as pool:
            found = pool.map(self._record_in_full, self.runs())
            return [r for r in found if r is not None]

    def _record_in_full(self, run: Run) -> Recorded | None:
        result = self._result(run, anytime=False)
        if result is None:
            return None
        detail = self._artifact(run, schema.CELL_ARTIFACT)
        if detail is not None:  # the worker's own anytime points (validation and trial too)
            d = json.loads(detail)
            result.anytime = [AnytimePoint(**p) for p in d.get("anytime", [])]
            result.trial_errors = list(d.get("trial_errors", []))
        elif result.status == "ok":
            result = self._result(run, anytime=True) or result
        if run.info.end_time:
            result.ended_at = run.info.end_time / 1000
        schedule = self._artifact(run, schema.SCHEDULE_ARTIFACT)
        predictions = self._artifact(run, schema.PREDICTIONS_ARTIFACT)
        machine = schema.machine_tags(run.data.tags)
        text = schedule.decode() if schedule else ""
        return Recorded(run.info.run_id, result, machine, self.experiment_id, predictions, text)

    def _artifact(self, run: Run, name: str) -> bytes | None:
        """One artifact's bytes; None when the run has none of that name."""
        from urllib.parse import unquote, urlparse

        where = run.info.artifact_uri or ""
        if where.startswith(("file:", "/")):
            path = Path(unquote(urlparse(where).path)) / name
            return path.read_bytes() if path.is_file() else None
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        with tempfile.TemporaryDirectory() as tmp:
            try:
                return Path(self.client.download_artifacts(run.info.run_id, name, tmp)).read_bytes()
            except Exception:  # MLflow raises its own and OSError types for a missing file
                return None

    def schedule(self, run_id: str) -> list[TrialRecord]:
        """A recorded cell's trial schedule (empty for a run recorded before schedules were)."""
        text = self._artifact(self.client.get_run(run_id), schema.SCHEDULE_ARTIFACT)
        return loads(text.decode()) if text else []

    def record_replay(self, replay: Replay, machine: dict[str, str]) -> str:
        """Write a replay as its own run (never a cell: see `result.Replay`)."""
        r = replay.replayed
        run = self.client.create_run(
            self.experiment_id,
            run_name=f"replay {r.cell.id}",
            tags=schema.replay_tags(replay, machine),
        )
        run_id = run.info.run_id
        self._write(run_id, schema.replay_metrics(replay), r)
        self._artifacts(run_id, r)
        self.client.set_tag(run_id, schema.COMPLETE, "1")
        self.client.set_terminated(run_id, "FINISHED" if r.status == "ok" else "FAILED")
        return run_id

    def replays(self) -> list[Replay]:
        """Every complete replay of the experiment's cells."""
        runs = self.client.search_runs(
            [self.experiment_id], filter_string=schema.tag_filter(schema.KIND, schema.KIND_REPLAY)
        )
        found = (
            schema.replay_from_mlflow(r.data.tags, r.data.metrics, r.data.params) for r in runs
        )
        return [r for r in found if r is not None]


def log_inputs(client: Any, run_id: str, inputs: list[Any], tries: int = 3) -> None:
    """`client.log_inputs`, again when it loses a race: two runners recording cells of the same
    data at once both insert its dataset row (MLflow looks, then inserts), and the loser gets
    the store's unique-key error. The row exists then, so the next try links it."""
    from mlflow.exceptions import MlflowException

    for attempt in range(1, tries + 1):
        try:
            client.log_inputs(run_id, inputs)
            return
        except MlflowException as exc:
            text = str(exc).lower()
            if attempt == tries or not ("unique" in text or "duplicate key" in text):
                raise
            time.sleep(0.1 * attempt)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    import fcntl

    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _same_record(run: Run, result: CellResult) -> bool:
    """Whether `run` is `result` as recorded: same status, start and test score."""
    score = run.data.metrics.get("test_score", math.nan)
    theirs = result.measurements.test_score
    return (
        run.data.tags.get(schema.STATUS) == result.status
        and run.info.start_time == _millis(result.started_at)
        and (score == theirs or (math.isnan(score) and math.isnan(theirs)))
    )


def _millis(epoch_seconds: float) -> int | None:
    return None if epoch_seconds != epoch_seconds else int(epoch_seconds * 1000)


def log_page(client: Any, experiment: str, run_name: str, folder: Path, tags: dict) -> str:
    """A page's files (a report, the atlas) as the artifacts of one run of a reports experiment
    (tagged so that it is never read as a suite), replacing the run of the same name."""
    from mlflow.exceptions import MlflowException

    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        beside = None  # a SQLite store keeps its artifacts beside the database
        if client.tracking_uri.startswith("sqlite:///"):
            db = Path(client.tracking_uri.removeprefix("sqlite:///"))
            beside = (db.parent / "mlruns").resolve().as_uri()
        try:
            exp_id = client.create_experiment(experiment, artifact_location=beside)
        except MlflowException:  # created a moment before by another process
            exp_id = client.get_experiment_by_name(experiment).experiment_id
    else:
        exp_id = exp.experiment_id
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(exp_id)
    client.set_experiment_tag(exp_id, schema.KIND, schema.KIND_REPORTS)
    page = schema.tag_filter(schema.KIND, schema.KIND_REPORT)
    for old in client.search_runs([exp_id], filter_string=page):
        if old.info.run_name == run_name:
            client.delete_run(old.info.run_id)
    tags = {schema.KIND: schema.KIND_REPORT, **tags}
    run = client.create_run(exp_id, run_name=run_name, tags=tags)
    client.log_artifacts(run.info.run_id, str(folder), artifact_path="report")
    client.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id


def read_results(experiment: str, uri: str | None = None) -> list[CellResult]:
    """Every complete cell of a suite (the analysis's input)."""
    return Tracker(experiment, uri, create=False).results()
