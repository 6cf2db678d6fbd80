"""keyed audit chains and checkpoints

Revision ID: 0007
Revises: 0006

Chains written from now on are hashed with HMAC-SHA256 under a key kept
outside the database (`audit_chains.keyed`), and `audit_checkpoints` records
every chain's writer, length and head under the same key. The chains already
there stay as they are (plain SHA-256) and are renamed "<writer> [unkeyed]", so
their writers start keyed chains of their own; `rpa db upgrade` then writes the
first checkpoint, which vouches for them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SUFFIX = " [unkeyed]"


def upgrade() -> None:
    op.add_column("audit_chains", sa.Column("keyed", sa.Boolean(), nullable=False,
                                            server_default=sa.false()))
    op.execute(sa.text("UPDATE audit_chains SET writer = substr(writer, 1, 189) || :suffix")
               .bindparams(suffix=SUFFIX))
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("prev_mac", sa.String(length=64), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
    op.execute(sa.text("UPDATE audit_chains SET writer = substr(writer, 1, length(writer) - "
                       ":n) WHERE writer LIKE :pattern")
               .bindparams(n=len(SUFFIX), pattern=f"%{SUFFIX}"))
    with op.batch_alter_table("audit_chains") as batch:
        batch.drop_column("keyed")
