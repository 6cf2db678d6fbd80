"""What every store writes alike when items arrive: one audit event per chunk of them.

Pure functions and constants, shared by the SQL stores and the in-memory one, so
their `items.enqueued` events agree to the byte.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from queues.chain import AuditEvent

ENQUEUE_CHUNK = 1000


def enqueued_event(make: Callable[..., AuditEvent], snap: Any, actor: str,
                   now: float, added: Sequence[tuple[str, int]],
                   extra: dict[str, Any] | None = None) -> AuditEvent:
    """One `items.enqueued` event for the items one enqueue transaction added.

    One event per chunk, not per item: per-item events (a hash, two canonical
    JSON texts and five index entries each) cost more than the items
    themselves and capped a bulk enqueue near 13,000 items/s. The event names
    the items by their id range and a digest of their references, and is
    chained like any other, so the batch is as tamper-evident; `item_id` is the
    first id, and `audit_events(item_id=...)` finds the batch of any item in it.
    """
    details = enqueued_details(added, extra)
    return make(snap, actor, "items.enqueued", now, item_id=details["first_id"],
                details=details)


def enqueued_details(added: Sequence[tuple[str, int]],
                     extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """An `items.enqueued` event's details: count, id range and the references' digest."""
    ids = [item_id for _, item_id in added]
    digest = hashlib.sha256("\n".join(ref for ref, _ in added).encode("utf-8")).hexdigest()
    return {**(extra or {}), "count": len(ids), "first_id": min(ids), "last_id": max(ids),
            "references_sha256": digest}


def default_writer(purpose: str) -> str:
    """A chain name unique to this process: host, pid and what it is for."""
    return f"{purpose}@{socket.gethostname()}:{os.getpid()}:{int(time.time())}"
