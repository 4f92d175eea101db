"""User-facing errors: printed as `file:line: field: message`, exit code 2, never a traceback."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

EXIT_USAGE = 2


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located as precisely as we can."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class TreelineError(Exception):
    """An error the user can fix; the CLI prints it without a traceback and exits with 2."""


class ConfigError(TreelineError):
    """One or more problems in a suite, runner profile or data file."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, file: str | Path, line: int | None, field: str, message: str) -> ConfigError:
        return cls([Problem(str(file), line, field, message)])


def suggest(name: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest valid name, or '' when nothing is close.

    Case is ignored: every valid name is lower case, and `XGBoost` means `xgboost`."""
    folded = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(name.lower(), list(folded), n=1, cutoff=0.6)
    return f" (did you mean '{folded[close[0]]}'?)" if close else ""


def unknown_name(kind: str, name: str, choices: Iterable[str]) -> str:
    """The message for a misspelt or unknown registry name."""
    choices = sorted(choices)
    shown = name if len(name) <= 80 else name[:77] + "..."  # a pasted paragraph is not a name
    return f"unknown {kind} '{shown}'{suggest(name, choices)}; valid: {', '.join(choices)}"


def first_line(exc: BaseException, limit: int = 300) -> str:
    """An error's first line, cut short at a word: what a one-line message quotes of a
    library's error. A long one keeps its root cause (`[Errno 111] Connection refused`), which
    network libraries put at the very end of a line of wrappers."""
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if len(line) <= limit:
        return line
    cut = line[:limit].rsplit(" ", 1)[0].rstrip(" ,:;(") + " …"
    causes = _ERRNO.findall(line)
    if causes and causes[-1] not in cut:
        cut += f" ({causes[-1].strip()})"
    return cut


# "[Errno 111] Connection refused" inside urllib3's "Max retries exceeded … (Caused by …)"
_ERRNO = re.compile(r"\[Errno -?\d+\][^'\")\]]+")


SHOWN = 5  # items a refusal names before "and N more"


def shown(items: Iterable[str]) -> str:
    """The first SHOWN items, and how many more."""
    items = list(items)
    more = f" and {len(items) - SHOWN:,} more" if len(items) > SHOWN else ""
    return ", ".join(items[:SHOWN]) + more


def line_numbers(rows: Iterable[int]) -> str:
    """A frame's rows (0-based) as its CSV's line numbers: the header is line 1."""
    return shown(str(int(r) + 2) for r in rows)
