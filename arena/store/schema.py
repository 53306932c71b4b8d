"""Database tables of the arena (the Database contract of docs/design.md).

Plain SQL types only (no SQLite-only features) so the same schema runs on PostgreSQL.
Rater rows hold pseudonymous ids and panel references; never an IP address.
Every change here needs a revision in ``arena/store/migrations/versions/`` (see
:mod:`arena.store.migrate`); ``tests/arena/test_migrations.py`` checks that they agree.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from arena.choices import CHOICES

__all__ = [
    "Base",
    "StudyRow",
    "ModelRow",
    "PromptRow",
    "ImageRow",
    "RaterRow",
    "TrialRow",
    "VoteRow",
    "CellCountRow",
    "ConsentRefusalRow",
    "LiveBattleRow",
    "LiveImageRow",
    "LiveVoteRow",
    "RATER_SOURCES",
]

#: Where a rater id came from.
RATER_SOURCES = ("url", "prolific", "mturk", "generated")


def utcnow() -> datetime:
    """Timezone-aware now, so stored times mean the same on every server."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base of the arena tables."""


class StudyRow(Base):
    """One study, keyed by the study file's stable ``name``."""

    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(500), default="")
    #: Model id -> the display name its card had when the study was last ingested, so a report
    #: does not depend on today's cards. None: ingested before revision 0005 (never recorded).
    display_names: Mapped[dict[str, str] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModelRow(Base):
    """A model card id. Shared by studies: card ids are stable keys, never renamed."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PromptRow(Base):
    """A prompt of one study's prompt set (ids are only unique within a prompt set)."""

    __tablename__ = "prompts"
    __table_args__ = (UniqueConstraint("study_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(200), default="")
    challenge: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")


class ImageRow(Base):
    """One generated image of a study's image set, with everything that made it."""

    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("study_id", "model_id", "prompt_id", "seed"),
        UniqueConstraint("study_id", "path"),
        Index("ix_images_sha256", "sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id"))
    seed: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(1000))  # relative to the study's image folder
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    latency_ms: Mapped[float | None] = mapped_column(Float, default=None)


class RaterRow(Base):
    """A pseudonymous rater of one study, with optional panel (Prolific/MTurk) references."""

    __tablename__ = "raters"
    __table_args__ = (
        UniqueConstraint("study_id", "external_id"),
        CheckConstraint(f"source IN {RATER_SOURCES!r}", name="ck_raters_source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))
    panel_study_id: Mapped[str | None] = mapped_column(String(200), default=None)
    panel_session_id: Mapped[str | None] = mapped_column(String(200), default=None)
    panel_assignment_id: Mapped[str | None] = mapped_column(String(200), default=None)
    #: sha256 of the secret the browser that joined keeps: binds the rater id to that browser.
    secret_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    #: When the rater agreed to the study's consent text (None where the study asks none).
    consented_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TrialRow(Base):
    """A comparison the server issued to one rater; the token is what the vote must present."""

    __tablename__ = "trials"
    __table_args__ = (Index("ix_trials_study_rater", "study_id", "rater_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    rater_id: Mapped[int] = mapped_column(ForeignKey("raters.id", ondelete="CASCADE"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id"))
    question: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="2afc")
    left_image_id: Mapped[int] = mapped_column(ForeignKey("images.id"))
    right_image_id: Mapped[int] = mapped_column(ForeignKey("images.id"))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    #: A ``repeat`` trial's original (the same rater's earlier trial, sides swapped).
    repeat_of: Mapped[int | None] = mapped_column(
        ForeignKey("trials.id", ondelete="CASCADE", name="fk_trials_repeat_of"), default=None
    )
    #: A ``gold`` trial's expected answer, ``left`` or ``right`` (arena.gold).
    expected: Mapped[str | None] = mapped_column(String(10), default=None)
    #: Probability with which the scheduler chose this trial's model pair (rated and practice
    #: trials since revision 0006; NULL for repeat and gold trials and older trials).
    pair_probability: Mapped[float | None] = mapped_column(Float, default=None)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConsentRefusalRow(Base):
    """A declined consent: counted, and nothing else about the person is kept."""

    __tablename__ = "consent_refusals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VoteRow(Base):
    """The answer to exactly one trial (unique), with the client-measured decision time."""

    __tablename__ = "votes"
    __table_args__ = (
        # Every response of arena.choices; a study enables a subset (Study.choices).
        CheckConstraint(f"choice IN {CHOICES!r}", name="ck_votes_choice"),
        CheckConstraint("decision_ms >= 0", name="ck_votes_decision_ms"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"), unique=True)
    choice: Mapped[str] = mapped_column(String(20))
    decision_ms: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CellCountRow(Base):
    """Trials issued per scheduling cell (prompt, unordered model pair, question).

    Derived data: ``n`` is the number of trials of the cell, kept in step with ``trials`` by
    the store in the transaction that inserts each trial (``n = n + 1``, which stays right with
    several server processes on PostgreSQL too), so the scheduler reads the few least-served
    rows through ``ix_cell_counts_pick`` instead of counting every trial per vote. ``draw`` is
    a random number redrawn on every increment: ordering by ``(n, draw)`` gives each round of
    the study a fresh random order of its cells. ``active`` marks the cells of the study's
    current models and questions. The store creates a study's rows (at ``n = 0``, before
    the cell's first trial) when it first schedules the study. ``paired`` marks the active
    cells of a study on the adaptive rule, the rows of the partial ``ix_cell_counts_paired``
    through which that rule reads one pair's least-served cells (revision 0008).
    """

    __tablename__ = "cell_counts"
    __table_args__ = (
        UniqueConstraint("study_id", "prompt_id", "model_lo", "model_hi", "question"),
        Index("ix_cell_counts_pick", "study_id", "active", "n", "draw"),
        # Partial: only adaptive studies' rows, so that other studies' votes leave it alone.
        Index(
            "ix_cell_counts_paired",
            "study_id",
            "model_lo",
            "model_hi",
            "n",
            "draw",
            sqlite_where=text("paired"),
            postgresql_where=text("paired"),
        ),  # fmt: skip
        CheckConstraint("model_lo < model_hi", name="ck_cell_counts_pair"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id"))
    model_lo: Mapped[int] = mapped_column(ForeignKey("models.id"))
    model_hi: Mapped[int] = mapped_column(ForeignKey("models.id"))
    question: Mapped[str] = mapped_column(String(200))
    n: Mapped[int] = mapped_column(Integer, default=0)
    draw: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    paired: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class LiveBattleRow(Base):
    """A prompt a rater typed in live mode and the two models drawn to answer it.

    Live rows are apart from the controlled study's (``trials``, ``votes``): the comparisons
    frame never reads them, so the controlled analysis is the same with or without live mode.
    """

    __tablename__ = "live_battles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    #: Pseudonymous id the live page made (or the ``rater`` of its link); never an IP.
    rater: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text)
    left_model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    right_model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    seed: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LiveImageRow(Base):
    """One side's generated image of a live battle, saved under ``<images>/live/``."""

    __tablename__ = "live_images"
    __table_args__ = (
        UniqueConstraint("battle_id", "side"),
        Index("ix_live_images_sha256", "sha256"),
        CheckConstraint("side IN ('left', 'right')", name="ck_live_images_side"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    battle_id: Mapped[int] = mapped_column(ForeignKey("live_battles.id", ondelete="CASCADE"))
    side: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(1000))  # relative to the study's image folder
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LiveVoteRow(Base):
    """The answer to one live battle (at most one), with the client-measured decision time."""

    __tablename__ = "live_votes"
    __table_args__ = (
        CheckConstraint(f"choice IN {CHOICES!r}", name="ck_live_votes_choice"),
        CheckConstraint("decision_ms >= 0", name="ck_live_votes_decision_ms"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    battle_id: Mapped[int] = mapped_column(
        ForeignKey("live_battles.id", ondelete="CASCADE"), unique=True
    )
    choice: Mapped[str] = mapped_column(String(20))
    decision_ms: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
