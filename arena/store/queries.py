"""Statements of the hot path, built once (they are immutable) and run with bound parameters.

Building a SQLAlchemy statement costs more than running a cached one on SQLite, so the
per-vote statements live here instead of being rebuilt on every request. Every one of them
reads a bounded number of rows through an index: the rater's own trials (at most the quota),
one trial by token, or the few least-served cells; none grows with the study's votes
(``tests/arena/test_hot_path.py`` checks the query plans).
"""

from __future__ import annotations

from sqlalchemy import bindparam, case, func, insert, select, true, update
from sqlalchemy.orm import aliased

from arena.store.schema import CellCountRow, ImageRow, RaterRow, TrialRow, VoteRow

__all__ = [
    "BUMP_CELL",
    "FIND_TRIAL",
    "IMAGES_STAMP",
    "INSERT_TRIAL",
    "INSERT_VOTE",
    "LEAST_SERVED",
    "RATER",
    "RATER_TRIALS",
    "TRIALS_PER_CELL",
]

#: (raters.id, source) of a rater of a study.
RATER = select(RaterRow.id, RaterRow.source).where(
    RaterRow.study_id == bindparam("sid"), RaterRow.external_id == bindparam("rater")
)

#: Every trial of one rater, oldest first, with its vote's id (NULL while unanswered): the
#: rater's progress, the trial to resume and the cells they have seen, in one indexed read.
RATER_TRIALS = (
    select(
        TrialRow.id,
        TrialRow.token,
        TrialRow.prompt_id,
        TrialRow.question,
        TrialRow.left_image_id,
        TrialRow.right_image_id,
        VoteRow.id,
    )
    .outerjoin(VoteRow, VoteRow.trial_id == TrialRow.id)
    # study_id first: it is the leading column of ix_trials_study_rater.
    .where(TrialRow.study_id == bindparam("sid"), TrialRow.rater_id == bindparam("rater_pk"))
    .order_by(TrialRow.id)
)

#: (id, n) of the ``k`` least-served active cells of a study, in (n, draw) order.
LEAST_SERVED = (
    select(CellCountRow.id, CellCountRow.n)
    .where(CellCountRow.study_id == bindparam("sid"), CellCountRow.active == true())
    .order_by(CellCountRow.n, CellCountRow.draw)
    .limit(bindparam("k"))
)

#: One more trial for a cell; returns the new count (so that concurrent writers on
#: PostgreSQL each see their own number, which picks the seed).
BUMP_CELL = (
    update(CellCountRow)
    .where(CellCountRow.id == bindparam("cell_id"))
    .values(n=CellCountRow.n + 1, draw=bindparam("draw"))
    .returning(CellCountRow.n)
)

#: Highest image id: grows whenever ingest adds images (they are never deleted), and reads one
#: end of the primary key instead of counting the study's images.
IMAGES_STAMP = select(func.coalesce(func.max(ImageRow.id), 0))

_left, _right = aliased(ImageRow, name="li"), aliased(ImageRow, name="ri")
_lo = case((_left.model_id < _right.model_id, _left.model_id), else_=_right.model_id)
_hi = case((_left.model_id < _right.model_id, _right.model_id), else_=_left.model_id)

#: Trials per (prompt, lower model id, higher model id, question) of a study. Only for creating
#: missing cell_counts rows (once per cell, e.g. on a database written before that table);
#: never on the vote path.
TRIALS_PER_CELL = (
    select(TrialRow.prompt_id, _lo, _hi, TrialRow.question, func.count(TrialRow.id))
    .join(_left, _left.id == TrialRow.left_image_id)
    .join(_right, _right.id == TrialRow.right_image_id)
    .where(TrialRow.study_id == bindparam("sid"))
    .group_by(TrialRow.prompt_id, _lo, _hi, TrialRow.question)
)

#: (trial id, owner's raters.id, owner's rater id, owner's source, vote choice or NULL, vote
#: decision_ms or NULL) of a token.
FIND_TRIAL = (
    select(
        TrialRow.id,
        RaterRow.id,
        RaterRow.external_id,
        RaterRow.source,
        VoteRow.choice,
        VoteRow.decision_ms,
    )
    .join(RaterRow, RaterRow.id == TrialRow.rater_id)
    .outerjoin(VoteRow, VoteRow.trial_id == TrialRow.id)
    .where(TrialRow.token == bindparam("token"), TrialRow.study_id == bindparam("sid"))
)

INSERT_TRIAL = insert(TrialRow)
INSERT_VOTE = insert(VoteRow)
