"""lighter hot path: no chain foreign key on PostgreSQL, an SLA index of items with a due time

Revision ID: 0005
Revises: 0004

Measured with pg_walinspect on the claim+complete loop (bench/queue_bench.py),
every finished item wrote 28 WAL records where the hand-written baseline wrote
11. Two of them bought nothing:

- `audit_events.chain_id -> audit_chains.id`: on PostgreSQL the foreign key runs
  a trigger per audit event that locks the chain row (`FOR KEY SHARE`, a WAL
  record of its own) although the same statement has just updated that row.
  `rpa audit verify` already reports events of no known chain, and chains are
  never deleted, so the key guarded nothing verify does not. SQLite keeps it:
  there the check is one primary-key lookup inside the writer's lock, and
  dropping a constraint would rebuild the whole audit table.
- `ix_work_items_due` indexed every open item, its `due_at` NULL or not, so each
  claim of an item without an SLA or deadline added an index entry nobody reads.
  Every query of it compares `due_at` (`<`, `>=`), which implies `IS NOT NULL`
  to both planners, so the narrower partial index serves the same queries.

The predicates are written out here rather than imported, so this migration keeps
meaning what it meant when it shipped.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OPEN = "status IN ('new', 'retry_scheduled', 'in_progress')"
OLD_DUE = sa.text(OPEN)
NEW_DUE = sa.text(f"due_at IS NOT NULL AND {OPEN}")
CHAIN_FK = "audit_events_chain_id_fkey"  # PostgreSQL's name for 0001's unnamed key


def _recreate_due_index(where: sa.TextClause) -> None:
    op.drop_index("ix_work_items_due", table_name="work_items")
    op.create_index("ix_work_items_due", "work_items", ["queue_id", "due_at"],
                    sqlite_where=where, postgresql_where=where)


def upgrade() -> None:
    _recreate_due_index(NEW_DUE)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(CHAIN_FK, "audit_events", type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_foreign_key(CHAIN_FK, "audit_events", "audit_chains", ["chain_id"], ["id"])
    _recreate_due_index(OLD_DUE)
