"""Read-only aggregates of a study's progress, for the admin page (:mod:`arena.admin`).

Each figure is one aggregate query (counts in SQL, never rows fetched to be counted in Python),
portable between SQLite and PostgreSQL: no database-specific date functions. None of them is on
the raters' hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Connection, and_, case, func, select, true
from sqlalchemy.orm import aliased

from arena.store.schema import (
    CellCountRow,
    ConsentRefusalRow,
    ModelRow,
    PromptRow,
    RaterRow,
    TrialRow,
    VoteRow,
)

if TYPE_CHECKING:
    from arena.study import Study

__all__ = ["HOURS", "StudyOverview", "overview"]

#: Clock hours of the votes-per-hour table.
HOURS = 24


@dataclass(frozen=True)
class StudyOverview:
    """How far a study is, at one moment.

    Attributes
    ----------
    raters, finished : int
        Raters who started, and those who answered the practice and the quota (or every cell,
        where the study has fewer cells than its quota).
    trials, votes, refusals : int
        Trials issued, votes recorded (one per answered trial), consents declined.
    cells : pandas.DataFrame
        The scheduled (active) cells: ``question``, ``prompt`` (prompt id), ``a``, ``b`` (the
        pair's model ids, as stored), every column of dtype object.
    texts : pandas.Series
        Prompt text by prompt id.
    hours : list of (datetime, int)
        Votes in each of the last :data:`HOURS` clock hours (UTC): the hour's start and its
        votes, oldest first.
    last_hour : int
        Votes in the last 60 minutes.
    """

    raters: int
    finished: int
    trials: int
    votes: int
    refusals: int
    cells: pd.DataFrame
    texts: pd.Series
    hours: list[tuple[datetime, int]]
    last_hour: int


def overview(conn: Connection, study: Study, sid: int, now: datetime) -> StudyOverview:
    """Every progress figure of the study ``sid`` at ``now`` (timezone-aware)."""
    cells = _cells(conn, sid)
    texts = dict(
        conn.execute(select(PromptRow.key, PromptRow.text).where(PromptRow.study_id == sid)).all()
    )
    # A rater has finished after the practice and the quota, or every cell when there are fewer.
    target = study.practice + min(study.quota, len(cells) or study.quota)
    per_rater = (
        select(func.count(VoteRow.id).label("n"))
        .select_from(TrialRow)
        .join(VoteRow, VoteRow.trial_id == TrialRow.id)
        .where(TrialRow.study_id == sid)
        .group_by(TrialRow.rater_id)
        .subquery()
    )
    trials, votes = conn.execute(
        select(func.count(TrialRow.id), func.count(VoteRow.id))
        .select_from(TrialRow)
        .outerjoin(VoteRow, VoteRow.trial_id == TrialRow.id)
        .where(TrialRow.study_id == sid)
    ).one()
    hours, last_hour = _hourly(conn, sid, now)
    return StudyOverview(
        raters=_count(conn, select(func.count(RaterRow.id)).where(RaterRow.study_id == sid)),
        finished=_count(
            conn, select(func.count()).select_from(per_rater).where(per_rater.c.n >= target)
        ),
        trials=int(trials or 0),
        votes=int(votes or 0),
        refusals=_count(
            conn, select(func.count(ConsentRefusalRow.id)).where(ConsentRefusalRow.study_id == sid)
        ),
        cells=cells,
        texts=pd.Series(texts, dtype=object),
        hours=hours,
        last_hour=last_hour,
    )


def _cells(conn: Connection, sid: int) -> pd.DataFrame:
    lo, hi = aliased(ModelRow), aliased(ModelRow)
    c = CellCountRow
    return pd.DataFrame(
        conn.execute(
            select(c.question, PromptRow.key, lo.name, hi.name)
            .join(PromptRow, PromptRow.id == c.prompt_id)
            .join(lo, lo.id == c.model_lo)
            .join(hi, hi.id == c.model_hi)
            .where(c.study_id == sid, c.active == true())
        ).all(),
        columns=["question", "prompt", "a", "b"],
        dtype=object,
    )


def _count(conn: Connection, query: Any) -> int:
    return int(conn.scalar(query) or 0)


def _hourly(conn: Connection, sid: int, now: datetime) -> tuple[list[tuple[datetime, int]], int]:
    """Votes in each of the last :data:`HOURS` clock hours (UTC) and in the last 60 minutes, in
    one pass (portable conditional sums)."""
    top = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    edges = [top - timedelta(hours=k) for k in range(HOURS, -1, -1)]
    at = VoteRow.created_at

    def within(start: datetime, end: datetime | None = None) -> Any:
        cond = at >= start if end is None else and_(at >= start, at < end)
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    columns = [within(s, e) for s, e in zip(edges[:-1], edges[1:], strict=True)]
    row = conn.execute(
        select(*columns, within(now - timedelta(hours=1)))
        .select_from(VoteRow)
        .join(TrialRow, TrialRow.id == VoteRow.trial_id)
        .where(TrialRow.study_id == sid, at >= edges[0])
    ).one()
    counts = [int(n or 0) for n in row]
    return list(zip(edges[:-1], counts[:-1], strict=True)), counts[-1]
