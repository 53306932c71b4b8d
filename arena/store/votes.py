"""The vote rules: which votes are accepted, and writing one exactly once.

A vote is accepted only for a trial issued to that rater in this study and not yet answered;
a repeat writes nothing and returns the first vote (docs/design.md, the Database contract).
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

__all__ = ["MAX_DECISION_MS", "checked", "record"]

#: Tokens are 32 characters; anything much longer is not one of ours.
_MAX_TOKEN = 100
#: A decision time above an hour is a tab left open, or a forged request.
MAX_DECISION_MS = 3_600_000.0
_UNKNOWN = "This trial is not known; reload the page to continue."


def checked(study: Study, token: object, choice: object, decision_ms: object) -> float:
    """The decision time as a float, once the vote's arguments are plausible (else refused).

    ``decision_ms`` must be a real number (not a bool, not a string) from 0 to
    :data:`MAX_DECISION_MS`.
    """
    if not isinstance(choice, str) or choice not in study.choices:
        allowed = ", ".join(study.choices)
        raise VoteRefused(f"'{choice}' is not a response this study accepts ({allowed}).")
    if isinstance(decision_ms, bool) or not isinstance(decision_ms, (int, float)):
        raise VoteRefused("The decision time must be a number of milliseconds.")
    ms = float(decision_ms)
    if not (math.isfinite(ms) and 0 <= ms <= MAX_DECISION_MS):
        raise VoteRefused(
            f"The decision time must be from 0 to {MAX_DECISION_MS:.0f} ms; got {decision_ms!r}."
        )
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN:
        raise VoteRefused(_UNKNOWN, code="unknown_trial")
    return ms


def record(
    conn: Connection, sid: int, rater_pk: int, token: str, choice: str, ms: float, serialized: bool
) -> VoteReceipt:
    """Write one checked vote of the rater ``rater_pk`` (whose row the caller has locked).

    ``serialized``: the database admits one writer at a time (SQLite's BEGIN IMMEDIATE), so
    no concurrent duplicate can slip in between the check and the insert.
    """
    found = conn.execute(q.FIND_TRIAL, {"token": token, "sid": sid}).first()
    if found is None:
        raise VoteRefused(_UNKNOWN, code="unknown_trial")
    trial_id, owner_pk, old_choice, old_ms = found
    if owner_pk != rater_pk:
        raise VoteRefused("This trial was issued to another rater.", code="not_yours")
    if old_choice is not None:
        return VoteReceipt(trial_id, old_choice, old_ms, recorded=False)
    # SQLite's BEGIN IMMEDIATE already excludes a concurrent duplicate; elsewhere one may
    # win the race between the check above and this insert, and a savepoint keeps the
    # transaction usable after its unique violation.
    guard = nullcontext() if serialized else conn.begin_nested()
    try:
        with guard:
            conn.execute(q.INSERT_VOTE, {"trial_id": trial_id, "choice": choice, "decision_ms": ms})
    except IntegrityError:
        again = conn.execute(q.FIND_TRIAL, {"token": token, "sid": sid}).first()
        if again is None or again[2] is None:
            raise
        return VoteReceipt(trial_id, again[2], again[3], recorded=False)
    return VoteReceipt(trial_id, choice, ms, recorded=True)
