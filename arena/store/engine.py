"""Engine creation: any SQLAlchemy URL, with SQLite tuned for many short concurrent writes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

__all__ = ["make_engine", "insert_ignoring_conflicts", "BUSY_TIMEOUT_MS", "IMMEDIATE"]

#: How long an SQLite writer waits for the lock before failing; votes are a few ms each.
BUSY_TIMEOUT_MS = 10_000
#: Execution option asking for ``BEGIN IMMEDIATE`` on SQLite (write transactions).
IMMEDIATE = "arena_immediate"


def make_engine(url: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    """Create an engine for ``url``.

    On SQLite every connection gets WAL journaling, ``foreign_keys=ON`` and a busy timeout of
    ``busy_timeout_ms``.
    The driver's own implicit transactions are switched off and replaced by explicit ``BEGIN``
    statements: a write transaction that first reads (the vote check, the scheduler's counts)
    must start with ``BEGIN IMMEDIATE``, or in WAL mode it can fail with SQLITE_BUSY at its first
    write without waiting for the busy timeout.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)

    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    memory = parsed.database in (None, "", ":memory:")
    if memory:
        # One shared connection, or every thread would see its own empty database.
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        try:
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
                # With WAL, NORMAL is durable against application crashes and much cheaper.
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def insert_ignoring_conflicts(dialect: str, table: Any) -> Any | None:
    """``INSERT ... ON CONFLICT DO NOTHING`` into ``table`` on PostgreSQL and SQLite, else None.

    Where two processes insert the same unique key at once (two servers starting, a double
    load of a rater's page), PostgreSQL makes the second wait for the first's commit and then
    skips the row, where a check followed by a plain insert would fail on the constraint.
    """
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    return None
