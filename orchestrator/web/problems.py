"""Errors as `application/problem+json` (RFC 9457): a status, a title, a detail.

Every error a person or a script can cause maps to a 4xx with a message that
says what to fix; anything else is a 500 that says nothing of the code (the
log has the traceback). The console shows the same detail in a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.errors import RpaError, UsageError
from orchestrator.services.access import AccessDenied, NotAuthenticated
from queues import IllegalTransition, ItemNotFound, PayloadInvalid, QueueError, QueueNotFound
from queues.errors import StoreUnavailable
from queues.organisation_store import OrganisationVersionError
from queues.review_store import ReviewError, TaskConflict, TaskNotFound

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class Problem:
    status: int
    title: str
    detail: str
    extra: dict[str, Any] | None = None

    def body(self, instance: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "about:blank", "title": self.title,
                               "status": self.status, "detail": self.detail}
        if instance:
            out["instance"] = instance
        return out | (self.extra or {})


class BadRequest(UsageError):
    """A request the API cannot read: its body, a parameter, its size."""

    def __init__(self, message: str, *, status: int = 400, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.extra = extra


def problem_of(err: Exception) -> Problem:
    """The problem an error means to a client; a 500 for anything not raised on purpose."""
    if isinstance(err, BadRequest):
        return Problem(err.status, _TITLES.get(err.status, "Bad request"), str(err), err.extra)
    if isinstance(err, NotAuthenticated):
        return Problem(401, "Not logged in", str(err))
    if isinstance(err, AccessDenied):
        return Problem(403, "Not allowed", str(err))
    if isinstance(err, ItemNotFound | QueueNotFound | TaskNotFound):
        return Problem(404, "Not found", str(err))
    if isinstance(err, TaskConflict):
        return Problem(409, "Not allowed in this state", str(err))
    if isinstance(err, ReviewError | OrganisationVersionError):
        return Problem(422, "Invalid input", str(err))
    if isinstance(err, PayloadInvalid):
        index = None if err.row is None else err.row - 1
        return Problem(422, "Invalid item", str(err) if index is None else
                       f"items[{index}]: {err.reason}", {"index": index})
    if isinstance(err, IllegalTransition):
        return Problem(409, "Not allowed in this state", str(err))
    if isinstance(err, UsageError):
        return Problem(422, "Invalid input", str(err))
    if isinstance(err, StoreUnavailable):
        return Problem(503, "Database unavailable", "the database cannot be reached; try again")
    if isinstance(err, RpaError | QueueError):
        return Problem(500, "Failed", str(err))
    return Problem(500, "Internal error", "something went wrong on our side; the server log "
                   "has the details")


_TITLES = {400: "Bad request", 413: "Request too large", 415: "Unsupported media type",
           404: "Not found", 405: "Method not allowed", 422: "Invalid input"}
