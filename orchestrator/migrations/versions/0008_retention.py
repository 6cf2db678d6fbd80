"""retention: what was purged from each item, and its tombstones

Revision ID: 0008
Revises: 0007

`work_items.purged` lists what retention or an erasure removed from an item
(so a purge finds what is still due with one condition), and `item_purges`
keeps a tombstone per removal: when, what, and under which rule.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # a plain ADD COLUMN: batch mode would copy the table, and lose its partial indexes
    op.add_column("work_items", sa.Column("purged", sa.String(length=40), nullable=True))
    op.create_table(
        "item_purges",
        sa.Column("id", BigId, nullable=False),
        sa.Column("item_id", BigId, nullable=False),
        sa.Column("purged_at", sa.Double(), nullable=False),
        sa.Column("fields", sa.String(length=40), nullable=False),
        sa.Column("rule", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_item_purges_item_id", "item_purges", ["item_id"])


def downgrade() -> None:
    op.drop_index("ix_item_purges_item_id", table_name="item_purges")
    op.drop_table("item_purges")
    with op.batch_alter_table("work_items") as batch:
        batch.drop_column("purged")
