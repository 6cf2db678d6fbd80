"""scheduling: worker nodes, schedule fires, APScheduler's job table

Revision ID: 0004
Revises: 0003

`schedule_fires` is what makes a time trigger fire once across a cluster: one
row per (process, scheduled time), unique, inserted in the transaction that
enqueues the fire's items. `workers` is the node registry behind `rpa workers`.
`apscheduler_jobs` has the layout APScheduler's SQLAlchemyJobStore expects (it
would create it itself; creating it here keeps one owner of the schema).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("node", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.Double(), nullable=False),
        sa.Column("heartbeat_at", sa.Double(), nullable=False),
        sa.Column("beat_seconds", sa.Double(), nullable=False),
        sa.Column("stopped_at", sa.Double(), nullable=True),
        sa.Column("leader", sa.Boolean(), nullable=False),
        sa.Column("slots", JSON, nullable=False),
        sa.Column("processes", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "schedule_fires",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("process", sa.String(length=100), nullable=False),
        sa.Column("trigger_key", sa.String(length=191), nullable=False),
        sa.Column("scheduled_at", sa.Double(), nullable=False),
        sa.Column("fired_at", sa.Double(), nullable=False),
        sa.Column("node", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("items_added", sa.Integer(), nullable=False),
        sa.Column("items_existing", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("process", "scheduled_at", name="uq_schedule_fires_process_time"),
    )
    op.create_index("ix_schedule_fires_trigger", "schedule_fires",
                    ["trigger_key", "scheduled_at"])
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_apscheduler_jobs_next_run_time", "apscheduler_jobs",
                    ["next_run_time"])


def downgrade() -> None:
    op.drop_index("ix_apscheduler_jobs_next_run_time", table_name="apscheduler_jobs")
    op.drop_table("apscheduler_jobs")
    op.drop_index("ix_schedule_fires_trigger", table_name="schedule_fires")
    op.drop_table("schedule_fires")
    op.drop_table("workers")
