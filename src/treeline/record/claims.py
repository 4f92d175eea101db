"""Claims: a cell is claimed in the tracking store before it runs, so two runners (two machines,
two terminals) on one suite and one store never run a cell twice.

A claim is a registered model named `treeline-claim-<experiment>-<resume key>-<attempt>`: the
one thing every MLflow store (SQLite, PostgreSQL, a tracking server) creates atomically by name —
of two runners creating the same name, exactly one succeeds. While its cell runs, the holder's
heartbeat thread changes the claim's `heartbeat` tag every `lease / 4` seconds; the claim is
deleted once the cell is recorded. A runner that died stops beating: a claim whose heartbeat
another runner has seen unchanged for `lease` seconds of its own clock (so the machines' clocks
need not agree) has expired, and that runner takes the cell over by creating the next attempt;
so has, at once, a claim held by a process of this machine that no longer exists.
The Models page of the MLflow UI shows the claims held, one per cell in flight.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from treeline.errors import first_line
from treeline.record import schema

DEFAULT_LEASE = 60.0


def lease_seconds() -> float:
    """How long a silent claim holds (TREELINE_LEASE_SECONDS; default 60 s)."""
    try:
        value = float(os.environ.get("TREELINE_LEASE_SECONDS", DEFAULT_LEASE))
    except ValueError:
        return DEFAULT_LEASE
    return value if value > 0 else DEFAULT_LEASE


def _holder_gone(owner: str) -> bool:
    """A holder on this machine whose process has ended (a run killed, then started again):
    its claim need not wait out the lease. Elsewhere only the heartbeat can tell."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no such process
    return state in ("Z", "X")  # killed, not yet reaped by its parent


@dataclass
class Claim:
    name: str
    attempt: int
    cell_id: str


@dataclass
class _Seen:
    beat: str
    since: float  # monotonic time this runner first saw that heartbeat value


@dataclass
class ClaimBook:
    """This runner's claims in one experiment of one store."""

    client: Any  # mlflow.MlflowClient
    experiment_id: str
    lease: float = field(default_factory=lease_seconds)
    owner: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    )
    held: dict[str, Claim] = field(default_factory=dict)
    seen: dict[str, _Seen] = field(default_factory=dict)
    available: bool = True  # False when the store keeps no registry: no claims, said once

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.problem: str | None = None

    def _prefix(self, resume_key: str) -> str:
        return f"{schema.CLAIM_PREFIX}-{self.experiment_id}-{resume_key}-"

    def take(self, resume_key: str, cell_id: str) -> Claim | None:
        """Claim a cell; None while another runner's live claim holds it."""
        from mlflow.exceptions import MlflowException

        if not self.available:
            return Claim("", 1, cell_id)
        prefix = self._prefix(resume_key)
        try:
            found = self.client.search_registered_models(filter_string=schema.claim_filter(prefix))
        except MlflowException as exc:
            if exc.error_code in ("ENDPOINT_NOT_FOUND", "NOT_IMPLEMENTED", "FEATURE_DISABLED"):
                self.available = False
                self.problem = (
                    f"this tracking store keeps no model registry ({exc.error_code}): cells are "
                    "not claimed, so two runners on this suite would run the same cells"
                )
                return Claim("", 1, cell_id)
            raise
        attempts = {int(m.name.rsplit("-", 1)[1]): m for m in found if m.name.startswith(prefix)}
        attempt = 1
        if attempts:
            last = attempts[max(attempts)]
            if not (
                _holder_gone(last.tags.get(schema.CLAIM_OWNER, ""))
                or self._expired(last.name, last.tags.get(schema.CLAIM_HEARTBEAT, ""))
            ):
                return None
            attempt = max(attempts) + 1
        name = f"{prefix}{attempt}"
        try:
            self.client.create_registered_model(
                name,
                tags={
                    schema.CLAIM_OWNER: self.owner,
                    schema.CLAIM_HEARTBEAT: "0",
                    schema.CLAIM_CELL: cell_id,
                },
                description=f"{cell_id}: claimed by {self.owner}; deleted once it is recorded",
            )
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_ALREADY_EXISTS":
                return None  # another runner claimed it a moment before us
            raise
        for older in attempts.values():  # an expired claim: its holder is gone
            with contextlib.suppress(MlflowException):
                self.client.delete_registered_model(older.name)
        claim = Claim(name, attempt, cell_id)
        with self._lock:
            self.held[name] = claim
        self._start_heartbeat()
        return claim

    def _expired(self, name: str, beat: str) -> bool:
        now = time.monotonic()
        seen = self.seen.get(name)
        if seen is None or seen.beat != beat:
            self.seen[name] = _Seen(beat, now)
            return False
        return now - seen.since >= self.lease

    def still_held(self, claim: Claim) -> bool:
        """False when another runner took the cell over (our heartbeat stopped for a lease)."""
        from mlflow.exceptions import MlflowException

        if not self.available or not claim.name:
            return True
        try:
            model = self.client.get_registered_model(claim.name)
        except MlflowException as exc:
            # Only the store saying the claim is gone means it was taken; a store that fails
            # is found by the record that follows (and the cell spooled, not lost).
            return exc.error_code != "RESOURCE_DOES_NOT_EXIST"
        except Exception:
            return True
        return model.tags.get(schema.CLAIM_OWNER) == self.owner

    def release(self, claim: Claim) -> None:
        """Delete the claim, tried three times; one that stays is said (`problem`) and removed
        by the next run once its cell is recorded (`sweep`), or expires by the lease."""
        with self._lock:
            self.held.pop(claim.name, None)
        if not claim.name:
            return
        problem = self._delete(claim.name)
        if problem:
            self.problem = (
                f"{claim.cell_id}: its claim could not be removed from the store ({problem}); "
                "the next run removes it"
            )

    def _delete(self, name: str, tries: int = 3) -> str | None:
        """None once the claim is gone; else why it could not be deleted."""
        from mlflow.exceptions import MlflowException

        for attempt in range(tries):
            try:
                self.client.delete_registered_model(name)
                return None
            except MlflowException as exc:
                if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                    return None
                problem = f"{type(exc).__name__}: {first_line(exc, 120)}"
            except Exception as exc:
                problem = f"{type(exc).__name__}: {first_line(exc, 120)}"
            time.sleep(0.5 * (attempt + 1))
        return problem

    def sweep(self, recorded_by: Callable[[str], set[str]]) -> int:
        """Remove claims left by runs that recorded their cell and died before deleting the
        claim (a kill just after recording, a cell spooled and written later, a failed delete):
        a claim whose holder recorded a complete run of its cell. `recorded_by(resume_key)`:
        the holders that recorded that cell. Returns how many were removed."""
        from mlflow.exceptions import MlflowException

        base = f"{schema.CLAIM_PREFIX}-{self.experiment_id}-"
        try:
            found = self.client.search_registered_models(filter_string=schema.claim_filter(base))
        except MlflowException:
            return 0  # a store without a registry has no claims to sweep
        removed = 0
        for model in found:
            key = model.name.removeprefix(base).rsplit("-", 1)[0]
            owner = model.tags.get(schema.CLAIM_OWNER, "")
            if owner and owner in recorded_by(key) and self._delete(model.name) is None:
                removed += 1
        return removed

    def abandon(self) -> None:
        """The store failed: stop beating and leave our claims to expire by the lease, instead
        of waiting out the store's retries once more for each claim on the way out."""
        self._stop.set()
        with self._lock:
            self.held.clear()

    def release_all(self) -> None:
        """On the way out (done, interrupted, failed): nothing of ours blocks another runner."""
        self._stop.set()
        for claim in list(self.held.values()):
            self.release(claim)

    def _start_heartbeat(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._beat, daemon=True, name="claims")
            self._thread.start()

    def _beat(self) -> None:
        beat = 0
        while not self._stop.wait(self.lease / 4):
            beat += 1
            with self._lock:
                names = list(self.held)
            for name in names:
                with contextlib.suppress(Exception):  # a missed beat; the lease allows three
                    self.client.set_registered_model_tag(name, schema.CLAIM_HEARTBEAT, str(beat))
