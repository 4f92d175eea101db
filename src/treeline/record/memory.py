"""An in-memory store for the scheduler (scheduler.Claims and scheduler.Recorder): what a run
records and claims, kept in this process. Optuna's InMemoryStorage plays the same part: the
scheduling rules tested in milliseconds, the real stores tested apart, once each."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field, replace

from treeline.execute.result import CellResult
from treeline.record.claims import Claim


@dataclass
class MemoryRecorder:
    """Records by resume key; the latest record of a key replaces earlier ones, as in MLflow."""

    uri: str = "memory:"
    records: dict[str, tuple[CellResult, str]] = field(default_factory=dict)  # key → (r, owner)
    fail_after: int | None = None  # a store that fails from its n-th write on (None: never)
    writes: int = 0

    def recorded(
        self, resume_key: str, statuses: tuple[str, ...], since: float
    ) -> CellResult | None:
        found = self.records.get(resume_key)
        if found is None:
            return None
        result, _ = found
        ended = result.ended_at if result.ended_at == result.ended_at else 0.0
        return result if result.status in statuses and ended >= since else None

    def record(self, result: CellResult, owner: str = "") -> None:
        from treeline.record.store import StoreError

        self.writes += 1
        if self.fail_after is not None and self.writes >= self.fail_after:
            raise StoreError(f"the tracking store {self.uri} failed while recording")
        if result.ended_at != result.ended_at:  # not stamped by a worker: now
            result = replace(result, ended_at=time.time())
        self.records[result.cell.resume_key] = (replace(result, from_earlier_run=True), owner)

    def owners(self) -> dict[str, str]:
        """Cell id → the claim holder that recorded it."""
        return {r.cell.id: owner for r, owner in self.records.values()}


@dataclass
class MemoryClaimBoard:
    """The claims of every runner on one in-memory store: name → (owner, last beat)."""

    held: dict[str, tuple[str, float]] = field(default_factory=dict)


_tokens = itertools.count(1)


@dataclass
class MemoryClaims:
    """One runner's claims on a `MemoryClaimBoard`; a claim whose holder has not beaten for
    `lease` seconds has expired (the holder beats on every call it makes)."""

    board: MemoryClaimBoard
    lease: float = 60.0
    owner: str = field(default_factory=lambda: f"memory:{next(_tokens)}")
    problem: str | None = None
    mine: dict[str, Claim] = field(default_factory=dict)

    def _beat(self) -> None:
        now = time.monotonic()
        for name in self.mine:
            self.board.held[name] = (self.owner, now)

    def take(self, resume_key: str, cell_id: str) -> Claim | None:
        self._beat()
        attempts = [
            int(name.rsplit("-", 1)[1])
            for name in self.board.held
            if name.startswith(f"{resume_key}-")
        ]
        attempt = 1
        if attempts:
            last = f"{resume_key}-{max(attempts)}"
            _, beat = self.board.held[last]
            if time.monotonic() - beat < self.lease:
                return None
            del self.board.held[last]  # expired: its holder is gone
            attempt = max(attempts) + 1
        name = f"{resume_key}-{attempt}"
        self.board.held[name] = (self.owner, time.monotonic())
        self.mine[name] = Claim(name, attempt, cell_id)
        return self.mine[name]

    def still_held(self, claim: Claim) -> bool:
        return self.board.held.get(claim.name, ("", 0.0))[0] == self.owner

    def release(self, claim: Claim) -> None:
        self.mine.pop(claim.name, None)
        if self.still_held(claim):
            del self.board.held[claim.name]

    def release_all(self) -> None:
        for claim in list(self.mine.values()):
            self.release(claim)

    def abandon(self) -> None:
        self.mine.clear()
