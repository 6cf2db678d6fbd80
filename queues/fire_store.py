"""The fires' interface: one record per (process, scheduled time), and its items with it.

`record_fire` is the single place a fire (or a missed fire) becomes real. In one transaction it
records the fire (refused when that process and time fired already), then the
items the feeder produced, their `items.enqueued` events (each naming the
fire) and one `schedule.fired` (or `schedule.failed`) event. If the record was
there already, another node (or an earlier attempt of this one) fired that
time and nothing else is written; if the node dies before commit, nothing was
written and the next leader fires the time again. Either way a scheduled time
fires once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from queues.leadership import Fence
from queues.models import NewItem


@dataclass(frozen=True)
class FireResult:
    """What one fire did: `recorded` False means that time had fired already."""

    recorded: bool
    status: str
    added: int = 0
    existing: int = 0
    fire_id: int | None = None


class FireStore:
    """Records fires and answers what fired when."""

    def already_fired(self, process: str, scheduled_at: float) -> bool:
        raise NotImplementedError

    def last_fire(self, trigger_key: str) -> float | None:
        """The latest scheduled time this trigger fired (or failed) for."""
        raise NotImplementedError

    def recent_fires(self, processes: Sequence[str] | None = None,
                     limit: int = 1) -> dict[str, list[dict[str, Any]]]:
        """The latest `limit` fires of each process, newest first, as plain dicts
        (process, trigger_key, scheduled_at, fired_at, node, status, items_added,
        items_existing, error)."""
        raise NotImplementedError

    def record_fire(self, *, process: str, trigger_key: str, scheduled_at: float, node: str,
                    items: Sequence[NewItem] = (), status: str = "fired",
                    error: str | None = None, trigger: str = "",
                    fence: Fence | None = None) -> FireResult:
        """Record the fire and enqueue its items (validated already) in one transaction.

        `status` is fired, failed or missed (later than its grace: a row and an event,
        no items). With a `fence`, nothing is written (status "fenced") unless its term
        still holds the leader lease: an old leader that wakes up records nothing."""
        raise NotImplementedError
