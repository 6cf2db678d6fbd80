"""review tasks and versions of the organisation tree

Revision ID: 0011
Revises: 0010

A business exception or a dead item opens a review task in the same
transaction, so a person is always given it; its resolution records the
minutes a person actually spent, which the net freed-hours report subtracts.
The organisation tree is kept as dated versions so that moving a unit never
changes how an earlier period rolls up.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "review_tasks",
        sa.Column("id", BigId, nullable=False),
        sa.Column("item_id", BigId, nullable=False),
        sa.Column("process", sa.String(length=100), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("cost_centre", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=True),
        sa.Column("estimate_minutes", sa.Double(), nullable=False),
        sa.Column("opened_at", sa.Double(), nullable=False),
        sa.Column("review_group", sa.String(length=63), nullable=True),
        sa.Column("due_at", sa.Double(), nullable=True),
        sa.Column("placed", sa.Boolean(), nullable=False),
        sa.Column("escalated_at", sa.Double(), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.Double(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("minutes", sa.Double(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("resolved_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_review_tasks_open", "review_tasks", ["status", "review_group", "due_at"])
    op.create_index("ix_review_tasks_opened", "review_tasks", ["opened_at"])
    op.create_index("ix_review_tasks_item", "review_tasks", ["item_id"])
    op.create_table(
        "organisation_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Double(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("document", JSONType, nullable=False),
        sa.Column("loaded_at", sa.Double(), nullable=False),
        sa.Column("loaded_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_organisation_versions_valid_from", "organisation_versions",
                    ["valid_from"])


def downgrade() -> None:
    op.drop_table("organisation_versions")
    op.drop_table("review_tasks")
