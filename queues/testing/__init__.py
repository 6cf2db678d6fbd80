"""An in-memory store with the SQL store's contract, for unit tests.

`InMemoryStore` honours the same state machine, retry policy, leases,
idempotent references, attempt history and hash-chained audit events as the
SQLite and PostgreSQL stores (`tests/contract/` runs one suite against all
three), so the worker, dispatcher, gate and scheduler can be tested in
milliseconds without a database. It is thread-safe: the worker calls a store
from threads.
"""

from __future__ import annotations

from queues.testing.memory_store import InMemoryStore

__all__ = ["InMemoryStore"]
