"""Plain values the store hands to the app: no ORM objects leave the store."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "VoteRefused",
    "REFUSALS",
    "RaterIdentity",
    "ImageRef",
    "TrialView",
    "Progress",
    "Session",
    "VoteReceipt",
]

#: Why a request is refused -> what it means; the HTTP API answers each with its own status
#: (docs/http-api.md). None of them is worth retrying unchanged.
REFUSALS: dict[str, str] = {
    "invalid": "the request is malformed: a field is missing, of the wrong type or out of range",
    "invalid_link": "the rater link holds an id no panel uses",
    "unknown_rater": "the rater has not joined this study",
    "unknown_trial": "the token is not one this server issued in this study",
    "not_yours": "the trial or rater belongs to another browser",
    "closed": "the study accepts no new raters (full, or a panel id is required)",
    "consent_required": "a new rater of a study with a consent text has not agreed to it",
}


class VoteRefused(Exception):
    """A vote (or a request for a trial) the server will not accept.

    The message is one plain sentence meant for the rater's screen; nothing was written.
    ``code`` is one of :data:`REFUSALS`.
    """

    def __init__(self, message: str, code: str = "invalid") -> None:
        if code not in REFUSALS:
            raise ValueError(f"code must be one of {sorted(REFUSALS)}; got {code!r}")
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class RaterIdentity:
    """Who a rater is, as far as the study needs to know: a pseudonymous id and its origin.

    ``source`` is ``url`` (``?rater=``), ``prolific``, ``mturk`` or ``generated``; the panel
    fields hold Prolific's STUDY_ID/SESSION_ID or MTurk's assignmentId when present.
    """

    id: str
    source: str = "url"
    panel_study_id: str | None = None
    panel_session_id: str | None = None
    panel_assignment_id: str | None = None


@dataclass(frozen=True)
class ImageRef:
    """An image as the page needs it: where to fetch it and how large it is."""

    path: str  # relative to the study's image folder
    sha256: str
    width: int
    height: int


@dataclass(frozen=True)
class TrialView:
    """One issued trial, ready to render (model names deliberately absent)."""

    token: str
    prompt: str
    question: str
    question_text: str
    left: ImageRef
    right: ImageRef
    #: A practice trial: stored, never analysed; the page says so.
    practice: bool = False


@dataclass(frozen=True)
class Progress:
    """A rater's position: answered trials, the planned total, and the trial to show now."""

    rater: str
    source: str
    answered: int
    total: int
    trial: TrialView | None

    @property
    def done(self) -> bool:
        """True when there is nothing left to show this rater."""
        return self.trial is None


@dataclass(frozen=True)
class Session:
    """What :meth:`arena.store.Store.start` hands a browser: its progress and its secret.

    ``secret`` binds the rater id to the browser that joined: later calls must present it.
    """

    progress: Progress
    secret: str


@dataclass(frozen=True)
class VoteReceipt:
    """The outcome of an accepted vote; ``recorded`` is False for a replay (nothing written)."""

    trial_id: int
    choice: str
    decision_ms: float
    recorded: bool
