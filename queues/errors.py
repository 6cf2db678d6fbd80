"""Errors of the queue package: one root, a shallow tree.

    QueueError
    ├── StoreError               the database failed or refused (driver errors wrapped here)
    │   └── StoreUnavailable     it could not be reached at all
    ├── ItemNotFound             no work item with that id
    ├── QueueNotFound            no queue / process of that name
    ├── IllegalTransition        the item's state does not allow the operation
    ├── LeaseLost                the caller no longer holds the item's lease
    ├── PayloadInvalid           a payload fails the process's input schema
    ├── AuditKeyMissing          sealing or checking keyed audit data, or hashing a
    │                            reference, needs a key the store was not given
    └── AuditTampered            a checkpoint would seal a log that contradicts the last

Callers catch `QueueError` to handle everything the queue can say, or a leaf
for the one case they can act on.
"""

from __future__ import annotations


class QueueError(Exception):
    """Root of everything the queue package raises on purpose."""


class StoreError(QueueError):
    """The database failed or refused an operation."""


class StoreUnavailable(StoreError):
    """The database could not be reached."""


class ItemNotFound(QueueError):
    """No work item with that id."""


class QueueNotFound(QueueError):
    """No queue or process with that name."""


class IllegalTransition(QueueError):
    """The item's current state does not allow the requested operation."""


class LeaseLost(QueueError):
    """The caller's lease on the item expired or was taken over.

    Raised on heartbeat or completion by a worker whose lease is gone: the item
    has (or will) come back to the queue, and the worker must drop its result.
    """


class PayloadInvalid(QueueError):
    """A payload does not satisfy the process's input schema."""

    def __init__(self, message: str, *, row: int | None = None, reference: str | None = None):
        self.row = row
        self.reference = reference
        self.reason = message  # without the row and reference, for callers that name them
        where = []
        if row is not None:
            where.append(f"row {row}")
        if reference:
            shown = reference if len(reference) <= 60 else reference[:60] + "…"
            where.append(f"reference {shown!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class RepeatedReference(QueueError):
    """A streamed batch holds the same reference twice; nothing of it was written."""

    def __init__(self, reference: str):
        self.reference = reference
        super().__init__(f"the reference {reference[:60]!r} appears twice in the batch")


class AuditKeyMissing(QueueError):
    """A checkpoint must be sealed (or a keyed chain checked) and the store holds no key."""


class AuditTampered(QueueError):
    """The audit log contradicts its last checkpoint, so no new checkpoint may seal it."""
