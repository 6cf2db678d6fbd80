"""The audit log as people read it: events, filtered, and verify."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.services.access import Permission, Principal
from queues import Store
from queues.chain import VerifyResult

MAX_EVENTS = 1000


def events(store: Store, asker: Principal, *, limit: int = 50, item_id: int | None = None,
           process: str | None = None, action: str | None = None, since: float | None = None,
           until: float | None = None) -> list[dict[str, Any]]:
    """Latest events first, their details as JSON objects."""
    asker.require(Permission.VIEW_AUDIT)
    found = store.audit_events(limit=max(1, min(limit, MAX_EVENTS)), item_id=item_id,
                               process=process, action=action, since=since, until=until)
    for event in found:
        if isinstance(event.get("details"), str):
            event["details"] = json.loads(event["details"])
    return found


def verify(store: Store, asker: Principal) -> VerifyResult:
    asker.require(Permission.VIEW_AUDIT)
    return store.verify_audit()


def verify_json(result: VerifyResult) -> dict[str, Any]:
    return {"ok": result.ok, "events": result.events, "chains": result.chains,
            "findings": [f.__dict__ for f in result.findings]}
