"""The node registry's interface: which workers run, where, and what each slot does.

A node writes its own row: registered when it starts, its heartbeat and slot
descriptions rewritten every `beat_seconds`, `stopped_at` set when it exits
cleanly. Nobody else writes a node's row, so there is no coordination to get
wrong; a node that died is recognised by its silence: three missed beats and
`rpa workers` calls it stale. The registry is for people and dashboards only;
correctness (leases, fires) never depends on it, which is why its writes
return False and carry on instead of failing the worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

BEAT_SECONDS = 5.0
STALE_BEATS = 3
FORGET_AFTER = 24 * 3600.0


@dataclass(frozen=True)
class NodeView:
    """One node as `rpa workers` shows it."""

    id: str
    node: str
    role: str
    host: str
    pid: int
    started_at: float
    heartbeat_at: float
    beat_seconds: float
    stopped_at: float | None
    leader: bool
    slots: list[dict[str, Any]]
    processes: list[str]

    def state(self, now: float) -> str:
        """running, stale (silent for three beats) or stopped."""
        if self.stopped_at is not None:
            return "stopped"
        if now - self.heartbeat_at > STALE_BEATS * self.beat_seconds:
            return "stale"
        return "running"

    @property
    def busy(self) -> int:
        return sum(1 for s in self.slots if s.get("item_id") is not None)


class NodeStore:
    """Reads and writes node rows; every write returns False instead of raising."""

    beat_seconds: float = BEAT_SECONDS

    def register(self, node_id: str, *, node: str, role: str = "worker",
                 slots: Sequence[dict[str, Any]] = (), processes: Sequence[str] = ()) -> bool:
        """Write this node's row afresh (forgetting nodes silent for a day)."""
        raise NotImplementedError

    def beat(self, node_id: str, *, slots: Sequence[dict[str, Any]] | None = None,
             processes: Sequence[str] | None = None) -> bool:
        raise NotImplementedError

    def set_leader(self, node_id: str, leader: bool) -> bool:
        """Mark the node that runs the scheduler (unmarking any other); False if the node
        has no row yet (a worker registers once its browser is up): mark it again later."""
        raise NotImplementedError

    def stop(self, node_id: str) -> bool:
        raise NotImplementedError

    def nodes(self, *, include_gone: bool = False) -> list[NodeView]:
        """Nodes by name; without `include_gone`, only the running ones."""
        raise NotImplementedError
