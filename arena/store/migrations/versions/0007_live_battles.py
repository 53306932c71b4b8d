"""live_battles, live_images, live_votes: the live arena's prompts, images and votes

Raters' own prompts (arena.live), the two images drawn for each (saved under the study's
``<images>/live/``) and the vote, in tables of their own: the controlled study's ``trials`` and
``votes`` are untouched, so its comparisons and report stay what they were.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), primary_key=True)


def _battle_id() -> sa.Column:
    return sa.Column(
        "battle_id",
        sa.Integer(),
        sa.ForeignKey("live_battles.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "live_battles",
        _id(),
        sa.Column(
            "study_id",
            sa.Integer(),
            sa.ForeignKey("studies.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("rater", sa.String(200), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("left_model_id", sa.Integer(), sa.ForeignKey("models.id"), nullable=False),
        sa.Column("right_model_id", sa.Integer(), sa.ForeignKey("models.id"), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("token"),
    )
    op.create_table(
        "live_images",
        _id(),
        _battle_id(),
        sa.Column("side", sa.String(10), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.UniqueConstraint("battle_id", "side"),
        sa.CheckConstraint("side IN ('left', 'right')", name="ck_live_images_side"),
    )
    op.create_index("ix_live_images_sha256", "live_images", ["sha256"])
    op.create_table(
        "live_votes",
        _id(),
        _battle_id(),
        sa.Column("choice", sa.String(20), nullable=False),
        sa.Column("decision_ms", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("battle_id"),
        sa.CheckConstraint(
            "choice IN ('left', 'right', 'tie', 'both_bad')", name="ck_live_votes_choice"
        ),
        sa.CheckConstraint("decision_ms >= 0", name="ck_live_votes_decision_ms"),
    )


def downgrade() -> None:
    op.drop_table("live_votes")
    op.drop_index("ix_live_images_sha256", table_name="live_images")
    op.drop_table("live_images")
    op.drop_table("live_battles")
