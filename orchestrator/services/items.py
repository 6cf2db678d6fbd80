"""Work items as people ask for them: add, list, look at, retry and abandon.

Owners see only their own processes' items; a role without payload access
sees every payload value, output and error text masked. Retry and abandon go
to the store in one call, audited as the principal's actor.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from orchestrator.errors import UsageError
from orchestrator.services.access import AccessDenied, Permission, Principal
from queues import EnqueueResult, ItemFilter, ItemNotFound, ItemView, NewItem, Store
from queues.errors import QueueNotFound

MASK = "•••"
MAX_PAGE = 500


def mask(value: Any) -> Any:
    """The shape of a payload without its values: keys stay, every leaf is hidden."""
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return MASK


def visible_processes(store: Store, asker: Principal) -> tuple[str, ...] | None:
    """The processes an owner may see; None for a role that sees them all."""
    if not asker.scoped:
        return None
    return tuple(p.spec.name for p in store.list_processes() if asker.sees(p.spec.owner))


def check_process(store: Store, asker: Principal, name: str) -> None:
    """Raise QueueNotFound for an unknown process and for one the asker may not see.

    The same answer for both: an owner must not learn which other processes exist.
    """
    info = store.get_process(name)
    if not asker.sees(info.spec.owner):
        raise QueueNotFound(f"no process named {name!r}")


def shown(item: ItemView, asker: Principal) -> ItemView:
    if asker.may(Permission.VIEW_PAYLOADS):
        return item
    history = tuple(replace(a, error_message=MASK if a.error_message else None, evidence=None)
                    for a in item.history)
    return replace(item, payload=mask(item.payload),
                   output=None if item.output is None else mask(item.output),
                   error_message=MASK if item.error_message else None, history=history)


def as_dict(item: ItemView) -> dict[str, Any]:
    """An item and its attempts as plain data, for `--json` and the API alike."""
    out = {k: v for k, v in item.__dict__.items() if k != "history"}
    out["history"] = [a.__dict__ for a in item.history]
    return out


def enqueue(store: Store, asker: Principal, process: str, items: Sequence[NewItem]
            ) -> EnqueueResult:
    """Add items to a process's queue: all valid, or none written (`PayloadInvalid`)."""
    asker.require(Permission.ENQUEUE)
    check_process(store, asker, process)
    if not items:
        raise UsageError("no items: give at least one")
    return store.enqueue(process, items, actor=asker.actor)


@dataclass(frozen=True)
class Page:
    items: list[ItemView]
    next_cursor: str | None


def encode_cursor(item: ItemView) -> str:
    raw = json.dumps([item.updated_at, item.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[float, int]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        at, item_id = json.loads(raw)
        if not isinstance(at, int | float) or not isinstance(item_id, int) \
                or isinstance(item_id, bool) or at != at:  # NaN
            raise ValueError
        return float(at), item_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise UsageError("cursor: not a cursor this API gave out") from None


def list_items(store: Store, asker: Principal, flt: ItemFilter, *, cursor: str | None = None
               ) -> Page:
    """One page of items, newest change first; `next_cursor` fetches the next."""
    asker.require(Permission.VIEW_ITEMS)
    if not 1 <= flt.limit <= MAX_PAGE:
        raise UsageError(f"limit: 1 to {MAX_PAGE}")
    if flt.process:
        check_process(store, asker, flt.process)
    scope = visible_processes(store, asker)
    flt = replace(flt, processes=scope, limit=flt.limit + 1,
                  before=decode_cursor(cursor) if cursor else None)
    found = store.list_items(flt)
    more = len(found) >= flt.limit
    page = [shown(i, asker) for i in found[:flt.limit - 1]]
    return Page(page, encode_cursor(page[-1]) if more and page else None)


def get_item(store: Store, asker: Principal, item_id: int) -> ItemView:
    asker.require(Permission.VIEW_ITEMS)
    item = store.get_item(item_id)
    if not asker.sees(store.get_process(item.process).spec.owner):
        raise ItemNotFound(f"no work item {item_id}")
    return shown(item, asker)


def _operate(store: Store, asker: Principal, ids: Sequence[int]) -> list[int]:
    asker.require(Permission.OPERATE_ITEMS)
    if not ids:
        raise UsageError("no items chosen")
    if len(ids) > 10_000:
        raise UsageError("at most 10,000 items at a time")
    if asker.scoped:
        for item_id in ids:
            get_item(store, asker, item_id)
    return list(ids)


def retry(store: Store, asker: Principal, ids: Sequence[int], *, reason: str = "") -> list[int]:
    """Queue failed, dead or abandoned items again; the ids that were retried."""
    return store.retry(_operate(store, asker, ids), actor=asker.actor, reason=reason)


def abandon(store: Store, asker: Principal, ids: Sequence[int], *, reason: str) -> list[int]:
    if not reason.strip():
        raise UsageError("say why the items are abandoned: the reason is kept in the audit log")
    return store.abandon(_operate(store, asker, ids), actor=asker.actor, reason=reason)


def evidence_file(store: Store, asker: Principal, item_id: int, attempt: int, kind: str,
                  evidence_root: Path) -> Path:
    """The path of one evidence file of an item's attempt, checked to lie in the evidence
    directory: a path read from the database is never trusted to point anywhere else."""
    asker.require(Permission.VIEW_PAYLOADS)
    item = get_item(store, asker, item_id)
    found = next((a for a in item.history if a.number == attempt), None)
    value = (found.evidence or {}).get(kind) if found is not None else None
    if not isinstance(value, str):
        raise ItemNotFound(f"item {item_id} has no {kind[:20]!r} evidence for attempt "
                           f"{attempt}")
    root = evidence_root.resolve()
    path = Path(value).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise AccessDenied("that evidence file is gone or lies outside the evidence directory")
    return path
