"""Cells the tracking store could not take: kept on local disk until it can.

When writing a finished cell fails (a server down past its retries, a full disk), the result is
written here first — `results/spool/<suite>/<resume key>.json` — and the run stops. The next
run of the suite writes every spooled cell to the store before it runs anything, so no cell is
lost and none is recorded twice (a store write replaces any run with the same resume key).

A full disk is the one failure that also stops the spool: with the store and `results/` on one
disk (the default), the cell that filled it had nowhere to go. So a run reserves the space the
spool needs before any cell starts (`reserve`: a file of real blocks, freed just before a spool
write), and a cell that still does not fit goes to a second place in memory-backed storage.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from treeline.errors import TreelineError, first_line
from treeline.execute.result import CellResult
from treeline.locate import results_dir

RESERVE_BYTES = 4 * 2**20  # a spooled cell is tens of kB; its schedule and curves included
RESERVE = ".reserve"


def folder(suite: str) -> Path:
    return results_dir() / "spool" / suite


def second_folder(suite: str) -> Path:
    """Where a cell goes when the results disk has no room even for it: memory-backed storage
    (/dev/shm) where there is one, so a full disk does not stop it; lost only at a reboot."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
    return base / f"treeline-spool-{os.getuid()}" / suite


def reserve(suite: str) -> str | None:
    """Set aside the room one spooled cell needs, before any cell runs; why it cannot be,
    or None. A disk too full for this is said before a cell is spent on it."""
    path = folder(suite) / RESERVE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_blocks * 512 >= RESERVE_BYTES:
            return None
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.posix_fallocate(fd, 0, RESERVE_BYTES)  # real blocks, not a sparse promise
        finally:
            os.close(fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            path.unlink()
        return (
            f"the results folder {path.parent.parent.parent} has no room to keep even one cell "
            f"({exc.strerror or exc}; {_free(path.parent)} free): free some space, or set "
            "TREELINE_RESULTS to another disk"
        )
    return None


def put(result: CellResult, machine: dict[str, str]) -> Path:
    """Keep a cell's result on disk (atomically: a kill mid-write leaves the old or nothing):
    in the spool, using its reserved room; else in the second place. Raises TreelineError,
    naming both places and what is full, when neither can take it."""
    blob = json.dumps({"result": result.to_json(), "machine": machine}, default=str)
    name = f"{result.cell.resume_key}.json"
    first = folder(result.cell.suite)
    with contextlib.suppress(OSError):
        (first / RESERVE).unlink()  # the room set aside for exactly this write
    problems = []
    for place in (first, second_folder(result.cell.suite)):
        try:
            return _write(place / name, blob)
        except OSError as exc:
            problems.append(f"{place}: {exc.strerror or exc} ({_free(place)} free)")
    raise TreelineError(
        f"{result.cell.id} could not be kept anywhere: {'; '.join(problems)}. Its result was "
        "lost; free some space and run the suite again to run it again"
    )


def _write(path: Path, blob: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    try:
        with open(tmp, "w") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()  # no empty .tmp left on a full disk
        raise
    return path


def _free(path: Path) -> str:
    for p in (path, *path.parents):
        with contextlib.suppress(OSError):
            st = os.statvfs(p)
            return f"{st.f_bavail * st.f_frsize / 2**20:.1f} MiB"
    return "unknown"


def pending(suite: str) -> list[tuple[Path, CellResult, dict[str, str]]]:
    """Spooled cells of `suite`, in either place, oldest first."""
    out = []
    found = [p for place in (folder(suite), second_folder(suite)) for p in place.glob("*.json")]
    for path in sorted(found, key=lambda p: p.stat().st_mtime):
        try:
            blob: dict[str, Any] = json.loads(path.read_text())
            result = CellResult.from_json(blob["result"])
            out.append((path, result, blob["machine"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            # A damaged file is not deleted here: it may hold the only copy of a finished cell.
            raise TreelineError(
                f"{path}: a spooled cell that cannot be read ({type(exc).__name__}: "
                f"{first_line(exc, 120)}); move it out of {path.parent} to go on"
            ) from None
    return out
