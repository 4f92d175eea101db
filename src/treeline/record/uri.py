"""A tracking URI checked before MLflow sees it. MLflow answers a URI it cannot use with a
traceback from deep inside its store registry (or, for `sqlite:////a/new/dir/x.db`, quietly
creates the folders); here each such URI gets one sentence saying what to write instead.

Only the form is checked here (no network, no files written); `store.check_store` then asks the
store itself."""

from __future__ import annotations

from pathlib import Path

from treeline.locate import redact

DATABASES = ("sqlite", "postgresql", "mysql", "mssql")
SERVERS = ("http", "https")
HOSTED = ("databricks", "databricks-uc")
PACKAGES = {"MySQLdb": "mysqlclient", "psycopg": '"psycopg[binary]"', "psycopg2": "psycopg2-binary"}
EXAMPLES = "sqlite:///PATH/mlflow.db, http://HOST:PORT or postgresql+psycopg2://USER@HOST/DB"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI; None for any other URI."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///").split("?", 1)[0])


def uri_problem(uri: str, *, create: bool = True) -> str | None:
    """Why `uri` cannot be a Treeline store, in one sentence; None when its form is fine.
    `create`: a SQLite file (and, for the default store, its folder) may be made; readers
    (report, replay) pass False, so a mistyped path is said, not made into an empty store."""
    shown = redact(uri)
    scheme, sep, _ = uri.partition("://")
    base = scheme.split("+", 1)[0].lower()
    if uri.strip() in HOSTED or base in HOSTED:
        return None
    if not sep:
        return (
            f"'{shown}' is not a tracking URI (a plain folder would be MLflow's file store, "
            f"which Treeline does not use): write {EXAMPLES}"
        )
    if base == "file":
        return (
            f"tracking store {shown}: MLflow's file store (file://) is in maintenance mode and "
            f"lacks the model registry Treeline claims cells in: use {EXAMPLES}"
        )
    if base not in DATABASES + SERVERS:
        return f"tracking store {shown}: unknown scheme '{scheme}': use {EXAMPLES}"
    if base == "sqlite":
        return _sqlite_problem(uri, shown, create)
    if base in DATABASES:
        return _driver_problem(uri, shown)
    return None


def _sqlite_problem(uri: str, shown: str, create: bool) -> str | None:
    db = sqlite_path(uri)
    if db is None or not str(db):
        return (
            f"tracking store {shown}: a SQLite URI has three slashes before a relative path "
            "(sqlite:///results/mlflow.db) and four before an absolute one "
            "(sqlite:////home/me/mlflow.db)"
        )
    if not create and not db.exists():
        return (
            f"tracking store {shown}: {db} does not exist, so nothing is recorded there "
            "(run the suite first, or pass the --tracking-uri it was run with)"
        )
    blocker = next((p for p in db.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        return f"tracking store {shown}: {blocker} is a file, not a folder"
    if not db.parent.is_dir():
        return (
            f"tracking store {shown}: the folder {db.parent} does not exist; create it, or "
            "choose another path (Treeline makes only its default results folder)"
        )
    return None


def _driver_problem(uri: str, shown: str) -> str | None:
    """A database URI whose Python driver is missing: name the driver and the fix."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        dialect = make_url(uri).get_dialect()
        dialect.import_dbapi()
    except ArgumentError as exc:
        return f"tracking store {shown}: not a database URI ({exc})"
    except NoSuchModuleError:
        return f"tracking store {shown}: SQLAlchemy has no such database driver"
    except ImportError as exc:
        missing = exc.name or str(exc)
        hint = f"install it (pip install {PACKAGES.get(missing, missing)})"
        if uri.startswith("postgresql://") and _importable("psycopg2"):
            hint = "psycopg2 is installed: write postgresql+psycopg2://… to use it"
        elif uri.startswith("postgresql"):
            hint = 'pip install "treeline[postgres]" and write postgresql+psycopg2://…'
        return f"tracking store {shown}: its database driver {missing} is not installed; {hint}"
    return None


def _importable(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None
