"""Roles, what each may do, and the principal that asks.

A role is a fixed set of permissions (the table in the README); an `owner`
sees only the processes whose `owner` is theirs, and an auditor sees payloads
only when granted. The check happens in the service layer, once, for the
console, the API and the CLI alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from orchestrator.errors import RpaError, UsageError


class AccessDenied(RpaError):
    """The principal's role does not allow this (a 403 on the web)."""


class NotAuthenticated(RpaError):
    """No valid login, session or token (a 401 on the web)."""


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    OWNER = "owner"
    FINANCE = "finance"
    AUDITOR = "auditor"

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls(text)
        except ValueError:
            raise UsageError(f"unknown role {text[:40]!r}: use one of "
                           f"{', '.join(r.value for r in cls)}") from None


class Permission(StrEnum):
    VIEW_QUEUES = "view_queues"
    VIEW_ITEMS = "view_items"
    VIEW_PAYLOADS = "view_payloads"
    OPERATE_ITEMS = "operate_items"  # retry, abandon
    ENQUEUE = "enqueue"
    VIEW_PROCESSES = "view_processes"
    CONTROL_PROCESSES = "control_processes"  # pause, resume
    REGISTER_PROCESSES = "register_processes"
    VIEW_WORKERS = "view_workers"
    VIEW_REPORTS = "view_reports"
    VIEW_AUDIT = "view_audit"
    VIEW_CANDIDATES = "view_candidates"
    EDIT_CANDIDATES = "edit_candidates"
    MANAGE_ACCOUNTS = "manage_accounts"
    VIEW_REVIEW = "view_review"  # the review inbox
    WORK_REVIEW = "work_review"  # claim and resolve review tasks


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: frozenset({P.VIEW_QUEUES, P.VIEW_ITEMS, P.VIEW_PAYLOADS, P.OPERATE_ITEMS,
                              P.ENQUEUE, P.VIEW_PROCESSES, P.CONTROL_PROCESSES,
                              P.VIEW_WORKERS, P.VIEW_REVIEW, P.WORK_REVIEW}),
    # scoped to the processes of their own owner (`Principal.sees`)
    Role.OWNER: frozenset({P.VIEW_QUEUES, P.VIEW_ITEMS, P.VIEW_PAYLOADS, P.OPERATE_ITEMS,
                           P.ENQUEUE, P.VIEW_PROCESSES, P.REGISTER_PROCESSES, P.VIEW_REPORTS,
                           P.VIEW_CANDIDATES, P.VIEW_REVIEW, P.WORK_REVIEW}),
    Role.FINANCE: frozenset({P.VIEW_REPORTS, P.VIEW_CANDIDATES, P.EDIT_CANDIDATES}),
    # read-only everything; payloads only with the account's grant (`Principal.may`)
    Role.AUDITOR: frozenset({P.VIEW_QUEUES, P.VIEW_ITEMS, P.VIEW_PROCESSES, P.VIEW_WORKERS,
                             P.VIEW_REPORTS, P.VIEW_AUDIT, P.VIEW_CANDIDATES,
                             P.VIEW_REVIEW}),
}


@dataclass(frozen=True)
class Principal:
    """Who asks: a name, a role, the owner an `owner` belongs to, and how they came in.

    `actor` is what the audit log records: `web:NAME` for a console session,
    `token:NAME#ID` for an API token, `user:NAME` for the OS user at a terminal
    (the CLI, which has no login of its own and acts as admin).
    """

    name: str
    role: Role
    owner: str | None = None
    payload_access: bool = False
    via: str = "web"  # web, token, cli
    token_id: int | None = None

    @property
    def actor(self) -> str:
        if self.via == "token":
            return f"token:{self.name}#{self.token_id}"
        if self.via == "cli":
            return self.name  # already "user:OSNAME"
        return f"web:{self.name}"

    def may(self, permission: Permission | str) -> bool:
        permission = Permission(permission)
        if permission is P.VIEW_PAYLOADS and self.role is Role.AUDITOR:
            return self.payload_access
        return permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.may(permission):
            raise AccessDenied(f"the {self.role.value} role may not {_VERB[permission]}")

    @property
    def scoped(self) -> bool:
        """True if this principal sees only the processes of one owner."""
        return self.role is Role.OWNER

    def sees(self, owner: str) -> bool:
        """May this principal see a process (and its items) with this owner?"""
        return not self.scoped or owner == self.owner


def cli_principal(os_actor: str) -> Principal:
    """The person at a terminal on the database host: whoever reaches the database is
    an administrator already, so the CLI acts as one, audited as the OS user."""
    return Principal(name=os_actor, role=Role.ADMIN, payload_access=True, via="cli")


_VERB = {
    P.VIEW_QUEUES: "see the queues", P.VIEW_ITEMS: "see work items",
    P.VIEW_PAYLOADS: "see payloads", P.OPERATE_ITEMS: "retry or abandon items",
    P.ENQUEUE: "add work items", P.VIEW_PROCESSES: "see processes",
    P.CONTROL_PROCESSES: "pause or resume processes",
    P.REGISTER_PROCESSES: "register process files", P.VIEW_WORKERS: "see the workers",
    P.VIEW_REPORTS: "see reports", P.VIEW_AUDIT: "see the audit log",
    P.VIEW_CANDIDATES: "see automation candidates",
    P.EDIT_CANDIDATES: "add automation candidates", P.MANAGE_ACCOUNTS: "manage accounts",
    P.VIEW_REVIEW: "see review tasks", P.WORK_REVIEW: "work on review tasks",
}
