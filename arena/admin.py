"""The researcher's progress page at ``/admin``, behind HTTP Basic auth.

It is off unless a password is configured (``ARENA_ADMIN_PASSWORD``); raters never see it. It
shows how far the study is (raters, votes, coverage of every model pair) and nothing a rater
could use to game it. It reads the comparisons DataFrame, off the raters' hot path.
"""

from __future__ import annotations

import html
import os
import secrets
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from sqlalchemy import func, select

from arena.store.schema import RaterRow, TrialRow, VoteRow

if TYPE_CHECKING:
    from arena.store import Store
    from arena.study import Study

__all__ = ["ADMIN_PASSWORD_ENV", "ADMIN_USER", "admin_router"]

ADMIN_PASSWORD_ENV = "ARENA_ADMIN_PASSWORD"
ADMIN_USER = "admin"
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#222}"
    "table{border-collapse:collapse;margin:1rem 0}td,th{padding:.3rem .8rem;"
    "border-bottom:1px solid #ddd;text-align:right}th:first-child,td:first-child{text-align:left}"
)


def admin_password() -> str | None:
    """The configured admin password, or None when the admin page is off."""
    return os.environ.get(ADMIN_PASSWORD_ENV) or None


def _table(header: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _page(study: Study, store: Store) -> str:
    sid = store.study_id(study.name)
    with store.begin() as conn:
        raters = conn.scalar(select(func.count()).where(RaterRow.study_id == sid)) or 0
        per_rater = (
            select(TrialRow.rater_id, func.count(VoteRow.id).label("n"))
            .join(VoteRow, VoteRow.trial_id == TrialRow.id)
            .where(TrialRow.study_id == sid)
            .group_by(TrialRow.rater_id)
            .subquery()
        )
        finished = conn.scalar(
            select(func.count()).select_from(per_rater).where(per_rater.c.n >= study.quota)
        )
        trials = conn.scalar(select(func.count()).where(TrialRow.study_id == sid)) or 0
    df = store.comparisons(study.name)
    votes = len(df)
    summary = _table(
        ["", "count"],
        [
            ["raters who started", raters],
            ["raters who finished", finished or 0],
            ["votes", votes],
            ["trials issued, not answered", trials - votes],
        ],
    )
    coverage = "<p>No votes yet.</p>"
    if votes:
        pair = df[["model_a", "model_b"]].apply(lambda r: " vs ".join(sorted(r)), axis=1)
        table = df.assign(pair=pair).pivot_table(
            index="pair", columns="question", values="rater", aggfunc="count", fill_value=0
        )
        coverage = _table(
            ["model pair", *map(str, table.columns)],
            [[idx, *row] for idx, row in zip(table.index, table.to_numpy().tolist(), strict=True)],
        )
        left = (df["outcome"] == "a").sum() / max(1, df["outcome"].isin(["a", "b"]).sum())
        coverage += f"<p>Left image chosen in {left:.1%} of decisive votes; median decision "
        coverage += f"time {df['decision_ms'].median() / 1000:.1f} s.</p>"
    title = html.escape(study.title)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title} — admin</title>"
        f"<style>{_STYLE}</style></head><body><h1>{title}</h1>"
        f"<p>Study <code>{html.escape(study.name)}</code>, quota {study.quota} trials per rater."
        f" Run <code>arena report --study …</code> for ratings and intervals.</p>"
        f"<h2>Progress</h2>{summary}<h2>Votes per model pair and question</h2>{coverage}"
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

    @router.get("/admin", response_class=HTMLResponse, include_in_schema=False)
    def admin() -> str:
        return _page(study, store)

    return router
