"""The vote rules: which votes are accepted, and writing one exactly once.

A vote is accepted only for a trial issued to that rater in this study and not yet answered;
a repeat writes nothing and returns the first vote (DESIGN.md, the Database contract).
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import TYPE_CHECKING

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from arena.store import queries as q
from arena.store.types import VoteReceipt, VoteRefused

if TYPE_CHECKING:
    from arena.study import Study

__all__ = ["checked", "record"]

#: Tokens are 32 characters; anything much longer is not one of ours.
_MAX_TOKEN = 100


def checked(study: Study, token: str, choice: str, decision_ms: float) -> float:
    """The decision time as a float, once the vote's arguments are plausible (else refused)."""
    if not isinstance(choice, str) or choice not in study.choices:
        allowed = ", ".join(study.choices)
        raise VoteRefused(f"'{choice}' is not a response this study accepts ({allowed}).")
    try:
        ms = float(decision_ms)
    except (TypeError, ValueError):
        ms = math.nan
    if not math.isfinite(ms) or ms < 0:
        raise VoteRefused("The decision time must be a finite, non-negative number of ms.")
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN:
        raise VoteRefused("This trial is not known; reload the page to continue.")
    return ms


def record(
    conn: Connection, sid: int, rater: str, token: str, choice: str, ms: float, serialized: bool
) -> tuple[VoteReceipt, int, str]:
    """Write one checked vote; returns the receipt and the rater's (raters.id, source).

    ``serialized``: the database admits one writer at a time (SQLite's BEGIN IMMEDIATE), so
    no concurrent duplicate can slip in between the check and the insert.
    """
    found = conn.execute(q.FIND_TRIAL, {"token": token, "sid": sid}).first()
    if found is None:
        raise VoteRefused("This trial is not known; reload the page to continue.")
    trial_id, rater_pk, owner, source, old_choice, old_ms = found
    if owner != rater:
        raise VoteRefused("This trial was issued to another rater.")
    if old_choice is not None:
        return VoteReceipt(trial_id, old_choice, old_ms, recorded=False), rater_pk, source
    # SQLite's BEGIN IMMEDIATE already excludes a concurrent duplicate; elsewhere one may
    # win the race between the check above and this insert, and a savepoint keeps the
    # transaction usable after its unique violation.
    guard = nullcontext() if serialized else conn.begin_nested()
    try:
        with guard:
            conn.execute(q.INSERT_VOTE, {"trial_id": trial_id, "choice": choice, "decision_ms": ms})
    except IntegrityError:
        again = conn.execute(q.FIND_TRIAL, {"token": token, "sid": sid}).first()
        if again is None or again[4] is None:
            raise
        return VoteReceipt(trial_id, again[4], again[5], recorded=False), rater_pk, source
    return VoteReceipt(trial_id, choice, ms, recorded=True), rater_pk, source
