"""The researcher's progress page at ``/admin``, behind HTTP Basic auth.

It is off unless a password is configured (``ARENA_ADMIN_PASSWORD``); raters never see it. It
shows how far the study is (raters, votes, coverage of every cell, votes per hour), each rater's
quality flags and a live point-estimate leaderboard, and nothing a rater could use to game it.
It reads the store's progress aggregates (:meth:`arena.store.Store.overview`) and the
comparisons DataFrame, off the raters' hot path; the sections are rendered by
:mod:`arena.admin_views`.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from analysis.raters import QualityRules
from arena import admin_views as views
from arena.admin_settled import settled_section
from arena.admin_views import esc, table

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


def render(study: Study, store: Store, now: datetime | None = None) -> str:
    """The admin page's HTML at ``now`` (timezone-aware; default: the current UTC time)."""
    now = now or datetime.now(timezone.utc)
    o = store.overview(study, now)
    df = store.comparisons(study.name)
    kind = df["kind"].astype(str).replace("", "2afc")
    by_kind = kind.value_counts()
    rated = df.loc[kind.eq("2afc").to_numpy()]
    questions = [q.id for q in study.questions]
    lo, hi = views.ordered_pair(o.cells["a"], o.cells["b"])
    scheduled = o.cells[["question", "prompt"]].astype(str).assign(lo=lo, hi=hi)
    cells = views.cell_votes(rated, scheduled)
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
        left = views.left_share(rated)
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
