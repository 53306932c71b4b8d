"""The rater rules: who may join a study, and binding a rater id to the browser that joined.

A rater id alone is not enough to act as that rater: the first ``start`` binds the id to a
secret the browser keeps (stored here only as its sha256), and every later call must present
it. Panel raters move to another device by presenting the panel's own reference for their
session again (Prolific's ``SESSION_ID``, MTurk's ``assignmentId``). Every function runs inside
the caller's write transaction, after the rater's row was read with :data:`queries.RATER`
(which locks it).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from arena.store import queries as q
from arena.store.schema import utcnow
from arena.store.types import RaterIdentity, VoteRefused

if TYPE_CHECKING:
    from arena.study import Study

__all__ = ["admit", "bind", "checked", "hash_secret"]

IN_USE = (
    "This study link is already in use in another browser; continue there, or ask the "
    "researcher for a new link."
)
_FULL = "This study is full and takes no more raters; thank you for your interest."
_PANEL_ONLY = "This study can only be joined from its {} link."
_UNKNOWN = "This rater is not known; open the study link again."
_NO_CONSENT = "This study needs your consent before it starts; please read and agree to it."


def hash_secret(secret: str) -> str:
    """What the database keeps of a browser's secret."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def admit(
    conn: Connection,
    study: Study,
    sid: int,
    who: RaterIdentity,
    insert: Any,
    consented: bool | None = None,
) -> None:
    """Insert the rater's row unless it exists, within the study's admission rules.

    ``insert`` is the store's ``INSERT ... ON CONFLICT DO NOTHING`` into ``raters``: two first
    calls for one rater at once (a double load, two tabs) then leave one row, the second
    waiting for the first's on PostgreSQL instead of failing on the unique constraint.
    ``consented``: whether the rater agreed to the study's consent text (required to be True
    when the study has one; None where the caller is a script, not a rater's page).
    """
    if conn.execute(q.RATER, {"sid": sid, "rater": who.id}).first() is not None:
        return
    if study.panel is not None and who.source != study.panel:
        raise VoteRefused(_PANEL_ONLY.format(study.panel.capitalize()), code="closed")
    if study.consent is not None and consented is False:
        raise VoteRefused(_NO_CONSENT, code="consent_required")
    limit = study.max_raters
    if limit is not None and (conn.scalar(q.RATER_COUNT, {"sid": sid}) or 0) >= limit:
        raise VoteRefused(_FULL, code="closed")
    conn.execute(
        insert,
        {
            "study_id": sid,
            "external_id": who.id,
            "source": who.source,
            "panel_study_id": who.panel_study_id,
            "panel_session_id": who.panel_session_id,
            "panel_assignment_id": who.panel_assignment_id,
            "consented_at": utcnow() if consented else None,
        },
    )


def bind(
    conn: Connection, rater_pk: int, stored: str | None, who: RaterIdentity, secret: str | None
) -> str:
    """The secret this browser holds from now on: its own when it matches, a new one for a
    rater without one or a panel rater moving devices; else refused (``not_yours``)."""
    if stored is not None and isinstance(secret, str) and hash_secret(secret) == stored:
        return secret
    if stored is not None and not _may_move(conn, rater_pk, who):
        raise VoteRefused(IN_USE, code="not_yours")
    issued = secrets.token_urlsafe(18)
    conn.execute(q.BIND_SECRET, {"rater_pk": rater_pk, "h": hash_secret(issued)})
    return issued


def _may_move(conn: Connection, rater_pk: int, who: RaterIdentity) -> bool:
    source, session, assignment = conn.execute(q.RATER_PANEL, {"rater_pk": rater_pk}).one()
    if source != who.source:
        return False
    if source == "prolific":
        return session is not None and session == who.panel_session_id
    if source == "mturk":
        return assignment is not None and assignment == who.panel_assignment_id
    return False


def checked(conn: Connection, sid: int, rater: str, secret: str | None) -> tuple[int, str]:
    """(raters.id, source) of a rater, locked, once ``secret`` is theirs (else refused).

    A rater without a secret (joined by a script through ``Store.join``) needs none.
    """
    row = conn.execute(q.RATER, {"sid": sid, "rater": rater}).first()
    if row is None:
        raise VoteRefused(_UNKNOWN, code="unknown_rater")
    rater_pk, source, stored = row
    if stored is not None and (not isinstance(secret, str) or hash_secret(secret) != stored):
        raise VoteRefused(IN_USE, code="not_yours")
    return rater_pk, source
