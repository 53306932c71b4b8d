"""The researcher's progress page at ``/admin``, behind HTTP Basic auth.

It is off unless a password is configured (``ARENA_ADMIN_PASSWORD``); raters never see it. It
shows how far the study is (raters, votes, coverage of every cell, votes per hour), each rater's
quality flags and a live point-estimate leaderboard, and nothing a rater could use to game it.
It reads a few aggregate queries and the comparisons DataFrame, off the raters' hot path; the
sections are rendered by :mod:`arena.admin_views`.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from sqlalchemy import Connection, and_, case, func, select
from sqlalchemy.orm import aliased

from analysis.raters import QualityRules
from arena import admin_views as views
from arena.admin_settled import settled_section
from arena.admin_views import esc, table
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
    from arena.store import Store
    from arena.study import Study

__all__ = ["ADMIN_PASSWORD_ENV", "ADMIN_USER", "REFRESH_S", "admin_router", "render"]

ADMIN_PASSWORD_ENV = "ARENA_ADMIN_PASSWORD"
ADMIN_USER = "admin"
#: The page reloads itself this often (seconds).
REFRESH_S = 30
_KINDS = (("2afc", "rated (2afc)"), ("gold", "attention checks (gold)"),
          ("repeat", "repeats"), ("practice", "practice"))  # fmt: skip
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:64rem;color:#222}"
    "table{border-collapse:collapse;margin:1rem 0}td,th{padding:.3rem .8rem;"
    "border-bottom:1px solid #ddd;text-align:right}th:first-child,td:first-child{text-align:left}"
)


def admin_password() -> str | None:
    """The configured admin password, or None when the admin page is off."""
    return os.environ.get(ADMIN_PASSWORD_ENV) or None


@dataclass(frozen=True)
class _Overview:
    raters: int
    finished: int
    trials: int
    votes: int
    refusals: int
    cells: pd.DataFrame  # the scheduled cells, columns views.CELL_KEYS
    texts: pd.Series  # prompt text by prompt id
    hours: list[tuple[datetime, int]]  # (start of the UTC hour, votes), oldest first
    last_hour: int


def _read(conn: Connection, study: Study, sid: int, now: datetime) -> _Overview:
    """Every figure of the page that is not in the comparisons frame; each query one pass."""
    lo, hi = aliased(ModelRow), aliased(ModelRow)
    c = CellCountRow
    cells = pd.DataFrame(
        conn.execute(
            select(c.question, PromptRow.key, lo.name, hi.name)
            .join(PromptRow, PromptRow.id == c.prompt_id)
            .join(lo, lo.id == c.model_lo)
            .join(hi, hi.id == c.model_hi)
            .where(c.study_id == sid, c.active.is_(True))
        ).all(),
        columns=["question", "prompt", "a", "b"],
        dtype=object,
    )
    lo_name, hi_name = views.ordered_pair(cells.pop("a"), cells.pop("b"))
    cells = cells.astype(str).assign(lo=lo_name, hi=hi_name)
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
    return _Overview(
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


def _count(conn: Connection, query) -> int:
    return int(conn.scalar(query) or 0)


def _hourly(conn: Connection, sid: int, now: datetime) -> tuple[list[tuple[datetime, int]], int]:
    """Votes in each of the last 24 clock hours (UTC) and in the last 60 minutes, in one pass
    (portable conditional sums: no database-specific date functions)."""
    top = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    edges = [top - timedelta(hours=k) for k in range(24, -1, -1)]
    at = VoteRow.created_at

    def within(start: datetime, end: datetime | None = None) -> object:
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


def render(study: Study, store: Store, now: datetime | None = None) -> str:
    """The admin page's HTML at ``now`` (timezone-aware; default: the current UTC time)."""
    now = now or datetime.now(timezone.utc)
    sid = store.study_id(study.name)
    with store.begin() as conn:
        o = _read(conn, study, sid, now)
    df = store.comparisons(study.name)
    kind = df["kind"].astype(str).replace("", "2afc")
    by_kind = kind.value_counts()
    rated = df.loc[kind.eq("2afc").to_numpy()]
    questions = [q.id for q in study.questions]
    cells = views.cell_votes(rated, o.cells)
    summary = table(
        ["", "count"],
        [
            ["raters who started", o.raters],
            ["raters who finished", o.finished],
            ["consents declined", o.refusals],
            ["votes", o.votes],
            *[[f"votes: {label}", int(by_kind.get(k, 0))] for k, label in _KINDS],
            ["trials issued, not answered", o.trials - o.votes],
        ],
    )
    judged = df.loc[kind.ne("practice").to_numpy()]
    if len(judged):
        decisive = rated["outcome"].isin(["a", "b"])
        left = (rated["outcome"] == "a").sum() / max(1, decisive.sum())
        summary += f"<p>Left image chosen in {left:.1%} of decisive rated votes; median decision "
        summary += f"time {judged['decision_ms'].median() / 1000:.1f} s (practice aside).</p>"
    legend = "; ".join(f"<code>{esc(q.id)}</code>: “{esc(q.text)}”" for q in study.questions)
    title = esc(study.title)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'>"
        f"<meta http-equiv='refresh' content='{REFRESH_S}'><title>{title} — admin</title>"
        f"<style>{_STYLE}</style></head><body><h1>{title}</h1>"
        f"<p>Study <code>{esc(study.name)}</code>: {len(study.models)} models, "
        f"{len(questions)} questions, quota {study.quota} trials per rater"
        f"{f' after {study.practice} practice' if study.practice else ''}. "
        f"As of {now:%Y-%m-%d %H:%M:%S} UTC; reloads every {REFRESH_S} s.</p>"
        f"<h2>Progress</h2>{summary}"
        f"<h2>Votes per model pair and question</h2><p>Questions: {legend}.</p>"
        f"{views.cells_section(rated, cells, questions)}"
        f"<h2>Prompts with the fewest votes</h2>{views.prompts_section(cells, o.texts)}"
        f"<h2>Votes per hour</h2>{views.hourly_section(o.hours, o.last_hour)}"
        f"<h2>Raters</h2>{views.raters_section(df, QualityRules(**study.quality))}"
        f"<h2>Live leaderboard</h2>{views.leaderboard_section(rated, questions)}"
        f"<h2>Settled comparisons</h2>{settled_section(study, df)}"
        "</body></html>"
    )


def admin_router(study: Study, store: Store, password: str) -> APIRouter:
    """Routes of the admin page, each checking the Basic-auth password in constant time."""
    basic = HTTPBasic(realm="t2i-arena admin")

    def check(credentials: HTTPBasicCredentials = Depends(basic)) -> None:  # noqa: B008
        user_ok = secrets.compare_digest(credentials.username.encode(), ADMIN_USER.encode())
        pass_ok = secrets.compare_digest(credentials.password.encode(), password.encode())
        if not (user_ok and pass_ok):
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail="Wrong admin user or password.",
                headers={"WWW-Authenticate": "Basic"},
            )

    router = APIRouter(dependencies=[Depends(check)])

    # A plain (sync) handler: Starlette runs it in its thread pool, off the event loop.
    @router.get("/admin", response_class=HTMLResponse, include_in_schema=False)
    def admin() -> str:
        return render(study, store)

    return router
