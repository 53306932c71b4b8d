"""Schema migrations: every database the store opens is brought to the current schema.

The schema's history is the Alembic environment in ``arena/store/migrations/`` (no
``alembic.ini``: :func:`config` builds the configuration). :func:`upgrade` is what
:class:`~arena.store.Store` runs on open:

- an empty database is upgraded to the head revision;
- a database that release 0.1 made with ``create_all`` (its tables, no ``alembic_version``)
  is stamped ``0001`` and upgraded from there;
- a database at the head costs one read of ``alembic_version`` and nothing else.

To add a revision: change :mod:`arena.store.schema`, then, with a connection ``conn`` to a
database at the head, ``alembic.command.revision(config(conn), "what changed",
autogenerate=True, rev_id="0003")`` writes a draft into ``migrations/versions/`` to review.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from arena.store.engine import IMMEDIATE

__all__ = [
    "MIGRATIONS",
    "RELEASE_0_1",
    "RELEASE_0_1_TABLES",
    "MigrationError",
    "config",
    "current_revision",
    "downgrade",
    "head_revision",
    "upgrade",
]

#: The Alembic environment (shipped as package data).
MIGRATIONS = Path(__file__).with_name("migrations")
#: The revision of the schema release 0.1 created without Alembic.
RELEASE_0_1 = "0001"
#: The tables of that release.
RELEASE_0_1_TABLES = frozenset(
    {"studies", "models", "prompts", "images", "raters", "trials", "votes", "cell_counts"}
)
#: Key of the PostgreSQL advisory lock held while a process upgrades ("t2iarena" in ASCII).
LOCK_KEY = 0x7432_6961_7265_6E61
# Alembic's ``context`` and ``op`` are module-level proxies of the running migration, so two
# threads of one process must not migrate at once (even two different databases).
_IN_PROCESS = threading.Lock()


class MigrationError(ValueError):
    """The database cannot be brought to this version's schema; the message says why."""


def config(connection: Connection | None = None) -> Config:
    """An Alembic configuration of the arena's migrations, running on ``connection``.

    The connection should be inside a transaction: the migrations then commit with it.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision this version of the arena knows."""
    head = ScriptDirectory.from_config(config()).get_current_head()
    assert head is not None, f"no revisions in {MIGRATIONS}"
    return head


def current_revision(conn: Connection) -> str | None:
    """The database's revision; None when it has no ``alembic_version`` (empty or release 0.1)."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database behind ``engine`` to ``revision`` (the head by default).

    Safe when several processes open one database at once: on PostgreSQL they queue on a
    transaction-level advisory lock, on SQLite on the write lock (``BEGIN IMMEDIATE``), and
    whoever comes second finds the work done. Every step runs in one transaction.

    Raises
    ------
    MigrationError
        When the database was written by a newer version of the arena, or holds some of the
        arena's tables but neither all of release 0.1's nor an ``alembic_version``.
    """
    script = ScriptDirectory.from_config(config())
    target = script.get_current_head() if revision == "head" else revision
    with engine.connect() as conn:
        if current_revision(conn) == target:
            return  # the common case: one read, no lock
    with _migrating(engine) as conn:
        current = current_revision(conn)
        if current == target:
            return  # another process upgraded while this one waited for the lock
        if current is None:
            _adopt(conn)
        elif current not in {s.revision for s in script.walk_revisions()}:
            raise MigrationError(
                f"The database {_name(conn)} has schema revision {current}, which this version "
                f"of the arena does not know (its newest is {script.get_current_head()}); "
                "upgrade t2i-arena."
            )
        command.upgrade(config(conn), target)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database back to ``revision`` (for going back to an older release); this
    drops what later revisions added."""
    with _migrating(engine) as conn:
        command.downgrade(config(conn), revision)


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """The one transaction a migration runs in, with other processes' migrations kept out."""
    with _IN_PROCESS, engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # SQLite runs most ALTERs (batch mode) by copying the table and dropping the old
            # one; with foreign keys on, that DROP first deletes every row that references the
            # table (ON DELETE CASCADE: a rater's trials and votes). The pragma is a no-op
            # inside a transaction, so it is set on the driver's connection before BEGIN.
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.execution_options(**{IMMEDIATE: True}).begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
                yield conn
                if sqlite and (bad := conn.exec_driver_sql("PRAGMA foreign_key_check").first()):
                    raise MigrationError(
                        f"Migrating {_name(conn)} would leave a row of '{bad[0]}' referencing "
                        f"a missing row of '{bad[2]}'; nothing was changed."
                    )
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def _name(conn: Connection) -> str:
    return conn.engine.url.render_as_string(hide_password=True)


def _adopt(conn: Connection) -> None:
    """Stamp a database that release 0.1 created (no ``alembic_version`` yet) at ``0001``."""
    have = RELEASE_0_1_TABLES & set(inspect(conn).get_table_names())
    if have == RELEASE_0_1_TABLES:
        command.stamp(config(conn), RELEASE_0_1)
    elif have:
        missing = ", ".join(sorted(RELEASE_0_1_TABLES - have))
        raise MigrationError(
            f"The database {_name(conn)} has some of the arena's tables but not {missing}, "
            "and no alembic_version: it was not made by a release of t2i-arena; use an empty "
            "database."
        )
