"""Cells the tracking store could not take: kept on local disk until it can.

When writing a finished cell fails (a server down past its retries, a full disk), the result is
written here first — `results/spool/<suite>/<resume key>.json` — and the run stops. The next
run of the suite writes every spooled cell to the store before it runs anything, so no cell is
lost and none is recorded twice (a store write replaces any run with the same resume key).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from treeline.errors import TreelineError, first_line
from treeline.execute.result import CellResult
from treeline.locate import results_dir


def folder(suite: str) -> Path:
    return results_dir() / "spool" / suite


def put(result: CellResult, machine: dict[str, str]) -> Path:
    """Keep a cell's result on disk (atomically: a kill mid-write leaves the old or nothing)."""
    path = folder(result.cell.suite) / f"{result.cell.resume_key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {"result": result.to_json(), "machine": machine}
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(blob, default=str))
    tmp.replace(path)
    return path


def pending(suite: str) -> list[tuple[Path, CellResult, dict[str, str]]]:
    """Spooled cells of `suite`, oldest first."""
    out = []
    for path in sorted(folder(suite).glob("*.json"), key=lambda p: p.stat().st_mtime):
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
