"""Retention: which data of finished items is due, removing it, and erasing on request.

A process's `retention:` section (else the platform default in settings) says
how long after an item is finished its payload, output, error texts and
evidence files are kept. `purge` removes what is due in batches: evidence files
first (only inside the evidence folder: a path from the database never
reaches anything else), then the store clears the data, leaves a tombstone per
item and one audit event per batch. The audit log itself is never touched, so
reports of earlier periods read the same after a purge.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.durations import bounded_duration, format_age
from orchestrator.errors import ConfigError, CredentialError, UsageError
from orchestrator.settings import Settings
from queues import ItemNotFound, Store
from queues.retention_store import FIELDS

BATCH = 500
DEFAULT_MAX = 3650 * 86400.0


@dataclass(frozen=True)
class Rule:
    """How long one kind of data of one process is kept, and where that was said."""

    process: str
    data: str
    keep: float  # seconds after the item is finished
    source: str  # "process file" or "platform default"

    def describe(self) -> str:
        return f"retention.{self.data} {format_keep(self.keep)} ({self.source})"


@dataclass
class PurgeLine:
    """What a purge did (or, dry, would do) for one rule."""

    rule: Rule
    due: int = 0
    purged: int = 0
    files_removed: int = 0


def format_keep(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:g}d" if days >= 1 or seconds == 0 else format_age(seconds)


def platform_defaults(settings: Settings) -> dict[str, float]:
    """The settings' `retention_*` durations, checked like a process file's."""
    out = {}
    for data in FIELDS:
        value = getattr(settings, f"retention_{data}")
        try:
            out[data] = bounded_duration(value, 0, DEFAULT_MAX)
        except ValueError as err:
            raise ConfigError(f"setting retention_{data} (RPA_RETENTION_{data.upper()}): "
                              f"{err}") from None
    return out


def rules_for(store: Store, settings: Settings, process: str | None = None) -> list[Rule]:
    """Every process's rules (or one process's), from its definition or the defaults."""
    defaults = platform_defaults(settings)
    names = [process] if process else [p.spec.name for p in store.list_processes()]
    rules = []
    for name in names:
        declared = store.get_process(name).spec.definition.get("retention") or {}
        for data in FIELDS:
            value = declared.get(data)
            rules.append(Rule(name, data, float(value), "process file") if value is not None
                         else Rule(name, data, defaults[data], "platform default"))
    return rules


def _inside(root: Path, path: str) -> Path | None:
    """`path` if it lies inside `root` (resolved, no `..` escape), else None."""
    try:
        resolved = Path(path).resolve()
        resolved.relative_to(root.resolve())
    except (ValueError, OSError):
        return None
    return resolved


def remove_evidence(evidence_root: Path, records: Iterable[dict[str, Any]]) -> int:
    """Delete the files the evidence records name, inside `evidence_root` only."""
    removed = 0
    for record in records:
        for value in record.values():
            path = _inside(evidence_root, value) if isinstance(value, str) else None
            if path is not None and path.is_file():
                path.unlink()
                removed += 1
    return removed


def purge(store: Store, settings: Settings, *, actor: str, process: str | None = None,
          dry_run: bool = False, now: float | None = None,
          progress: Callable[[PurgeLine], None] | None = None) -> list[PurgeLine]:
    """Remove every datum that is due; with `dry_run` only count it. One line per rule."""
    now = time.time() if now is None else now
    lines = []
    for rule in rules_for(store, settings, process):
        line = PurgeLine(rule)
        before = now - rule.keep
        if dry_run:
            line.due = len(store.retention.due(rule.process, rule.data, before,
                                               limit=10_000_000))
        else:
            while batch := store.retention.due(rule.process, rule.data, before, limit=BATCH):
                line.due += len(batch)
                if rule.data == "evidence":
                    line.files_removed += remove_evidence(
                        settings.evidence_dir, (e for c in batch for e in c.evidence))
                done = store.retention.purge(rule.process, [c.item_id for c in batch],
                                             [rule.data], rule=rule.describe(), actor=actor)
                line.purged += done
                if done == 0:
                    break  # they changed under us (an operator's retry): next run
        lines.append(line)
        if progress is not None:
            progress(line)
    return lines


def require_audit_key(store: Store) -> None:
    """Refuse to remove anything unless the key in force seals this database's audit log.

    Why first: a purge and an erasure are recorded in the audit log; with no key,
    or another installation's, their events could not be proven, so nothing is
    deleted at all.
    """
    status = store.audit_key_status()
    if status == "missing":
        raise CredentialError("no master key: removing data is recorded in the audit log, "
                              "which is sealed with it; set RPA_SECRET_KEY or run where "
                              "`rpa init` created the key file. Nothing was removed.")
    if status == "wrong":
        raise CredentialError("the master key in force does not seal this database's audit "
                              "log (its last checkpoint does not hold under it): is "
                              "RPA_SECRET_KEY another installation's? Nothing was removed.")


def erase(store: Store, settings: Settings, item_ids: list[int], *, reason: str,
          actor: str) -> list[int]:
    """Remove every datum of these items now, evidence files included; the ids erased.

    Every id must exist and none may be in progress, or nothing is erased: an
    erasure request is answered whole or refused with what to do.
    """
    reason = reason.strip()
    if not reason or len(reason) > 300:
        raise UsageError("--reason: say why, in 1 to 300 characters (e.g. the request's "
                         "case number); it is kept in the audit log")
    require_audit_key(store)
    unknown, busy = [], []
    for item_id in item_ids:
        try:
            if store.get_item(item_id).status == "in_progress":
                busy.append(item_id)
        except ItemNotFound:
            unknown.append(item_id)
    if unknown:
        raise UsageError(f"no work item {', '.join(map(str, unknown[:20]))}: nothing was "
                         "erased (see `rpa items list`)")
    if busy:
        raise UsageError(f"item {', '.join(map(str, busy[:20]))} is being worked on now: "
                         "nothing was erased; try again when its attempt has ended")
    remove_evidence(settings.evidence_dir, store.retention.evidence_of(item_ids))
    result = store.retention.erase(item_ids, reason=reason, actor=actor)
    return result.erased
