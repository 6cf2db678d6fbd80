"""Work items: models, the state machine, and the store on SQLite and PostgreSQL.

This package knows nothing of the orchestrator: it is the queue, usable alone.
`Store` is the only way in (its siblings for nodes, fires, credentials and
queue figures hang off it); `open_store` gives the SQL one for a URL, and
`queues.testing.InMemoryStore` a fake with the same contract for unit tests.
"""

from __future__ import annotations

from queues.chain import ChainKey
from queues.checkpoints import Checkpoint
from queues.errors import (
    AuditKeyMissing,
    AuditTampered,
    IllegalTransition,
    ItemNotFound,
    LeaseLost,
    PayloadInvalid,
    QueueError,
    QueueNotFound,
    StoreError,
    StoreUnavailable,
)
from queues.models import (
    ClaimedItem,
    EnqueueResult,
    ItemFilter,
    ItemView,
    NewItem,
    ProcessInfo,
    ProcessSpec,
)
from queues.retry import RetryDecision, RetryPolicy
from queues.states import Outcome, Priority, Status
from queues.store import Store

__all__ = [
    "AuditKeyMissing", "AuditTampered", "ChainKey", "Checkpoint", "ClaimedItem", "EnqueueResult",
    "IllegalTransition", "ItemFilter", "ItemNotFound",
    "ItemView", "LeaseLost", "NewItem", "Outcome", "PayloadInvalid", "Priority",
    "ProcessInfo", "ProcessSpec", "QueueError", "QueueNotFound", "RetryDecision",
    "RetryPolicy", "Status", "Store", "StoreError", "StoreUnavailable", "open_store",
]


def open_store(url: str, *, writer: str | None = None,
               audit_key: ChainKey | None = None) -> Store:
    """The store for a database URL (sqlite:///... or postgresql+psycopg://...).

    With `audit_key` its audit chain is keyed and it can seal checkpoints.
    """
    from queues.engine import make_engine

    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        from queues.postgres_store import PostgresStore
        return PostgresStore(engine, writer=writer, audit_key=audit_key)
    from queues.sqlite_store import SqliteStore
    return SqliteStore(engine, writer=writer, audit_key=audit_key)
