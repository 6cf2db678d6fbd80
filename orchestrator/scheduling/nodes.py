"""This node's name, and what a slot looks like in the node registry.

The registry itself is the store's (`Store.nodes`, see `queues.node_store`).
"""

from __future__ import annotations

import socket
from typing import Any

import structlog

log = structlog.get_logger("nodes")


def default_node_name() -> str:
    """`RPA_NODE_NAME` (settings `node_name`), else the host name."""
    from orchestrator.errors import RpaError
    from orchestrator.settings import load_settings
    try:
        return load_settings().node_name or socket.gethostname()
    except (RpaError, ValueError, OSError) as err:
        # unreadable settings must not stop a worker from registering: say so, go on
        log.warning("nodes.settings_unreadable", fallback="host name", error=str(err))
        return socket.gethostname()


def describe_slot(index: int, item: Any | None, started_at: float | None) -> dict[str, Any]:
    """What a slot is doing, as stored: idle, or the item it works on since when."""
    if item is None:
        return {"slot": index, "item_id": None}
    return {"slot": index, "item_id": item.id, "process": item.process,
            "reference": item.reference, "attempt": item.attempt, "since": started_at}
