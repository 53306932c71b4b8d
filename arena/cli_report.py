"""``arena report`` and ``arena export``: the votes of a study or a comparisons file, analysed
or written out (registered on the group in arena.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import click

from analysis.modes import BOOTSTRAP_UNITS, DEFAULT_TIE_MODE, RATER, TIE_MODES
from arena.cli_common import database_option, opened_study, stored_display_names, study_option
from arena.plain_errors import plain_errors
from arena.study import load_study

__all__ = ["export", "report"]


class _Votes(NamedTuple):
    """What ``report`` and ``export`` analyse: the comparisons and what goes with them."""

    frame: Any  # pandas.DataFrame (pandas is imported by the commands, not at start-up)
    title: str
    latency: dict[str, float] | None
    names: dict[str, str]
    live_votes: int = 0  # the live arena's votes, never part of the analysis


def _comparisons(study_path: Path | None, comparisons: Path | None, database: str | None) -> _Votes:
    """The votes of a study's database or of a comparisons file (arena.comparisons_io)."""
    from arena.comparisons_io import display_names, read_comparisons

    if (study_path is None) == (comparisons is None):
        raise click.UsageError("Give exactly one of --study or --comparisons.")
    if comparisons is not None:
        df = read_comparisons(comparisons)
        return _Votes(df, comparisons.stem, None, display_names(df, comparisons))
    from arena.store import LiveStore

    with opened_study(study_path, database) as (study, store):
        return _Votes(
            store.comparisons(study.name),
            study.title,
            store.latencies(study.name),
            stored_display_names(study, store),
            LiveStore(store).count_votes(study.name),
        )


@click.command()
@click.option(
    "--study",
    "study_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Analyse this study's database.",
)
@click.option(
    "--comparisons",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Analyse a comparisons file (.csv, .jsonl/.ndjson or .parquet; docs/design.md's "
    "columns) instead.",
)
@database_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for report.html and the CSV files (default: <study folder>/report).",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap.")
@click.option(
    "--bootstrap", "n_boot", default=1000, show_default=True, help="Bootstrap replicates."
)
@click.option(
    "--elo-orders",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Shuffled orders of the SDXL Turbo online Elo (0 skips it; fewer when votes × orders "
    "exceed 60,000,000 updates, and the report says how many).",
)
@click.option(
    "--ties",
    type=click.Choice(TIE_MODES),
    default=DEFAULT_TIE_MODE,
    show_default=True,
    help="How ties enter the Bradley–Terry fit.",
)
@click.option(
    "--cluster",
    type=click.Choice(BOOTSTRAP_UNITS),
    default=RATER,
    show_default=True,
    help="What counts as independent: the bootstrap's resampling unit and the win rates' "
    "cluster unit (rater+prompt: two-way).",
)
@click.option(
    "--small-sample/--no-small-sample",
    default=True,
    show_default=True,
    help="Few-cluster corrections (Student t with G-1 degrees of freedom) on every interval.",
)
@click.option("--json", "as_json", is_flag=True, help="Print every figure as one JSON object.")
@click.option(
    "--live",
    is_flag=True,
    help="Report the live arena's votes (raters' own prompts) in their own section instead; "
    "they never enter the controlled analysis.",
)
@plain_errors
def report(
    study_path: Path | None,
    comparisons: Path | None,
    database: str | None,
    out: Path | None,
    seed: int,
    n_boot: int,
    ties: str,
    cluster: str,
    small_sample: bool,
    as_json: bool,
    elo_orders: int,
    live: bool,
) -> None:
    """Rate the models from the votes; write report.html and CSV files."""
    if live:
        from arena.cli_live import report_live

        return report_live(study_path, database, out)
    df, title, latency, names, live_votes = _comparisons(study_path, comparisons, database)
    from analysis.report import QualityRules, analyze, write_report

    if len(df) == 0:
        raise click.ClickException("There are no votes yet; nothing to report.")
    study = load_study(study_path) if study_path else None
    result = analyze(
        df,
        seed=seed,
        n_boot=n_boot,
        tie_mode=ties,
        cluster=cluster,
        latency_ms=latency,
        display_names=names,
        rules=QualityRules(**study.quality) if study else None,
        claims=(study.comparisons or None) if study else None,
        reference_model=study.reference if study else None,
        elo_orders=elo_orders,
        small_sample=small_sample,
    )
    if out is None:
        out = (study_path.resolve().parent if study_path else Path.cwd()) / "report"
    files = write_report(result, out, title=title)
    if as_json:
        click.echo(files.json.read_text(encoding="utf-8"))  # computed once, written by the report
        return
    from analysis.present.text import leaderboard_text, quality_text

    click.echo(result.comparisons_text())
    click.echo()
    for question in result.questions:
        click.echo(leaderboard_text(result, question))
        click.echo()
    click.echo(quality_text(result))
    click.echo(f"Online Elo, SDXL Turbo variant: {result.settings['elo_sdxl_turbo']}.")
    click.echo(f"Report: {files.html}")
    if live_votes:
        click.echo(
            f"Live arena: {live_votes} votes on raters' own prompts are not part of this "
            "analysis; arena report --live reports them."
        )


@click.command()
@study_option
@database_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Output file: .csv, .jsonl/.ndjson or .parquet.",
)
@click.option(
    "--live",
    is_flag=True,
    help="Export the live arena's votes (prompt, models, outcome, images, latencies) instead.",
)
@plain_errors
def export(study_path: Path, database: str | None, out: Path, live: bool) -> None:
    """Write the study's votes as a comparisons file (one row per vote)."""
    from arena.comparisons_io import check_suffix, with_display_names, write_comparisons

    if live:
        from arena.cli_live import export_live

        return export_live(study_path, database, out)
    check_suffix(out)  # refuse an unsupported file before reading the database
    votes = _comparisons(study_path, None, database)
    write_comparisons(with_display_names(votes.frame, votes.names), out)
    click.echo(f"{len(votes.frame)} votes written to {out}")
