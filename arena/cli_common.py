"""What the ``arena`` commands share: the study and database options, opening a study and
its database with one-sentence errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from arena.study import Study, load_study

__all__ = [
    "database_option",
    "stored_display_names",
    "database_source",
    "open_store",
    "open_study",
    "opened_study",
    "require_sqlite_file",
    "study_option",
]

study_option = click.option(
    "--study",
    "study_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The study file (TOML).",
)
database_option = click.option(
    "--database",
    default=None,
    metavar="URL",
    help="SQLAlchemy URL overriding the study's database (e.g. postgresql+psycopg://…).",
)


def open_study(study_path: Path, database: str | None = None) -> Study:
    study = load_study(study_path)
    return replace(study, database_url=database) if database else study


def database_source(study: Study, database: str | None) -> str:
    """Where a study's database URL came from, for the first words of a database error."""
    if database:
        return "--database"
    return f"{study.path}: key 'database'"


def open_store(study: Study, source: str) -> Any:
    """Open the study's database; an unreachable server, an unknown or missing driver or an
    unopenable file is one sentence (arena.store.errors)."""
    from arena.store import Store
    from arena.store.errors import database_errors

    with database_errors(study.database_url, source, opening=True):
        return Store.open(study.database_url)


def require_sqlite_file(url: str) -> None:
    """Refuse a missing SQLite file: opening it would create an empty database and report
    "no votes" about a mistyped path."""
    from arena.store.errors import sqlite_file

    path = sqlite_file(url)
    if path is not None and not path.exists():
        name = str(path)
        raise click.ClickException(
            f"No database at {name}: nothing has been recorded for this study there yet "
            "(`arena serve` creates it), or --database or the study's 'database' key names "
            "another file."
        )


def stored_display_names(study: Study, store: Any) -> dict[str, str]:
    """Display names stored at ingest; for a study ingested before they were stored (schema
    revision 0005), those of today's cards, as earlier versions showed."""
    from arena.ingest import card_display_names

    stored = store.display_names(study.name)
    return card_display_names(study) if stored is None else stored


@contextmanager
def opened_study(study_path: Path, database: str | None) -> Iterator[tuple[Study, Any]]:
    """The study and its open store, for a command that reads its votes: a missing SQLite
    file is refused first, and every database error inside is one sentence."""
    from arena.store.errors import database_errors

    study = open_study(study_path, database)
    source = database_source(study, database)
    require_sqlite_file(study.database_url)
    store = open_store(study, source)
    try:
        with database_errors(study.database_url, source):
            yield study, store
    finally:
        store.close()
