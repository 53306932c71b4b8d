"""The ``arena`` command: one group, every command and setting documented in docs/cli.md.

Heavy imports (torch through ``models.generate``, gradio through ``arena.serve``, the analysis
stack) happen inside the commands that need them, so ``arena --help`` and ``arena report`` start
quickly and serving works without the ``generate`` extra.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import click

from analysis.modes import BOOTSTRAP_UNITS, DEFAULT_TIE_MODE, RATER, TIE_MODES
from arena.cli_engine import engine_options
from arena.plain_errors import DEBUG_ENV, plain_errors
from arena.prompts import load_prompts
from arena.study import Study, load_study

__all__ = ["main", "cli"]

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


def _open_study(study_path: Path, database: str | None = None) -> Study:
    study = load_study(study_path)
    return replace(study, database_url=database) if database else study


def _database_source(study: Study, database: str | None) -> str:
    """Where a study's database URL came from, for the first words of a database error."""
    if database:
        return "--database"
    return f"{study.path}: key 'database'"


def _open_store(study: Study, source: str) -> Any:
    """Open the study's database; an unreachable server, an unknown or missing driver or an
    unopenable file is one sentence (arena.store.errors)."""
    from arena.store import Store
    from arena.store.errors import database_errors

    with database_errors(study.database_url, source, opening=True):
        return Store.open(study.database_url)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="t2i-arena")
def cli() -> None:
    """t2i-arena: human preference studies (2AFC) for text-to-image models."""


# ----------------------------------------------------------------------------- models
@cli.group()
def models() -> None:
    """List and validate model cards."""


cards_option = click.option(
    "--cards",
    "cards_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of model cards (default: the shipped models/cards).",
)


@models.command("list")
@cards_option
@plain_errors
def models_list(cards_dir: Path | None) -> None:
    """List the model cards: id, backend, steps, size and display name."""
    from models.cards import load_cards

    cards = load_cards(cards_dir)
    width = max(len(i) for i in cards) if cards else 2
    click.echo(f"{'id':<{width}}  {'backend':<12} {'steps':>5}  {'size':>9}  display name")
    for card_id, card in sorted(cards.items()):
        size = f"{card.width}x{card.height}" if card.width else "-"
        steps = card.steps if card.steps is not None else "-"
        click.echo(
            f"{card_id:<{width}}  {card.backend:<12} {steps!s:>5}  {size:>9}  {card.display_name}"
        )


@models.command("validate")
@cards_option
@plain_errors
def models_validate(cards_dir: Path | None) -> None:
    """Check every model card; print the first problem as one sentence."""
    from models.cards import load_cards

    cards = load_cards(cards_dir)
    try:
        from models.scheduler_check import check_scheduler_keys
    except ImportError:  # the light install: no diffusers to check [scheduler] keys against
        click.echo(
            f"{len(cards)} model cards are valid ([scheduler] keys not checked: no diffusers)."
        )
        return
    unchecked = [c.id for c in cards.values() if not check_scheduler_keys(c)]
    note = f" ([scheduler] keys not checked, class unknown offline: {', '.join(unchecked)})"
    click.echo(f"{len(cards)} model cards are valid.{note if unchecked else ''}")


# ----------------------------------------------------------------------------- generate
def _generate(
    study: Study,
    device: str | None,
    batch_size: int,
    progress: bool = True,
    dtype: str | None = None,
    engine: dict | None = None,
) -> None:
    from models.cards import load_cards
    from models.generate import generate_image_set

    cards = load_cards(study.cards_dir)
    missing = [m for m in study.models if m not in cards]
    if missing:
        raise click.ClickException(
            f"{study.path}: models {missing} have no card in {study.cards_dir}; "
            f"known cards: {', '.join(sorted(cards))}."
        )
    prompts = load_prompts(study.prompts_file, study.categories, study.prompt_limit)
    summary = generate_image_set(
        [cards[m] for m in study.models],
        [(p.id, p.text) for p in prompts],
        study.seeds,
        study.image_dir,
        device=device,
        batch_size=batch_size,
        progress=progress,
        dtype=dtype,
        engine=engine,
    )
    click.echo(
        f"{summary.generated} images generated, {summary.skipped} already present, "
        f"manifest: {summary.manifest_path}"
    )


@cli.command()
@study_option
@click.option("--device", default=None, help="torch device (default: cuda, then mps, then cpu).")
@click.option("--batch-size", default=4, show_default=True, help="Images per pipeline call.")
@engine_options
@plain_errors
def generate(
    study_path: Path, device: str | None, batch_size: int, dtype: str | None, **engine
) -> None:
    """Generate every (prompt, model, seed) image of a study; resumable.

    Under `accelerate launch` each process draws its own share of the images."""
    _generate(load_study(study_path), device, batch_size, dtype=dtype, engine=engine)


# ----------------------------------------------------------------------------- serve
def _ingest(study: Study, source: str):
    from arena.ingest import ingest
    from arena.store.errors import database_errors

    prompts = load_prompts(study.prompts_file, study.categories, study.prompt_limit)
    store = _open_store(study, source)
    # A read-only SQLite file opens (and even migrates, when up to date) and fails at the first
    # write, here.
    with database_errors(study.database_url, source):
        summary = ingest(store, study, prompts)
    click.echo(f"Study '{study.name}': {summary}")
    return store


def _serve(study: Study, host: str, port: int, source: str) -> None:
    store = _ingest(study, source)  # before the server's imports: a bad file is said at once
    from arena.admin import admin_password
    from arena.serve import serve

    password = admin_password()
    click.echo(f"Arena for '{study.name}' at http://{host}:{port}/  (Ctrl+C stops it)")
    if password:
        click.echo(f"Progress page: http://{host}:{port}/admin (user 'admin')")
    serve(study, store, host=host, port=port, admin_password=password)


host_option = click.option("--host", default="127.0.0.1", show_default=True, help="Interface.")
port_option = click.option(
    "--port",
    default=7860,
    type=click.IntRange(1, 65535),
    envvar="ARENA_PORT",
    show_envvar=True,
    show_default=True,
    help="TCP port.",
)


def _check_port(host: str, port: int) -> None:
    """Refuse a port another program listens on before any work starts (generation can take a
    while, and uvicorn would report it only after the "Arena … at" line)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As uvicorn binds: a port left in TIME_WAIT by the last run is free, a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(
                f"Port {port} on {host} is in use ({exc.strerror or exc}); stop the program "
                f"using it or choose another port with --port or ARENA_PORT."
            ) from None


@cli.command()
@study_option
@database_option
@host_option
@port_option
@plain_errors
def serve(study_path: Path, database: str | None, host: str, port: int) -> None:
    """Check the image set, load it into the database and serve the arena."""
    _check_port(host, port)
    study = _open_study(study_path, database)
    _serve(study, host, port, _database_source(study, database))


# ----------------------------------------------------------------------------- report / export
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
    from arena.store.errors import database_errors

    study = _open_study(study_path, database)
    source = _database_source(study, database)
    _require_sqlite_file(study.database_url)
    store = _open_store(study, source)
    try:
        with database_errors(study.database_url, source):
            from arena.store import LiveStore

            return _Votes(
                store.comparisons(study.name),
                study.title,
                store.latencies(study.name),
                _display_names(study, store),
                LiveStore(store).count_votes(study.name),
            )
    finally:
        store.close()


def _require_sqlite_file(url: str) -> None:
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


def _display_names(study: Study, store: Any) -> dict[str, str]:
    """Display names stored at ingest; for a study ingested before they were stored (schema
    revision 0005), those of today's cards, as earlier versions showed."""
    from arena.ingest import card_display_names

    stored = store.display_names(study.name)
    return card_display_names(study) if stored is None else stored


@cli.command()
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


@cli.command()
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


# ----------------------------------------------------------------------------- demo
@cli.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the demo's images and database go (default: the demo study's folder).",
)
@host_option
@port_option
@plain_errors
def demo(workdir: Path | None, host: str, port: int) -> None:
    """Generate the embedded demo study offline and serve it."""
    from arena.demo import demo_study

    _check_port(host, port)
    study = demo_study(workdir)
    n_prompts = len(load_prompts(study.prompts_file, study.categories, study.prompt_limit))
    n_images = len(study.models) * n_prompts * len(study.seeds)
    click.echo(
        f"The demo: {n_images} images ({len(study.models)} toy models x {n_prompts} prompts x "
        f"{len(study.seeds)} seeds), drawn offline into {study.image_dir} on the first run "
        f"(about 30 s on two CPU cores), then served at http://{host}:{port}/"
    )
    _generate(study, device=None, batch_size=8)
    _serve(study, host, port, f"the demo's database in {study.folder}")


from arena.cli_plan import plan  # noqa: E402  (registered on the group defined above)

cli.add_command(plan)


#: Commands that hold nothing open once they have written their output: the console script
#: ends them without the interpreter's teardown, which frees a million-vote analysis object by
#: object (0.45 s of ``arena report`` at a million votes, benchmarks/analysis_speed.py).
_ONE_SHOT = frozenset({"report", "export"})


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``arena`` console script."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        cli.main(args=args, prog_name="arena")
    except SystemExit as exc:
        if args and args[0] in _ONE_SHOT and not os.environ.get(DEBUG_ENV):
            _hard_exit(exc.code)
        raise


def _hard_exit(code: object) -> None:
    """Flush what the command wrote and end the process at once (as mypy's ``hard_exit``)."""
    import logging

    status = code if isinstance(code, int) else (0 if code is None else 1)
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
