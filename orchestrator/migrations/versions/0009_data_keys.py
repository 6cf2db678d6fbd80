"""data keys: per-process keys that seal payloads, outputs and error texts

Revision ID: 0009
Revises: 0008

Each key is stored wrapped by the master key (`RPA_SECRET_KEY` or the key
file), with the id of the master key that wrapped it, so `rpa keys rotate`
re-wraps these few rows instead of rewriting every item. The audit chains' key
lives here too, so a rotation leaves the chains verifiable.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=120), nullable=False),
        sa.Column("wrapped", sa.Text(), nullable=False),
        sa.Column("kek_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("purpose"),
    )


def downgrade() -> None:
    op.drop_table("data_keys")
