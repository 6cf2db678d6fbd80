"""The retention interface: remove personal data from finished items, and erase on request.

What may go, and when, is the orchestrator's rule (a process's `retention:`,
the platform default); the store finds what is due, removes it in one
transaction per batch, leaves a tombstone per item (what, when, under which
rule) and one audit event per batch. It never touches the audit log itself:
the freed hours and costs of earlier periods read the same after a purge.
Evidence files are on disk, so the caller deletes them (the store hands it the
paths) before it asks the store to forget them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

FIELDS = ("payload", "output", "errors", "evidence")  # what a rule can remove


@dataclass(frozen=True)
class PurgeCandidate:
    """A finished item whose data is due, with its attempts' evidence files (for `evidence`)."""

    item_id: int
    evidence: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Tombstone:
    """What was removed from an item, when, and under which rule."""

    purged_at: float
    fields: tuple[str, ...]
    rule: str


@dataclass(frozen=True)
class EraseResult:
    """What `erase` did: the ids erased, and those refused (working now, or unknown)."""

    erased: list[int] = field(default_factory=list)
    in_progress: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)


def classify(wanted: Sequence[int], statuses: dict[int, str]) -> EraseResult:
    """Which of the `wanted` ids an erasure may take (`statuses`: id -> status of those
    that exist): every one not being worked on right now."""
    return EraseResult(
        erased=[i for i in wanted if i in statuses and statuses[i] != "in_progress"],
        in_progress=[i for i in wanted if statuses.get(i) == "in_progress"],
        unknown=[i for i in wanted if i not in statuses])


class RetentionStore:
    """Purge and erasure of the data items carry."""

    def due(self, process: str, data: str, before: float, *, limit: int = 500
            ) -> list[PurgeCandidate]:
        """Finished items of `process` (done, business failed, dead, abandoned before
        `before`) whose `data` (one of `FIELDS`) has not been removed yet, oldest first."""
        raise NotImplementedError

    def purge(self, process: str, item_ids: Sequence[int], data: Sequence[str], *,
              rule: str, actor: str) -> int:
        """Remove `data` from those items that are still finished and still hold it; one
        tombstone each and one `items.purged` event; how many were purged."""
        raise NotImplementedError

    def erase(self, item_ids: Sequence[int], *, reason: str, actor: str) -> EraseResult:
        """Remove every datum of these items now (a person's right to erasure): a waiting
        item is abandoned first; one working now is refused. One `items.erased` event."""
        raise NotImplementedError

    def tombstones(self, item_id: int) -> list[Tombstone]:
        """What was removed from an item, oldest first."""
        raise NotImplementedError

    def evidence_of(self, item_ids: Sequence[int]) -> list[dict[str, Any]]:
        """The evidence records of these items' attempts (to delete their files)."""
        raise NotImplementedError
