"""Accounts, API tokens and console sessions: who may use the console and the API.

The store keeps what it is given: password hashes, token and session digests.
Hashing, roles and what a role may do are the orchestrator's
(`orchestrator.services.access`). Every change of an account or a token is
audited in the same transaction; a login is audited too, since an auditor asks
who was in, and when. Session rows are not audited: they come and go with
every login and say nothing a login event does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from queues.errors import QueueError


class AccountError(QueueError):
    """An account operation named an account that is missing, or one that exists."""


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    owner: str | None = None
    source: str = "local"  # "local" (a password here) or "sso" (an identity provider)
    password_hash: str | None = field(default=None, repr=False)
    payload_access: bool = False  # an auditor sees payloads only with this grant
    disabled: bool = False
    failed_logins: int = 0
    locked_until: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class ApiToken:
    id: int
    account: str
    label: str
    created_at: float
    expires_at: float | None = None
    revoked_at: float | None = None
    last_used_at: float | None = None

    def usable(self, now: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True)
class WebSession:
    account: str
    csrf: str
    created_at: float
    expires_at: float


CHANGEABLE = frozenset({"role", "owner", "password_hash", "payload_access", "disabled"})


def audited_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """What an audit event may say of a change: never a hash, only that it changed."""
    return {k: ("(changed)" if k == "password_hash" else v) for k, v in sorted(changes.items())}


class AccountStore:
    """Accounts by name; tokens and sessions by the digest of their secret."""

    def add(self, account: Account, *, actor: str) -> Account:
        """Create an account; AccountError if the name is taken."""
        raise NotImplementedError

    def get(self, name: str) -> Account | None:
        raise NotImplementedError

    def all(self) -> list[Account]:
        raise NotImplementedError

    def update(self, name: str, *, actor: str, **changes: Any) -> Account:
        """Change the `CHANGEABLE` fields of an account (audited); AccountError if missing."""
        raise NotImplementedError

    def upsert_sso(self, name: str, role: str, owner: str | None, *, actor: str) -> Account:
        """Create or refresh a single-sign-on account with the role its groups give it."""
        raise NotImplementedError

    def note_login(self, name: str, *, ok: bool, via: str, lock_after: int,
                   lock_seconds: float) -> Account:
        """Count a login: success clears the failures, the `lock_after`th failure in a
        row locks the account for `lock_seconds` (both audited)."""
        raise NotImplementedError

    def add_token(self, account: str, digest: str, label: str, expires_at: float | None, *,
                  actor: str) -> ApiToken:
        raise NotImplementedError

    def token(self, digest: str) -> ApiToken | None:
        raise NotImplementedError

    def tokens(self, account: str | None = None) -> list[ApiToken]:
        raise NotImplementedError

    def token_account(self, digest: str) -> tuple[ApiToken, Account] | None:
        """A token and its account in one read: what every API request asks first."""
        raise NotImplementedError

    def session_account(self, digest: str) -> tuple[WebSession, Account] | None:
        """An unexpired session and its account in one read: every page asks it first."""
        raise NotImplementedError

    def touch_token(self, token_id: int) -> None:
        """Note that a token was used now (for `rpa tokens list`; not audited)."""
        raise NotImplementedError

    def revoke_token(self, token_id: int, *, actor: str) -> bool:
        """Revoke a token (audited); False if unknown or revoked already."""
        raise NotImplementedError

    def open_session(self, digest: str, account: str, csrf: str, expires_at: float) -> None:
        raise NotImplementedError

    def session(self, digest: str) -> WebSession | None:
        """The session with this digest, if it has not expired."""
        raise NotImplementedError

    def close_session(self, digest: str, *, actor: str | None = None) -> None:
        """End one session (a logout, audited when `actor` is given)."""
        raise NotImplementedError

    def close_sessions(self, account: str) -> int:
        """End every session of an account (disabled, password changed); how many."""
        raise NotImplementedError
