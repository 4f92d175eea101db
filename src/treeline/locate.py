"""Where Treeline finds its suite and runner files, its cache and its results."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def project_dirs(kind: str) -> list[Path]:
    """Folders searched for `kind` ('suites' or 'runners'), first match wins.

    The current directory comes first so a user's own files override the shipped ones; then the
    source checkout (editable installs); then the copy bundled into the wheel.
    """
    candidates = [
        Path.cwd() / kind,
        _PACKAGE.parent.parent / kind,
        _PACKAGE / "_bundled" / kind,
    ]
    seen: list[Path] = []
    for c in candidates:
        if c.is_dir() and c.resolve() not in [s.resolve() for s in seen]:
            seen.append(c)
    return seen


def named_files(kind: str) -> dict[str, Path]:
    """Every `<name>.yaml` under the search folders of `kind`, by name."""
    out: dict[str, Path] = {}
    for folder in project_dirs(kind):
        for path in sorted(folder.glob("*.yaml")):
            out.setdefault(path.stem, path)
    return out


def cache_dir() -> Path:
    """Prepared data: `TREELINE_CACHE`, else the user cache dir."""
    env = os.environ.get("TREELINE_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("treeline"))


def results_dir() -> Path:
    """Run outputs: `TREELINE_RESULTS`, else ./results."""
    return Path(os.environ.get("TREELINE_RESULTS", "results")).expanduser()


def cell_log(suite: str, cell_id: str, attempt: int = 1, replay: bool = False) -> Path:
    """A cell's log: one per claim of a cell (a runner that takes over an expired claim does not
    write into the log of the runner it replaces, which may still be alive), one per replay."""
    name = cell_id.replace("/", "__")
    if replay:
        name = "replay__" + name
    elif attempt > 1:
        name += f".attempt-{attempt}"
    return results_dir() / "logs" / suite / (name + ".log")


def usable_folder(path: Path, what: str, env: str) -> str | None:
    """Why `path` cannot hold `what` (a file in its place, not writable), or None: checked
    before any cell runs, so a broken environment is never recorded as a contender's failure."""
    for parent in (path, *path.parents):
        if not parent.exists():
            continue
        if not parent.is_dir():
            return f"{what} folder {path}: {parent} is a file, not a folder (set {env})"
        if not os.access(parent, os.W_OK | os.X_OK):
            return f"{what} folder {path}: {parent} is not writable (set {env})"
        return None
    return None


def publish(tmp: Path, path: Path) -> None:
    """Move a fully written folder `tmp` into `path` at once. Two processes that prepared the
    same thing (two cells of one dataset starting together) both finish: the first one's folder
    stands and the second's is dropped — never a folder removed under a process reading it. A
    leftover without `meta.json` (a crash mid-write) is replaced."""
    try:
        tmp.rename(path)
        return
    except OSError:
        if (path / "meta.json").exists():
            shutil.rmtree(tmp, ignore_errors=True)
            return
    shutil.rmtree(path, ignore_errors=True)
    tmp.replace(path)


# scheme://user:password@host — the password part of any URL in a text.
_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]*:)([^\s/]+)@")


def redact(text: str) -> str:
    """`text` with every URL's password shown as ***: a tracking URI such as
    postgresql+psycopg2://mlflow:S3cret@db/mlflow is printed and recorded without it."""
    return _PASSWORD.sub(r"\1***@", text)
