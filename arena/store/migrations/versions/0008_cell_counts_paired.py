"""cell_counts.paired and ix_cell_counts_paired: only adaptive studies pay for the pair index

0006's ``ix_cell_counts_pair`` (study, pair, active, n, draw) holds ``n`` and ``draw``, which
every issued trial changes, so each vote of every study, on either rule, updated it (17 of the
vote's 503 SQLite VM steps on a balanced study). ``ix_cell_counts_paired`` has the same keys
but is partial: it holds only the rows with ``paired`` set, which the scheduler sets on the
active cells of studies on the adaptive rule (arena.scheduler.cells), the only readers.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

PAIRED = sa.text("paired")


def upgrade() -> None:
    op.drop_index("ix_cell_counts_pair", table_name="cell_counts")
    with op.batch_alter_table("cell_counts") as batch:
        batch.add_column(
            sa.Column("paired", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index(
        "ix_cell_counts_paired",
        "cell_counts",
        ["study_id", "model_lo", "model_hi", "n", "draw"],
        sqlite_where=PAIRED,
        postgresql_where=PAIRED,
    )


def downgrade() -> None:
    op.drop_index("ix_cell_counts_paired", table_name="cell_counts")
    with op.batch_alter_table("cell_counts") as batch:
        batch.drop_column("paired")
    op.create_index(
        "ix_cell_counts_pair",
        "cell_counts",
        ["study_id", "model_lo", "model_hi", "active", "n", "draw"],
    )
