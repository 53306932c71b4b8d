"""release 0.1 schema

The tables exactly as release 0.1 created them with ``Base.metadata.create_all``: a database
written by that release is stamped at this revision and carried forward from here. Frozen:
never edit this file, add a revision instead.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

RELEASE_TABLES = (
    "studies",
    "models",
    "prompts",
    "images",
    "raters",
    "trials",
    "votes",
    "cell_counts",
)


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), primary_key=True)


def _created_at() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def _study_id() -> sa.Column:
    return sa.Column(
        "study_id", sa.Integer(), sa.ForeignKey("studies.id", ondelete="CASCADE"), nullable=False
    )


def _ref(name: str, target: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), sa.ForeignKey(target), nullable=False)


def upgrade() -> None:
    # Constraints are left unnamed where create_all left them unnamed, so that the database
    # gives them the same names as it gave a release-0.1 database (models_name_key, ...).
    op.create_table(
        "studies",
        _id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        _created_at(),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "models",
        _id(),
        sa.Column("name", sa.String(200), nullable=False),
        _created_at(),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "prompts",
        _id(),
        _study_id(),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("category", sa.String(200), nullable=False),
        sa.Column("challenge", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.UniqueConstraint("study_id", "key"),
    )
    op.create_table(
        "images",
        _id(),
        _study_id(),
        _ref("model_id", "models.id"),
        _ref("prompt_id", "prompts.id"),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.UniqueConstraint("study_id", "model_id", "prompt_id", "seed"),
        sa.UniqueConstraint("study_id", "path"),
    )
    op.create_index("ix_images_sha256", "images", ["sha256"])
    op.create_table(
        "raters",
        _id(),
        _study_id(),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("panel_study_id", sa.String(200), nullable=True),
        sa.Column("panel_session_id", sa.String(200), nullable=True),
        sa.Column("panel_assignment_id", sa.String(200), nullable=True),
        _created_at(),
        sa.UniqueConstraint("study_id", "external_id"),
        sa.CheckConstraint(
            "source IN ('url', 'prolific', 'mturk', 'generated')", name="ck_raters_source"
        ),
    )
    op.create_table(
        "trials",
        _id(),
        _study_id(),
        sa.Column(
            "rater_id", sa.Integer(), sa.ForeignKey("raters.id", ondelete="CASCADE"), nullable=False
        ),
        _ref("prompt_id", "prompts.id"),
        sa.Column("question", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        _ref("left_image_id", "images.id"),
        _ref("right_image_id", "images.id"),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("token"),
    )
    op.create_index("ix_trials_study_rater", "trials", ["study_id", "rater_id"])
    op.create_table(
        "votes",
        _id(),
        sa.Column(
            "trial_id", sa.Integer(), sa.ForeignKey("trials.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("choice", sa.String(20), nullable=False),
        sa.Column("decision_ms", sa.Float(), nullable=False),
        _created_at(),
        sa.UniqueConstraint("trial_id"),
        sa.CheckConstraint(
            "choice IN ('left', 'right', 'tie', 'both_bad')", name="ck_votes_choice"
        ),
        sa.CheckConstraint("decision_ms >= 0", name="ck_votes_decision_ms"),
    )
    op.create_table(
        "cell_counts",
        _id(),
        _study_id(),
        _ref("prompt_id", "prompts.id"),
        _ref("model_lo", "models.id"),
        _ref("model_hi", "models.id"),
        sa.Column("question", sa.String(200), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("draw", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("study_id", "prompt_id", "model_lo", "model_hi", "question"),
        sa.CheckConstraint("model_lo < model_hi", name="ck_cell_counts_pair"),
    )
    op.create_index("ix_cell_counts_pick", "cell_counts", ["study_id", "active", "n", "draw"])


def downgrade() -> None:
    # Children before the tables they reference.
    for table in RELEASE_TABLES[::-1]:
        op.drop_table(table)
