"""Dated versions of the organisation tree (units, departments, sectors, review groups).

The store keeps each version as a JSON document with the time it takes
effect; reading and checking the tree is the orchestrator's
(`orchestrator.organisation`). A report of an earlier period rolls units up
under the version in force then, so moving a unit never rewrites the past.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from queues.errors import QueueError


class OrganisationVersionError(QueueError):
    """A version that cannot be stored (for one, dated before the latest one)."""


@dataclass(frozen=True)
class OrganisationVersion:
    id: int
    valid_from: float
    digest: str
    document: dict[str, Any] = field(repr=False)
    loaded_at: float
    loaded_by: str


class OrganisationStore:
    """Abstract; the SQL and in-memory stores implement it."""

    def versions(self) -> list[OrganisationVersion]:
        """Every version, oldest first (empty: no tree was ever loaded)."""
        raise NotImplementedError

    def add(self, document: dict[str, Any], digest: str, valid_from: float, *, actor: str
            ) -> OrganisationVersion | None:
        """Store a new version (audited); None when it equals the latest one.

        A version may not take effect before the latest one does: the past is
        not rewritten.
        """
        raise NotImplementedError

    def current(self) -> OrganisationVersion | None:
        """The latest version, if any."""
        found = self.versions()
        return found[-1] if found else None


def loaded_details(version_id: int, digest: str, valid_from: float,
                   document: dict[str, Any]) -> dict[str, Any]:
    """What the `organisation.loaded` audit event says of a stored version."""
    return {"version": version_id, "digest": digest, "valid_from": valid_from,
            "units": len(document.get("units", {})),
            "review_groups": sorted(document.get("review_groups", {}))}
