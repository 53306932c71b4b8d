"""The ``arena`` command: one group, every command and setting documented in docs/cli.md.

Heavy imports (torch through ``models.generate``, gradio through ``arena.serve``, the analysis
stack) happen inside the commands that need them, so ``arena --help`` and ``arena report`` start
quickly and serving works without the ``generate`` extra.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from arena.cli_common import database_option, database_source, open_store, open_study, study_option
from arena.cli_engine import engine_options
from arena.cli_plan import plan
from arena.cli_report import export, report
from arena.plain_errors import DEBUG_ENV, plain_errors
from arena.prompts import load_prompts
from arena.study import Study, load_study

__all__ = ["main", "cli"]


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
    store = open_store(study, source)
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
    study = open_study(study_path, database)
    _serve(study, host, port, database_source(study, database))


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


for _command in (report, export, plan):
    cli.add_command(_command)


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
