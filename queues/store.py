"""The store interface: everything the worker, the scheduler and the CLI may do.

Nothing outside `queues` runs SQL on the queue's tables: the dispatch loop, the
scheduler and the CLI talk to this interface only. Each database has its own
implementation (`sqlite_store`, `postgres_store`), and an in-memory one serves
the unit tests (`queues.testing`); locking lives inside each implementation's
claim. Methods that change an item change it in one transaction together with
its audit event.

Beside the work items, a store hands out the small sibling stores that share
its database and audit chain: `nodes` (the node registry), `fires` (scheduled
fires and their items), `credentials` (ciphertexts), `monitor` (cheap queue
figures) and `leadership()` (the scheduler's lock).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from queues.account_store import AccountStore
from queues.alert_store import AlertStore
from queues.chain import VerifyResult
from queues.checkpoints import Checkpoint
from queues.credential_store import CredentialStore
from queues.fire_store import FireStore
from queues.key_store import KeyStore
from queues.leadership import Leadership
from queues.models import (
    ClaimedItem,
    EnqueueCount,
    EnqueueResult,
    ItemFilter,
    ItemView,
    NewItem,
    ProcessInfo,
    ProcessSpec,
    QueueStatus,
)
from queues.monitor import QueueMonitor
from queues.node_store import NodeStore
from queues.organisation_store import OrganisationStore
from queues.retention_store import RetentionStore
from queues.review_store import ReviewStore


class Store:
    """Abstract store; every method raises until an engine implements it."""

    writer: str  # the name of this store's audit chain
    clock: Callable[[], float]  # seconds since the epoch; tests pass a fake
    nodes: NodeStore
    fires: FireStore
    credentials: CredentialStore
    monitor: QueueMonitor
    retention: RetentionStore
    keys: KeyStore
    accounts: AccountStore  # console and API logins, tokens, sessions
    review: ReviewStore  # a person's tasks for business exceptions and dead items
    organisation: OrganisationStore  # dated versions of the organisation tree
    alerts: AlertStore  # one alert per rule and subject, and its deliveries

    def ping(self) -> None:
        """One round trip to the database; StoreError when it cannot be reached."""
        raise NotImplementedError

    def reconnect(self) -> None:
        """Drop every pooled connection (after an outage): the next use opens new ones."""

    def leadership(self) -> Leadership:
        """The scheduler's lock on this store's database (a new one each call)."""
        raise NotImplementedError

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
    def enqueue_stream(self, process: str, chunks: Iterable[Sequence[NewItem]], *,
                       actor: str, progress: Callable[[int], None] | None = None,
                       keep_ids: bool = False) -> EnqueueCount:
        """Add the chunks' items in ONE transaction, reading each chunk only when the
        previous one is written: memory follows a chunk, not the whole batch.

        Each chunk is validated as `enqueue` validates; a reference repeated within
        the batch raises `RepeatedReference`, and any error (the caller's iterator
        raising too) writes nothing at all. `keep_ids` returns every id.
        """
        raise NotImplementedError

    def enqueue(self, process: str, items: Sequence[NewItem], *, actor: str,
                progress: Callable[[int], None] | None = None) -> EnqueueResult:
        """Add items in one transaction; known references are returned, not duplicated.

        Payloads are validated against the process's input schema first
        (`PayloadInvalid` names the row); `progress` hears how many were written.
        """
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

    # -- audit -----------------------------------------------------------------
    def record_event(self, *, actor: str, action: str, details: dict[str, Any],
                     process: str | None = None) -> None:
        """Append a standalone audit event (a credential read, a worker start)."""
        raise NotImplementedError

    def audit_events(self, *, limit: int = 50, item_id: int | None = None,
                     process: str | None = None, action: str | None = None,
                     since: float | None = None,
                     until: float | None = None) -> list[dict[str, Any]]:
        """Latest events first, filtered (`action` may end in `*`); rows as plain dicts.

        `since` and `until` bound the time (from, inclusive; to, exclusive).
        With `item_id`, the item's own events and the `items.enqueued` batch
        event that added it.
        """
        raise NotImplementedError

    def verify_audit(self, against: Checkpoint | None = None) -> VerifyResult:
        """Walk every chain; with the store's audit key also hold the database against
        the latest checkpoint and `against` (one exported earlier)."""
        raise NotImplementedError

    def audit_key_status(self) -> str:
        """Whether this store's audit key is the one the log is sealed with: "missing" (no
        key), "wrong" (the last checkpoint's seal does not hold under it), "ok", or
        "unproven" (no checkpoint yet). Cheap: one row; commands that write run it first."""
        raise NotImplementedError

    def checkpoint_audit(self, *, actor: str) -> Checkpoint:
        """Seal every chain's writer, length and head under the audit key, after the last
        checkpoint (`AuditKeyMissing` without a key)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""
