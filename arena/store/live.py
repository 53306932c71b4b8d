"""The live arena's reads and writes (arena.live): battles, their images and their votes.

Live rows live in their own tables (revision 0007), never in ``trials`` or ``votes``: the
controlled study's comparisons frame, scheduler and report never see them. Each call is one
short transaction; the live routes run them on a thread of their own, off the rater API's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.orm import aliased

from arena.store.frames import OUTCOME_OF_CHOICE
from arena.store.schema import LiveBattleRow, LiveImageRow, LiveVoteRow, ModelRow, StudyRow

if TYPE_CHECKING:
    from arena.store.store import Store

__all__ = ["LIVE_COLUMNS", "LiveStore"]

#: Columns of :meth:`LiveStore.frame` (and of ``arena export --live``): one row per live vote.
LIVE_COLUMNS = (
    "battle",
    "rater",
    "prompt",
    "model_a",
    "model_b",
    "outcome",
    "decision_ms",
    "seed",
    "latency_ms_a",
    "latency_ms_b",
    "image_a",
    "image_b",
    "voted_at",
)


class LiveStore:
    """Live battles of the studies in one :class:`~arena.store.Store`'s database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _model_id(self, conn: Connection, name: str) -> int:
        # Live models need not be the study's: their rows are made on first use.
        mid = conn.scalar(select(ModelRow.id).where(ModelRow.name == name))
        if mid is None:
            mid = conn.execute(insert(ModelRow).values(name=name)).inserted_primary_key[0]
        return int(mid)

    def add_battle(
        self,
        study_name: str,
        token: str,
        rater: str,
        prompt: str,
        models: tuple[str, str],
        seed: int,
    ) -> None:
        """Record a rater's prompt and the two models (left, right) drawn to answer it."""
        with self.store.begin(write=True) as conn:
            sid = self.store.study_id(study_name, conn)
            left, right = (self._model_id(conn, m) for m in models)
            conn.execute(
                insert(LiveBattleRow).values(
                    study_id=sid,
                    token=token,
                    rater=rater,
                    prompt=prompt,
                    left_model_id=left,
                    right_model_id=right,
                    seed=seed,
                )
            )

    def add_image(self, token: str, side: str, image: dict[str, Any]) -> None:
        """Record one side's image (``path`` relative to the image folder, ``sha256``,
        ``width``, ``height``, ``latency_ms``, ``params``)."""
        with self.store.begin(write=True) as conn:
            bid = conn.scalar(select(LiveBattleRow.id).where(LiveBattleRow.token == token))
            if bid is None:
                return  # the battle was never stored (its insert failed): nothing to attach to
            keys = ("path", "sha256", "width", "height", "latency_ms", "params")
            conn.execute(
                insert(LiveImageRow).values(battle_id=bid, side=side, **{k: image[k] for k in keys})
            )

    def add_vote(self, token: str, choice: str, decision_ms: float) -> bool:
        """Record the vote on a battle; False (and nothing written) when it already has one."""
        with self.store.begin(write=True) as conn:
            bid = conn.scalar(select(LiveBattleRow.id).where(LiveBattleRow.token == token))
            if bid is None:
                raise KeyError(token)
            if conn.scalar(select(LiveVoteRow.id).where(LiveVoteRow.battle_id == bid)):
                return False
            conn.execute(
                insert(LiveVoteRow).values(battle_id=bid, choice=choice, decision_ms=decision_ms)
            )
            return True

    def image_path(self, sha256: str) -> str | None:
        """The stored path (under ``live/``) of a live image named by its sha256, else None."""
        with self.store.begin() as conn:
            return conn.scalar(
                select(LiveImageRow.path).where(LiveImageRow.sha256 == sha256).limit(1)
            )

    def count_votes(self, study_name: str) -> int:
        """Live votes of a study (what ``arena report`` says it left out)."""
        query = (
            select(func.count(LiveVoteRow.id))
            .join(LiveBattleRow, LiveBattleRow.id == LiveVoteRow.battle_id)
            .join(StudyRow, StudyRow.id == LiveBattleRow.study_id)
            .where(StudyRow.name == study_name)
        )
        with self.store.begin() as conn:
            return int(conn.scalar(query) or 0)

    def frame(self, study_name: str) -> pd.DataFrame:
        """One row per live vote (:data:`LIVE_COLUMNS`); ``a`` is the left image's model."""
        left_m, right_m = aliased(ModelRow), aliased(ModelRow)
        left_i, right_i = aliased(LiveImageRow), aliased(LiveImageRow)
        b = LiveBattleRow
        query = (
            select(
                b.token.label("battle"),
                b.rater,
                b.prompt,
                left_m.name.label("model_a"),
                right_m.name.label("model_b"),
                LiveVoteRow.choice.label("outcome"),
                LiveVoteRow.decision_ms,
                b.seed,
                left_i.latency_ms.label("latency_ms_a"),
                right_i.latency_ms.label("latency_ms_b"),
                left_i.path.label("image_a"),
                right_i.path.label("image_b"),
                LiveVoteRow.created_at.label("voted_at"),
            )
            .join(LiveVoteRow, LiveVoteRow.battle_id == b.id)
            .join(StudyRow, StudyRow.id == b.study_id)
            .join(left_m, left_m.id == b.left_model_id)
            .join(right_m, right_m.id == b.right_model_id)
            .outerjoin(left_i, (left_i.battle_id == b.id) & (left_i.side == "left"))
            .outerjoin(right_i, (right_i.battle_id == b.id) & (right_i.side == "right"))
            .where(StudyRow.name == study_name)
            .order_by(LiveVoteRow.id)
        )
        with self.store.begin() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=list(LIVE_COLUMNS))
        frame["outcome"] = frame["outcome"].map(OUTCOME_OF_CHOICE)
        # SQLite hands back naive times: they were stored in UTC.
        frame["voted_at"] = pd.to_datetime(frame["voted_at"], utc=True)
        return frame
