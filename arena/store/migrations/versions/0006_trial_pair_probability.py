"""trials.pair_probability and ix_cell_counts_pair: what the adaptive scheduler needs

``trials.pair_probability``: the probability with which the scheduler chose the trial's model
pair (the analysis weights a vote by its inverse, arena.scheduler); NULL for repeat and gold
trials and for every trial issued before this revision. ``ix_cell_counts_pair``: the index
through which the adaptive rule reads one pair's least-served cells.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("pair_probability", sa.Float(), nullable=True))
    op.create_index(
        "ix_cell_counts_pair",
        "cell_counts",
        ["study_id", "model_lo", "model_hi", "active", "n", "draw"],
    )


def downgrade() -> None:
    op.drop_index("ix_cell_counts_pair", table_name="cell_counts")
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("pair_probability")
