"""Alembic's environment for the arena schema, run by :mod:`arena.store.migrate`.

The caller hands over an open connection already inside its transaction
(``config.attributes["connection"]``): alembic then leaves committing to the caller, so a
stamp and the upgrades after it commit together or not at all, on SQLite too (whose engine
issues its own ``BEGIN``, see :mod:`arena.store.engine`).
"""

from __future__ import annotations

from alembic import context

from arena.store.schema import Base


def run() -> None:
    """Run the migrations alembic asks for on the caller's connection."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "arena's migrations run on a connection: use arena.store.migrate.config(connection)"
        )
    # Batch mode lets column changes run on SQLite, which recreates the table for most ALTERs.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


# Alembic executes this file; merely importing it (the import-rule tests do) must do nothing.
if getattr(context, "_proxy", None) is not None:
    run()
