"""initial schema: processes, queues, work items, attempts, audit

Revision ID: 0001
Revises:
Create Date: 2026-11-23 20:51:20.238864
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

CLAIMABLE = sa.text("status IN ('new', 'retry_scheduled')")


def upgrade() -> None:
    op.create_table('attempts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.String(length=200), nullable=False),
    sa.Column('started_at', sa.Double(), nullable=False),
    sa.Column('ended_at', sa.Double(), nullable=False),
    sa.Column('outcome', sa.String(length=30), nullable=False),
    sa.Column('error_type', sa.String(length=200), nullable=True),
    sa.Column('error_code', sa.String(length=100), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('evidence', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attempts_item_id'), ['item_id'], unique=False)

    op.create_table('audit_chains',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('writer', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.Double(), nullable=False),
    sa.Column('head_hash', sa.String(length=64), nullable=False),
    sa.Column('length', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('writer')
    )
    op.create_table('processes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('cost_centre', sa.String(length=100), nullable=False),
    sa.Column('bot', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('manual_minutes_per_item', sa.Double(), nullable=False),
    sa.Column('exception_minutes_per_item', sa.Double(), server_default='0', nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('backoff_seconds', sa.Double(), nullable=False),
    sa.Column('backoff_max_seconds', sa.Double(), nullable=False),
    sa.Column('lease_seconds', sa.Double(), nullable=False),
    sa.Column('concurrency', sa.Integer(), nullable=False),
    sa.Column('default_priority', sa.Integer(), nullable=False),
    sa.Column('sla_minutes', sa.Double(), nullable=True),
    sa.Column('input_schema', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('definition', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.Double(), nullable=False),
    sa.Column('updated_at', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('chain_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('process', sa.String(length=100), nullable=True),
    sa.Column('owner', sa.String(length=200), nullable=True),
    sa.Column('cost_centre', sa.String(length=100), nullable=True),
    sa.Column('item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('freed_minutes', sa.Double(), nullable=True),
    sa.Column('robot_seconds', sa.Double(), nullable=True),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['chain_id'], ['audit_chains.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('chain_id', 'seq', name='uq_audit_events_chain_seq')
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_item', ['item_id'], unique=False)
        batch_op.create_index('ix_audit_events_ts', ['ts'], unique=False)

    op.create_table('queues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('process_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['process_id'], ['processes.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    with op.batch_alter_table('queues', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_queues_process_id'), ['process_id'], unique=False)

    op.create_table('work_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('queue_id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('deadline', sa.Double(), nullable=True),
    sa.Column('deadline_order', sa.Double(), nullable=False),
    sa.Column('due_at', sa.Double(), nullable=True),
    sa.Column('available_at', sa.Double(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('attempt_limit', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=200), nullable=True),
    sa.Column('lease_expires_at', sa.Double(), nullable=True),
    sa.Column('attempt_started_at', sa.Double(), nullable=True),
    sa.Column('output', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('error_type', sa.String(length=200), nullable=True),
    sa.Column('error_code', sa.String(length=100), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('created_at', sa.Double(), nullable=False),
    sa.Column('updated_at', sa.Double(), nullable=False),
    sa.Column('finished_at', sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('queue_id', 'reference', name='uq_work_items_queue_reference')
    )
    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.create_index('ix_work_items_due', ['queue_id', 'due_at'], unique=False, sqlite_where=sa.text("status IN ('new', 'retry_scheduled', 'in_progress')"), postgresql_where=sa.text("status IN ('new', 'retry_scheduled', 'in_progress')"))
        batch_op.create_index('ix_work_items_lease', ['lease_expires_at'], unique=False, sqlite_where=sa.text("status = 'in_progress'"), postgresql_where=sa.text("status = 'in_progress'"))
        batch_op.create_index('ix_work_items_queue_status_created', ['queue_id', 'status', 'created_at'], unique=False)
        batch_op.create_index('ix_work_items_updated', ['updated_at'], unique=False)
    # The claim's index: best first among claimable items only (autogenerate skips it).
    op.create_index('ix_work_items_claim', 'work_items',
                    ['queue_id', sa.text('priority DESC'), 'deadline_order', 'id'],
                    sqlite_where=CLAIMABLE, postgresql_where=CLAIMABLE)




def downgrade() -> None:
    op.drop_index('ix_work_items_claim', table_name='work_items')
    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.drop_index('ix_work_items_updated')
        batch_op.drop_index('ix_work_items_queue_status_created')
        batch_op.drop_index('ix_work_items_lease', sqlite_where=sa.text("status = 'in_progress'"), postgresql_where=sa.text("status = 'in_progress'"))
        batch_op.drop_index('ix_work_items_due', sqlite_where=sa.text("status IN ('new', 'retry_scheduled', 'in_progress')"), postgresql_where=sa.text("status IN ('new', 'retry_scheduled', 'in_progress')"))

    op.drop_table('work_items')
    with op.batch_alter_table('queues', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_queues_process_id'))

    op.drop_table('queues')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_ts')
        batch_op.drop_index('ix_audit_events_item')

    op.drop_table('audit_events')
    op.drop_table('processes')
    op.drop_table('audit_chains')
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attempts_item_id'))

    op.drop_table('attempts')

