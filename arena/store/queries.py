"""Statements of the hot path, built once (they are immutable) and run with bound parameters.

Building a SQLAlchemy statement costs more than running a cached one on SQLite, so the
per-vote statements live here instead of being rebuilt on every request. Every one of them
reads a bounded number of rows through an index: the rater's own trials (at most the quota),
one trial by token, or the few least-served cells; none grows with the study's votes
(``tests/arena/test_hot_path.py`` checks the query plans).
"""

from __future__ import annotations

from sqlalchemy import bindparam, func, insert, select, text, update

from arena.store.schema import CellCountRow, ImageRow, RaterRow, TrialRow, VoteRow

__all__ = [
    "BIND_SECRET",
    "BUMP_CELL",
    "FIND_TRIAL",
    "IMAGES_STAMP",
    "INSERT_TRIAL",
    "INSERT_VOTE",
    "LEAST_SERVED",
    "RATER",
    "RATER_COUNT",
    "RATER_PANEL",
    "RATER_TRIALS",
]

#: (raters.id, source, secret_hash) of a rater of a study. The row is locked for the rest of
#: the transaction (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises
#: writers), so that calls for one rater (two tabs, a double load) run one after the other.
RATER = (
    select(RaterRow.id, RaterRow.source, RaterRow.secret_hash)
    .where(RaterRow.study_id == bindparam("sid"), RaterRow.external_id == bindparam("rater"))
    .with_for_update()
)

#: The panel references of a rater (for resuming on another device).
RATER_PANEL = select(
    RaterRow.source, RaterRow.panel_session_id, RaterRow.panel_assignment_id
).where(RaterRow.id == bindparam("rater_pk"))

#: Bind a rater to a new browser secret.
BIND_SECRET = (
    update(RaterRow).where(RaterRow.id == bindparam("rater_pk")).values(secret_hash=bindparam("h"))
)

#: How many raters a study has (only when a new rater joins a study with ``max_raters``).
RATER_COUNT = select(func.count(RaterRow.id)).where(RaterRow.study_id == bindparam("sid"))

#: Every trial of one rater, oldest first, with its vote's id (NULL while unanswered): the
#: rater's progress, the trial to resume and the cells they have seen, in one indexed read.
RATER_TRIALS = (
    select(
        TrialRow.id,
        TrialRow.token,
        TrialRow.prompt_id,
        TrialRow.question,
        TrialRow.left_image_id.label("left"),
        TrialRow.right_image_id.label("right"),
        VoteRow.id.label("vote_id"),
        TrialRow.kind,
        TrialRow.repeat_of,
    )
    .outerjoin(VoteRow, VoteRow.trial_id == TrialRow.id)
    # study_id first: it is the leading column of ix_trials_study_rater.
    .where(TrialRow.study_id == bindparam("sid"), TrialRow.rater_id == bindparam("rater_pk"))
    .order_by(TrialRow.id)
)

#: (id, n) of the ``k`` least-served active cells of a study, in (n, draw) order, through
#: ``ix_cell_counts_pick``. Plain SQL: SQLAlchemy's SQLite dialect adds ``OFFSET 0`` to every
#: LIMIT, a few VM steps per vote for nothing.
LEAST_SERVED = text(
    "SELECT id, n FROM cell_counts WHERE study_id = :sid AND active = :on ORDER BY n, draw LIMIT :k"
).bindparams(on=True)

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

#: (trial id, owner's raters.id, vote choice or NULL, vote decision_ms or NULL) of a token.
FIND_TRIAL = (
    select(TrialRow.id, TrialRow.rater_id, VoteRow.choice, VoteRow.decision_ms)
    .outerjoin(VoteRow, VoteRow.trial_id == TrialRow.id)
    .where(TrialRow.token == bindparam("token"), TrialRow.study_id == bindparam("sid"))
)

INSERT_TRIAL = insert(TrialRow)
INSERT_VOTE = insert(VoteRow)
