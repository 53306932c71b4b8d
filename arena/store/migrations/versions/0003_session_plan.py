"""The session plan: repeat trials, consent given, consent declined

- ``trials.repeat_of``: a repeat trial names the trial it shows again (sides swapped); NULL
  for every other trial and for every trial issued before this revision.
- ``raters.consented_at``: when the rater agreed to the study's consent text (NULL where the
  study asks for none, and for raters who joined before this revision).
- ``consent_refusals``: one row per declined consent, holding nothing about the person.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("repeat_of", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_trials_repeat_of", "trials", ["repeat_of"], ["id"], ondelete="CASCADE"
        )
    with op.batch_alter_table("raters") as batch:
        batch.add_column(sa.Column("consented_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "consent_refusals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "study_id",
            sa.Integer(),
            sa.ForeignKey("studies.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("consent_refusals")
    with op.batch_alter_table("raters") as batch:
        batch.drop_column("consented_at")
    with op.batch_alter_table("trials") as batch:
        batch.drop_constraint("fk_trials_repeat_of", type_="foreignkey")
        batch.drop_column("repeat_of")
