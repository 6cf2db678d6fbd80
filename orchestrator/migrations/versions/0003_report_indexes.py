"""reports: a covering index for the freed-hours ledger, and automation candidates

Revision ID: 0003
Revises: 0002

The report queries aggregate a period's attempt-ending audit events per process.
`ix_audit_events_report` holds exactly those events (a partial index) and every
column the aggregation reads (a covering index), ordered by time: a period is one
contiguous range of a narrow index, and the wide audit rows (hashes, details) are
never read. Measured with 1,000,000 events (bench/report_bench.py): see the
numbers in that script's docstring.

The predicate is written out here rather than imported, so this migration keeps
meaning what it meant when it shipped.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ATTEMPT_END = sa.text(
    "action IN ('item.completed', 'item.business_failed', 'item.retry_scheduled', "
    "'item.dead', 'item.lease_expired', 'item.released')"
)
REPORT_COLUMNS = ["ts", "process", "owner", "cost_centre", "action", "freed_minutes",
                  "robot_seconds"]


def upgrade() -> None:
    op.create_index("ix_audit_events_report", "audit_events", REPORT_COLUMNS,
                    sqlite_where=ATTEMPT_END, postgresql_where=ATTEMPT_END)
    op.create_table(
        "candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("volume_per_month", sa.Double(), nullable=False),
        sa.Column("minutes_per_item", sa.Double(), nullable=False),
        sa.Column("rule_based_share", sa.Double(), nullable=False),
        sa.Column("target_stability", sa.String(length=10), nullable=False),
        sa.Column("digital_input", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("process", sa.String(length=100), nullable=True),
        sa.Column("notes", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("candidates")
    op.drop_index("ix_audit_events_report", table_name="audit_events",
                  sqlite_where=ATTEMPT_END, postgresql_where=ATTEMPT_END)
