"""leader lease with terms, alerts with deliveries and silences, the circuit breaker

Revision ID: 0012
Revises: 0011

Leadership moves from a session advisory lock (held until the server notices a
dead session, which can take hours) to a lease row that expires on its own and
carries a term for fencing. Alerts are rows unique per (rule, subject), so each
is raised once across restarts and nodes; deliveries record each channel's
attempts. The breaker's state lives on the process row it pauses.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "leader_leases",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("term", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", BigId, nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("process", sa.String(length=100), nullable=True),
        sa.Column("raised_at", sa.Double(), nullable=False),
        sa.Column("raised_by", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("details", JSONType, nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rule", "subject", name="uq_alerts_rule_subject"),
    )
    op.create_index("ix_alerts_state", "alerts", ["state"])
    op.create_index("ix_alerts_raised", "alerts", ["raised_at"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", BigId, nullable=False),
        sa.Column("alert_id", BigId, nullable=False),
        sa.Column("channel", sa.String(length=60), nullable=False),
        sa.Column("recipients", JSONType, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.Double(), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("sent_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("alert_id", "channel", name="uq_alert_deliveries_alert_channel"),
    )
    op.create_index("ix_alert_deliveries_due", "alert_deliveries", ["status", "next_at"])
    op.create_table(
        "alert_silences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("process", sa.String(length=100), nullable=True),
        sa.Column("until", sa.Double(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_silences_until", "alert_silences", ["until"])
    with op.batch_alter_table("processes") as batch:
        batch.add_column(sa.Column("breaker_state", sa.String(length=10), nullable=False,
                                   server_default="closed"))
        batch.add_column(sa.Column("breaker_failures", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("breaker_since", sa.Double(), nullable=True))
        batch.add_column(sa.Column("breaker_opened_at", sa.Double(), nullable=True))
        batch.add_column(sa.Column("breaker_probe_at", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("processes") as batch:
        for name in ("breaker_probe_at", "breaker_opened_at", "breaker_since",
                     "breaker_failures", "breaker_state"):
            batch.drop_column(name)
    op.drop_table("alert_silences")
    op.drop_table("alert_deliveries")
    op.drop_table("alerts")
    op.drop_table("leader_leases")
