"""``arena plan``: how many votes a pair, or a study's compared pairs, needs.

Split from :mod:`arena.cli` (which registers it on the ``arena`` group); the study's side of the
planning is :mod:`arena.plan`.
"""

from __future__ import annotations

import math
from pathlib import Path

import click

from arena.plain_errors import plain_errors

#: A share strictly between 0 and 1. Click names the option in its error (``--pairs 0`` used to
#: reach a division by zero, ``--pairs -1`` was reported as a negative alpha).
_OPEN_UNIT = click.FloatRange(0.0, 1.0, min_open=True, max_open=True)


def _finite(_ctx: click.Context, _param: click.Parameter, value: float) -> float:
    # Click's ranges let NaN through (every comparison with it is false).
    if not math.isfinite(value):
        raise click.BadParameter(f"expected a finite number, got {value}.")
    return value


def _finite_or_none(
    ctx: click.Context, param: click.Parameter, value: float | None
) -> float | None:
    return None if value is None else _finite(ctx, param, value)


def _win_rate(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if _finite(ctx, param, value) == 0.5:
        raise click.BadParameter(
            "expected a win rate other than 0.5 (50% is what it is tested against), got 0.5."
        )
    return value


@click.command()
@click.option(
    "--win-rate",
    type=_OPEN_UNIT,
    default=0.6,
    show_default=True,
    callback=_win_rate,
    help="True win rate to detect, in (0, 1) and not 0.5.",
)
@click.option(
    "--alpha",
    type=_OPEN_UNIT,
    default=0.05,
    show_default=True,
    callback=_finite,
    help="Two-sided significance level, in (0, 1).",
)
@click.option(
    "--power",
    type=_OPEN_UNIT,
    default=0.8,
    show_default=True,
    callback=_finite,
    help="Wanted power, in (0, 1).",
)
@click.option(
    "--pairs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Model pairs tested (Holm/Bonferroni); at least 1.",
)
@click.option(
    "--design-effect",
    type=click.FloatRange(min=1.0),
    default=None,
    callback=_finite_or_none,
    help="Variance inflation from votes clustered by rater (at least 1; default 1, and with "
    "--study measured on its votes).",
)
@click.option("--study", "study_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Plan this study: its compared pairs, and while it runs the time left.")  # fmt: skip
@click.option("--database", default=None, help="SQLAlchemy URL overriding the study's database.")
@click.option("--half-width", type=click.FloatRange(min=0.0, min_open=True), default=None,
              help="With --study: target interval half-width in Elo points.")  # fmt: skip
@plain_errors
def plan(win_rate: float, alpha: float, power: float, pairs: int, design_effect: float | None,
         study_path: Path | None, database: str | None, half_width: float | None) -> None:  # fmt: skip
    """How many votes a pair (or a study's compared pairs) needs."""
    from analysis.planning import votes_needed

    if study_path is not None:
        from arena.cli_common import open_study
        from arena.plan import study_plan_lines

        study = open_study(study_path, database)
        for line in study_plan_lines(study, win_rate=win_rate, alpha=alpha, power=power,
                                     half_width=half_width, design_effect=design_effect):  # fmt: skip
            click.echo(line)
        return
    if half_width is not None:
        raise click.UsageError("--half-width needs --study.")
    deff = 1.0 if design_effect is None else design_effect
    n = votes_needed(win_rate, alpha=alpha / pairs, power=power, design_effect=deff)
    click.echo(
        f"{n} votes per pair detect a win rate of {win_rate * 100:.4g}% against 50% "
        f"(two-sided alpha {alpha} over {pairs} pair(s), power {power:.0%}, "
        f"design effect {deff})."
    )
