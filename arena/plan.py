"""``arena plan --study``: the votes a study needs for its targets, and for a running study the
time left at its current vote rate."""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from arena.study import Study

__all__ = ["StudyPlan", "describe", "plan_study", "study_plan_lines"]

#: The window the current vote rate is measured over (seconds).
RATE_WINDOW_S = 3600.0


@dataclass(frozen=True)
class StudyPlan:
    """What ``arena plan --study`` prints."""

    targets: list[tuple[str, str]]  # the compared pairs
    pairs: int  # pairs the balanced rule serves
    per_pair: int  # votes each target pair needs
    total: int  # rated votes the balanced rule needs for that
    design_effect: float
    measured: bool  # design effect measured on the study's votes
    have: int  # rated votes so far
    rate_per_hour: float | None  # over the last hour of votes (None: no votes)
    rate_over_s: float  # the span the rate was measured over (at most an hour)
    goal: str  # the target, in words


def plan_study(
    study: Study,
    comparisons: pd.DataFrame | None,
    vote_times: list[float],
    *,
    win_rate: float,
    alpha: float,
    power: float,
    half_width: float | None,
    design_effect: float | None,
    now: float | None = None,
) -> StudyPlan:
    """Votes for the study's declared comparisons (default: its reference against each other
    model), over the questions; alpha is split over them (Bonferroni, a bound for Holm).

    ``design_effect`` None: measured on the study's votes (1 before there are any).
    """
    from analysis.planning import votes_needed
    from analysis.study_plan import measured_design_effect, votes_for_half_width

    if study.comparisons:
        targets = [(c.model_a, c.model_b) for c in study.comparisons]
    else:
        targets = [(study.reference, m) for m in study.models if m != study.reference]
    tests = len(targets) * len(study.questions)
    measured = design_effect is None
    if measured:
        design_effect = 1.0
        if comparisons is not None and len(comparisons):
            design_effect = measured_design_effect(comparisons)[0]
    if half_width is None:
        per_pair = votes_needed(win_rate, alpha=alpha / tests, power=power,
                                design_effect=design_effect)  # fmt: skip
        goal = (f"a win rate of {win_rate:.0%} against 50% (two-sided alpha {alpha} over "
                f"{tests} test(s), power {power:.0%})")  # fmt: skip
    else:
        per_pair = votes_for_half_width(half_width, win_rate, alpha=alpha / tests,
                                        design_effect=design_effect)  # fmt: skip
        goal = (f"a {1 - alpha:.0%} interval of +/- {half_width:g} Elo points on each compared "
                f"difference at a {win_rate:.0%} win rate ({tests} interval(s), Bonferroni)")  # fmt: skip
    pairs = len(list(combinations(study.models, 2)))
    per_question = per_pair * len(study.questions)
    rate, span = None, 0.0
    if vote_times:
        now = time.time() if now is None else now
        recent = [t for t in vote_times if t >= now - RATE_WINDOW_S]
        span = min(RATE_WINDOW_S, max(now - vote_times[0], 1.0))
        rate = len(recent) / span * 3600.0
    return StudyPlan(
        targets=targets,
        pairs=pairs,
        per_pair=per_pair,
        total=per_question * pairs,
        design_effect=float(design_effect),
        measured=measured,
        have=len(vote_times),
        rate_per_hour=rate,
        rate_over_s=span,
        goal=goal,
    )


def describe(plan: StudyPlan, study: Study) -> list[str]:
    """The lines ``arena plan --study`` prints."""
    deff = f"design effect {plan.design_effect:.2f}" + (
        " (measured on the votes so far)" if plan.measured and plan.have else
        " (no votes yet: 1)" if plan.measured else ""
    )  # fmt: skip
    shown = ", ".join(f"{a} vs {b}" for a, b in plan.targets)
    lines = [
        f"{study.name}: {plan.per_pair} votes per compared pair and question for {plan.goal}; "
        f"{deff}.",
        f"Compared: {shown}.",
        f"The balanced rule serves all {plan.pairs} pairs evenly: {plan.total} rated votes in all "
        f"({len(study.questions)} question(s)); the adaptive rule aims its votes at the compared "
        "pairs (docs/benchmarks.md: 16-19% fewer than uniform for one model against seven).",
    ]
    if plan.have:
        left = max(0, plan.total - plan.have)
        if not left:
            lines.append(f"{plan.have} rated votes so far: the target count is reached.")
        elif plan.rate_per_hour:
            hours = left / plan.rate_per_hour
            over = (
                f"{plan.rate_over_s / 60:.0f} min" if plan.rate_over_s >= 60 else "under a minute"
            )
            lines.append(
                f"{plan.have} rated votes so far, {plan.rate_per_hour:.0f} per hour (measured over "
                f"the last {over}): {left} to go, about {hours:.1f} h at that rate."
            )
        else:
            lines.append(f"{plan.have} rated votes so far, none in the last hour: {left} to go.")
    return lines


def study_plan_lines(study: Study, **targets: float | None) -> list[str]:
    """What ``arena plan --study`` prints: :func:`plan_study` on the study's votes (read only
    when its database exists: a study that has not run yet is planned from its file)."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from arena.store import Store

    frame, times = None, []
    parsed = make_url(study.database_url)
    if parsed.get_backend_name() != "sqlite" or Path(parsed.database or "").exists():
        store = Store.open(study.database_url)
        try:
            frame, times = store.comparisons(study.name), store.vote_times(study.name)
        finally:
            store.close()
    return describe(plan_study(study, frame, times, **targets), study)
