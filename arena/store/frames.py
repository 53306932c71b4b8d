"""Read-only queries that feed :mod:`analysis`: the comparisons frame, model latencies and the
display names stored at ingest."""

from __future__ import annotations

from datetime import timezone

import pandas as pd
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import aliased

from analysis.frame import COLUMNS, OUTCOMES
from arena.choices import CHOICES
from arena.store.schema import (
    ImageRow,
    ModelRow,
    PromptRow,
    RaterRow,
    StudyRow,
    TrialRow,
    VoteRow,
)

__all__ = [
    "COMPARISON_COLUMNS",
    "OUTCOME_OF_CHOICE",
    "comparisons",
    "display_names",
    "latencies",
    "vote_times",
]

#: The Comparisons DataFrame contract of docs/design.md, in order; its consumer, ``analysis``,
#: owns the definition (arena may import analysis, never the reverse).
COMPARISON_COLUMNS = COLUMNS
#: Stored choice -> outcome (``left`` -> ``a``, ``right`` -> ``b``, ``tie`` and ``both_bad``
#: keep their names): model a is always the left image's model. arena.choices lists the
#: choices in the order of analysis.frame.OUTCOMES.
OUTCOME_OF_CHOICE: dict[str, str] = dict(zip(CHOICES, OUTCOMES, strict=True))


#: Beyond the contract's columns, the optional ones analysis.frame documents: ``trial`` (trial
#: id), ``repeat_of`` (a repeat trial's original, NaN elsewhere) and ``expected`` (a gold
#: trial's answer as an outcome, ``a`` or ``b``; None elsewhere) and ``pair_probability``
#: (the probability with which the scheduler chose the trial's model pair; NaN on repeat and
#: gold rows and on trials issued before revision 0006).
_EXTRA = ("trial", "repeat_of", "expected", "pair_probability")
_DTYPES = {
    "decision_ms": "float64",
    "seed": "int64",
    "trial": "int64",
    "repeat_of": "float64",
    "pair_probability": "float64",
}


def _empty() -> pd.DataFrame:
    columns = [*COMPARISON_COLUMNS, *_EXTRA]
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns}).astype(_DTYPES)


def comparisons(conn: Connection, study_name: str) -> pd.DataFrame:
    """One row per vote of the study, oldest first; an empty frame when there are none.

    Columns: ``model_a``, ``model_b`` (a = the left image's model), ``outcome`` (``a``, ``b``,
    ``tie``, ``both_bad``), ``rater``, ``prompt`` (prompt id), ``category``, ``question``,
    ``kind``, ``decision_ms``, ``seed``; then ``trial`` (the trial id), ``repeat_of`` (a
    repeat trial's original, NaN elsewhere), ``expected`` (a gold trial's answer) and
    ``pair_probability`` (the probability its model pair was chosen with, NaN where unknown).
    """
    left, right = aliased(ImageRow), aliased(ImageRow)
    model_a, model_b = aliased(ModelRow), aliased(ModelRow)
    rows = conn.execute(
        select(
            model_a.name,
            model_b.name,
            VoteRow.choice,
            RaterRow.external_id,
            PromptRow.key,
            PromptRow.category,
            TrialRow.question,
            TrialRow.kind,
            VoteRow.decision_ms,
            left.seed,
            TrialRow.id,
            TrialRow.repeat_of,
            TrialRow.expected,
            TrialRow.pair_probability,
        )
        .select_from(VoteRow)
        .join(TrialRow, TrialRow.id == VoteRow.trial_id)
        .join(StudyRow, StudyRow.id == TrialRow.study_id)
        .join(RaterRow, RaterRow.id == TrialRow.rater_id)
        .join(PromptRow, PromptRow.id == TrialRow.prompt_id)
        .join(left, left.id == TrialRow.left_image_id)
        .join(right, right.id == TrialRow.right_image_id)
        .join(model_a, model_a.id == left.model_id)
        .join(model_b, model_b.id == right.model_id)
        .where(StudyRow.name == study_name)
        .order_by(VoteRow.id)
    ).all()
    if not rows:
        return _empty()
    frame = pd.DataFrame(rows, columns=[*COMPARISON_COLUMNS, *_EXTRA])
    frame["outcome"] = frame["outcome"].map(OUTCOME_OF_CHOICE)
    # left -> a, right -> b; None stays
    frame["expected"] = frame["expected"].map(OUTCOME_OF_CHOICE)
    return frame.astype(_DTYPES)


def latencies(conn: Connection, study_name: str) -> dict[str, float]:
    """Latency per model over the study's images: the mean warm single-image latency
    (``params.latency.warm_single_ms``) where generation recorded one, else the mean batch
    time per image (``latency_ms``; all that image sets from before, or from elsewhere, hold)."""
    warm = ImageRow.params[("latency", "warm_single_ms")].as_float()
    rows = conn.execute(
        select(ModelRow.name, func.avg(warm), func.avg(ImageRow.latency_ms))
        .join(ImageRow, ImageRow.model_id == ModelRow.id)
        .join(StudyRow, StudyRow.id == ImageRow.study_id)
        .where(StudyRow.name == study_name)
        .group_by(ModelRow.name)
        .order_by(ModelRow.name)
    ).all()
    return {
        name: float(single if single is not None else batch)
        for name, single, batch in rows
        if single is not None or batch is not None
    }


def display_names(conn: Connection, study_name: str) -> dict[str, str] | None:
    """Display name per model as the cards said when the study was last ingested.

    None when the study was ingested before names were stored (revision 0005) or is not in the
    database: the caller then has nothing better than today's cards.
    """
    stored = conn.scalar(select(StudyRow.display_names).where(StudyRow.name == study_name))
    return None if stored is None else {str(k): str(v) for k, v in stored.items()}


def vote_times(conn: Connection, study_name: str) -> list[float]:
    """When each rated vote of the study was stored (POSIX seconds, oldest first): the vote
    rate ``arena plan`` extrapolates."""
    rows = conn.execute(
        select(VoteRow.created_at)
        .join(TrialRow, TrialRow.id == VoteRow.trial_id)
        .join(StudyRow, StudyRow.id == TrialRow.study_id)
        .where(StudyRow.name == study_name, TrialRow.kind == "2afc")
        .order_by(VoteRow.id)
    ).all()
    # SQLite hands back naive datetimes of what was stored in UTC.
    return [(t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp() for (t,) in rows]
