"""raters.secret_hash: bind a rater id to the browser that joined

The sha256 (hex) of a per-rater secret the browser keeps. NULL for raters who joined before
this revision.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("raters") as batch:
        batch.add_column(sa.Column("secret_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("raters") as batch:
        batch.drop_column("secret_hash")
