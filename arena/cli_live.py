"""``arena report --live`` and ``arena export --live``: the live arena's votes (arena.live),
read apart from the controlled study's and never mixed into its analysis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from arena.cli_common import opened_study, stored_display_names

__all__ = ["export_live", "report_live"]


def _live_votes(study_path: Path | None, database: str | None) -> tuple[Any, dict[str, str]]:
    """The live arena's votes of a study (arena.live), apart from its controlled votes."""
    from arena.store import LiveStore

    if study_path is None:
        raise click.UsageError("--live needs --study: live votes are only in a study's database.")
    with opened_study(study_path, database) as (study, store):
        return LiveStore(store).frame(study.name), stored_display_names(study, store)


def report_live(study_path: Path | None, database: str | None, out: Path | None) -> None:
    """Print the live section and write its table to ``<out>/live.csv``."""
    from arena.live.summary import live_table, live_text

    frame, names = _live_votes(study_path, database)
    out = out or study_path.resolve().parent / "report"
    out.mkdir(parents=True, exist_ok=True)
    live_table(frame).to_csv(out / "live.csv", index=False)
    click.echo(live_text(frame, names))
    click.echo(f"Live table: {out / 'live.csv'}")


def export_live(study_path: Path, database: str | None, out: Path) -> None:
    """Write one row per live vote (arena.store.LIVE_COLUMNS) to ``out``."""
    from arena.comparisons_io import check_suffix
    from arena.live.summary import write_live

    check_suffix(out)  # the same formats as the comparisons file, refused the same way
    frame, _ = _live_votes(study_path, database)
    write_live(frame, out)
    click.echo(f"{len(frame)} live votes written to {out}")
