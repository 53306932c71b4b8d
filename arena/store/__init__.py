"""Storage of the arena: schema, the :class:`Store` and the values it returns.

``from arena.store import Store`` is all most callers need; the ORM tables live in
:mod:`arena.store.schema` for ingest and tests.
"""

from arena.store.frames import COMPARISON_COLUMNS, OUTCOME_OF_CHOICE
from arena.store.live import LIVE_COLUMNS, LiveStore
from arena.store.overview import StudyOverview
from arena.store.store import TRIAL_KIND, Store
from arena.store.types import (
    ImageRef,
    Progress,
    RaterIdentity,
    TrialView,
    VoteReceipt,
    VoteRefused,
)

__all__ = [
    "COMPARISON_COLUMNS",
    "LIVE_COLUMNS",
    "LiveStore",
    "OUTCOME_OF_CHOICE",
    "TRIAL_KIND",
    "ImageRef",
    "Progress",
    "RaterIdentity",
    "Store",
    "StudyOverview",
    "TrialView",
    "VoteReceipt",
    "VoteRefused",
]
