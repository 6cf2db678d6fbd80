"""The store interface: everything the worker and the CLI may do to work items.

The dispatch loop talks to this interface only; each database has its own
implementation (`sqlite_store`, `postgres_store`), and locking lives inside
each implementation's claim. Methods that change an item change it in one
transaction together with its audit event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from queues.audit import VerifyResult
from queues.models import (
    ClaimedItem,
    EnqueueResult,
    ItemFilter,
    ItemView,
    NewItem,
    ProcessInfo,
    ProcessSpec,
    QueueStatus,
)


class Store:
    """Abstract store; every method raises until an engine implements it."""

    # -- processes ---------------------------------------------------------
    def upsert_process(self, spec: ProcessSpec, *, actor: str) -> bool:
        """Create or update a process and its queue; True if it was new."""
        raise NotImplementedError

    def get_process(self, name: str) -> ProcessInfo:
        raise NotImplementedError

    def list_processes(self) -> list[ProcessInfo]:
        raise NotImplementedError

    def set_paused(self, name: str, paused: bool, *, actor: str) -> None:
        raise NotImplementedError

    # -- producing ---------------------------------------------------------
    def enqueue(self, process: str, items: Sequence[NewItem], *, actor: str) -> EnqueueResult:
        """Add items in one transaction; known references are returned, not duplicated."""
        raise NotImplementedError

    # -- consuming ---------------------------------------------------------
    def claim(self, process: str, worker_id: str, *, limit: int = 1,
              lease_seconds: float | None = None) -> list[ClaimedItem]:
        """Lease up to `limit` claimable items of one process, best first."""
        raise NotImplementedError

    def heartbeat(self, item_ids: Sequence[int], worker_id: str,
                  lease_seconds: float) -> set[int]:
        """Extend leases; returns the ids whose lease the worker still holds."""
        raise NotImplementedError

    def complete(self, item_id: int, worker_id: str, output: dict[str, Any] | None = None,
                 *, evidence: dict[str, Any] | None = None) -> None:
        raise NotImplementedError

    def complete_many(self, results: Sequence[tuple[int, dict[str, Any] | None]],
                      worker_id: str, *, evidence: dict[str, Any] | None = None) -> None:
        """Complete held items (id, output) in one transaction, an audit event each.

        All or nothing: an item the worker no longer holds raises (as `complete`
        would) and none of the batch is recorded. `evidence` goes on every attempt.
        """
        raise NotImplementedError

    def fail_business(self, item_id: int, worker_id: str, *, code: str, message: str,
                      evidence: dict[str, Any] | None = None) -> None:
        raise NotImplementedError

    def fail_application(self, item_id: int, worker_id: str, *, error_type: str,
                         message: str, code: str | None = None,
                         evidence: dict[str, Any] | None = None) -> str:
        """Record an application error; returns the new status (retry_scheduled or dead)."""
        raise NotImplementedError

    def release(self, item_id: int, worker_id: str, *, reason: str) -> None:
        """Give an unfinished item back without spending one of its attempts."""
        raise NotImplementedError

    def recover_expired(self, *, now: float | None = None) -> list[int]:
        """Return items whose lease expired to the queue (or to dead); their ids."""
        raise NotImplementedError

    def wait_for_work(self, timeout: float) -> bool:
        """Block until work may have arrived or `timeout` passed; True if woken early."""
        raise NotImplementedError

    # -- operating ---------------------------------------------------------
    def retry(self, item_ids: Sequence[int], *, actor: str, reason: str = "") -> list[int]:
        raise NotImplementedError

    def abandon(self, item_ids: Sequence[int], *, actor: str, reason: str) -> list[int]:
        raise NotImplementedError

    def get_item(self, item_id: int) -> ItemView:
        raise NotImplementedError

    def list_items(self, flt: ItemFilter) -> list[ItemView]:
        raise NotImplementedError

    def queue_status(self, *, now: float | None = None,
                     risk_window_seconds: float = 3600.0) -> list[QueueStatus]:
        raise NotImplementedError

    def verify_audit(self) -> VerifyResult:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""
