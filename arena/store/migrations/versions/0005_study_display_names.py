"""studies.display_names: each model's display name as its card said at ingest

A JSON object, model id -> display name, written by every ingest of the study (serve start-up),
so that reports show the names the study was run with, not those of today's cards. NULL for
studies ingested before this revision: the report then falls back to the cards.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("studies") as batch:
        batch.add_column(sa.Column("display_names", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("studies") as batch:
        batch.drop_column("display_names")
