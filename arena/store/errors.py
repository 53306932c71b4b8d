"""Database failures as one plain sentence naming where the URL came from, the database and why.

SQLAlchemy and the drivers answer an unreachable server, an unknown or missing driver and a
read-only SQLite file with a traceback that ends in the driver's own wording. The CLI opens and
writes the database inside :func:`database_errors`, which turns those failures into a
:class:`DatabaseError`: ``<source>: <what failed>; expected <what would work>.``, where the source
is the study file's ``database`` key or ``--database``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

__all__ = ["DRIVER_PACKAGES", "DatabaseError", "database_errors", "describe", "sqlite_file"]

#: The pip package of a driver module SQLAlchemy imports, where the two names differ.
DRIVER_PACKAGES = {
    "MySQLdb": "mysqlclient",
    "psycopg": "psycopg[binary]",
    "psycopg2": "psycopg2-binary",
    "pymysql": "PyMySQL",
}
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "mssql": 1433}
_EXAMPLES = "sqlite:///arena.db or postgresql+psycopg://user@host/arena"


class DatabaseError(ValueError):
    """The database cannot be reached, opened or written; the message says which and why."""


def _shown(url: str) -> str:
    """The URL without its password (messages end up in logs and terminals)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL; None for other databases, in-memory SQLite and URI names."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    name = parsed.database or ""
    if (
        parsed.get_backend_name() != "sqlite"
        or name in ("", ":memory:")
        or name.startswith("file:")
    ):
        return None
    return Path(name)


def _reason(exc: BaseException) -> str:
    """The driver's own first line, without SQLAlchemy's wrapping."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0].strip().rstrip(".") if text else type(exc).__name__


def _sqlite(path: Path, reason: str) -> str:
    folder = path.parent
    if "readonly" in reason or "read-only" in reason:
        return (
            f"the SQLite database {path} is read-only ({reason}); expected a file this user "
            "may write, on a writable disk: the arena stores raters and votes in it"
        )
    if "unable to open" in reason:
        if not folder.is_dir():
            return (
                f"the folder {folder} of the SQLite database {path} does not exist; expected an "
                "existing folder (create it, or fix the path)"
            )
        if not os.access(folder, os.W_OK) or not os.access(
            path if path.exists() else folder, os.W_OK
        ):
            return (
                f"the folder {folder} of the SQLite database {path} is read-only ({reason}); "
                f"expected a folder this user may write ({path.name}-wal and {path.name}-shm "
                "are created beside the database)"
            )
        return (
            f"cannot open the SQLite database {path} ({reason}); expected a file and folder "
            "this user may write, on a writable disk"
        )
    if "not a database" in reason:
        return f"{path} is not an SQLite database ({reason}); expected a file `arena serve` made"
    return f"the SQLite database {path} failed ({reason})"


def _server(url: str, reason: str) -> str:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    host = parsed.host or "localhost"
    port = parsed.port or _DEFAULT_PORTS.get(backend, "(default)")
    # psycopg: 'connection failed: connection to server at "h", port 1 failed: Connection refused'
    short = re.split(r"failed:\s*", reason)[-1].strip().rstrip(".") or reason
    return (
        f"cannot connect to the database {_shown(url)} ({short}); expected a {backend} server "
        f"running at {host} port {port} that accepts this user and has this database"
    )


def describe(url: str, exc: BaseException) -> str:
    """What failed with the database at ``url`` and what was expected, without the source."""
    if isinstance(exc, NoSuchModuleError):
        # "Can't load plugin: sqlalchemy.dialects:mysql.nosuchdriver"
        name = str(exc).rsplit(":", 1)[-1].strip()
        return (
            f"SQLAlchemy has no dialect or driver '{name}' for the URL {_shown(url)}; expected "
            f"a URL such as {_EXAMPLES}"
        )
    if isinstance(exc, ArgumentError):
        return f"'{url}' is not a database URL; expected a URL such as {_EXAMPLES}"
    if isinstance(exc, ImportError):
        module = (exc.name or "").split(".")[0] or _reason(exc)
        package = DRIVER_PACKAGES.get(module, module)
        return (
            f"the database URL {_shown(url)} needs the driver module '{module}', which is not "
            f"installed; expected it installed: pip install '{package}'"
        )
    path = sqlite_file(url)
    if isinstance(exc, DBAPIError) and path is not None:
        return _sqlite(path, _reason(exc))
    if isinstance(exc, OperationalError):  # the server is down, unreachable or refuses us
        return _server(url, _reason(exc))
    return f"the database {_shown(url)} failed ({_reason(exc)})"


@contextmanager
def database_errors(url: str, source: str, opening: bool = False) -> Iterator[None]:
    """Turn a failure of the database at ``url`` into a :class:`DatabaseError`.

    ``source`` says where the URL came from (``"--database"`` or ``"<study file>: key
    'database'"``); the message starts with it. ``opening=True`` around creating the engine
    only: there an ImportError is the URL's driver, elsewhere it could be anything. The
    driver's exception stays chained, for ``ARENA_DEBUG=1``.
    """
    try:
        yield
    except (DBAPIError, ArgumentError) as exc:  # NoSuchModuleError is an ArgumentError
        raise DatabaseError(f"{source}: {describe(url, exc)}.") from exc
    except ImportError as exc:
        if not opening:
            raise
        raise DatabaseError(f"{source}: {describe(url, exc)}.") from exc
