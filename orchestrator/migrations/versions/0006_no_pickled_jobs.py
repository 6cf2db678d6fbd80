"""no pickled scheduler jobs: drop APScheduler's job table

Revision ID: 0006
Revises: 0005

`apscheduler_jobs` held APScheduler's SQLAlchemyJobStore rows, whose
`job_state` is a pickle that the scheduler unpickled on start: one planted row
ran code on the scheduler node, which also holds the key to every stored
credential. The scheduler now rebuilds its jobs from the registered processes'
triggers and catches up from `schedule_fires` (plain data), so the table goes.
Its downgrade recreates it empty, in 0004's layout.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_apscheduler_jobs_next_run_time", table_name="apscheduler_jobs")
    op.drop_table("apscheduler_jobs")


def downgrade() -> None:
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_apscheduler_jobs_next_run_time", "apscheduler_jobs",
                    ["next_run_time"])
