"""Statements of the hot path, built once (they are immutable) and run with bound parameters.

Building a SQLAlchemy statement costs more than running a cached one on SQLite, so the
per-vote statements live here instead of being rebuilt on every request.
"""

from __future__ import annotations

from sqlalchemy import bindparam, case, func, insert, select
from sqlalchemy.orm import aliased

from arena.store.schema import ImageRow, RaterRow, TrialRow, VoteRow

__all__ = [
    "CELL_COUNTS",
    "FIND_TRIAL",
    "INSERT_TRIAL",
    "INSERT_VOTE",
    "RATER",
    "RATER_PROGRESS",
    "TRIAL",
]

#: (raters.id, source) of a rater of a study.
RATER = select(RaterRow.id, RaterRow.source).where(
    RaterRow.study_id == bindparam("sid"), RaterRow.external_id == bindparam("rater")
)

#: (answered, id of the oldest unanswered trial or NULL) for one rater.
RATER_PROGRESS = (
    select(func.count(VoteRow.id), func.min(case((VoteRow.id.is_(None), TrialRow.id))))
    .select_from(TrialRow)
    .outerjoin(VoteRow, VoteRow.trial_id == TrialRow.id)
    .where(TrialRow.rater_id == bindparam("rater_pk"))
)

_left, _right = aliased(ImageRow, name="li"), aliased(ImageRow, name="ri")
# The pair is unordered: fold (a, b) and (b, a) together in SQL, halving the rows returned.
_lo = case((_left.model_id < _right.model_id, _left.model_id), else_=_right.model_id)
_hi = case((_left.model_id < _right.model_id, _right.model_id), else_=_left.model_id)

#: Trials per (prompt, lower model id, higher model id, question, seed) of a study, all raters
#: and this rater's: everything the scheduler needs, in one query.
CELL_COUNTS = (
    select(
        TrialRow.prompt_id,
        _lo,
        _hi,
        TrialRow.question,
        _left.seed,
        func.count(TrialRow.id),
        func.sum(case((TrialRow.rater_id == bindparam("rater_pk"), 1), else_=0)),
    )
    .join(_left, _left.id == TrialRow.left_image_id)
    .join(_right, _right.id == TrialRow.right_image_id)
    .where(TrialRow.study_id == bindparam("sid"))
    .group_by(TrialRow.prompt_id, _lo, _hi, TrialRow.question, _left.seed)
)

#: What the page needs of one trial.
TRIAL = select(
    TrialRow.token,
    TrialRow.prompt_id,
    TrialRow.question,
    TrialRow.left_image_id,
    TrialRow.right_image_id,
).where(TrialRow.id == bindparam("trial_id"))

#: (trial id, owner's rater id, vote choice or NULL, vote decision_ms or NULL) of a token.
FIND_TRIAL = (
    select(TrialRow.id, RaterRow.external_id, VoteRow.choice, VoteRow.decision_ms)
    .join(RaterRow, RaterRow.id == TrialRow.rater_id)
    .outerjoin(VoteRow, VoteRow.trial_id == TrialRow.id)
    .where(TrialRow.token == bindparam("token"), TrialRow.study_id == bindparam("sid"))
)

INSERT_TRIAL = insert(TrialRow).returning(TrialRow.id)
INSERT_VOTE = insert(VoteRow)
