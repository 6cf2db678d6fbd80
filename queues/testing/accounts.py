"""`AccountStore` in memory, for unit tests of the console's and the API's rules."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from queues.account_store import (
    CHANGEABLE,
    Account,
    AccountError,
    AccountStore,
    ApiToken,
    WebSession,
    audited_changes,
)
from queues.chain import AuditEvent

if TYPE_CHECKING:
    from queues.testing.memory_store import InMemoryStore


class MemoryAccountStore(AccountStore):
    def __init__(self, store: InMemoryStore):
        self.store = store
        self.accounts: dict[str, Account] = {}
        self.token_rows: dict[str, tuple[ApiToken, str]] = {}  # digest -> token
        self.sessions: dict[str, WebSession] = {}

    def _event(self, actor: str, action: str, **details: Any) -> None:
        self.store._audit([AuditEvent(actor=actor, action=action, ts=self.store.clock(),
                                      details=details)])

    def add(self, account: Account, *, actor: str) -> Account:
        now = self.store.clock()
        with self.store.db.lock:
            if account.name in self.accounts:
                raise AccountError(f"an account named {account.name!r} exists already")
            row = dataclasses.replace(account, created_at=now, updated_at=now)
            self.accounts[account.name] = row
            self._event(actor, "account.added", account=account.name, role=account.role,
                        owner=account.owner, source=account.source)
            return row

    def get(self, name: str) -> Account | None:
        return self.accounts.get(name)

    def all(self) -> list[Account]:
        return sorted(self.accounts.values(), key=lambda a: a.name)

    def _change(self, name: str, changes: dict[str, Any]) -> Account:
        assert not set(changes) - CHANGEABLE - {"failed_logins", "locked_until"}
        if name not in self.accounts:
            raise AccountError(f"no account named {name!r}")
        row = dataclasses.replace(self.accounts[name], updated_at=self.store.clock(), **changes)
        self.accounts[name] = row
        return row

    def update(self, name: str, *, actor: str, **changes: Any) -> Account:
        with self.store.db.lock:
            account = self._change(name, changes)
            if changes.get("disabled") or "password_hash" in changes:
                self.close_sessions(name)
            self._event(actor, "account.changed", account=name,
                        changes=audited_changes(changes))
            return account

    def upsert_sso(self, name: str, role: str, owner: str | None, *, actor: str) -> Account:
        with self.store.db.lock:
            found = self.accounts.get(name)
            if found is None:
                return self.add(Account(name=name, role=role, owner=owner, source="sso"),
                                actor=actor)
            if found.source != "sso":
                raise AccountError(f"{name!r} is a local account; it cannot log in by "
                                   "single sign-on")
            if (found.role, found.owner) == (role, owner):
                return found
            return self.update(name, actor=actor, role=role, owner=owner)

    def note_login(self, name: str, *, ok: bool, via: str, lock_after: int,
                   lock_seconds: float) -> Account:
        now = self.store.clock()
        with self.store.db.lock:
            if name not in self.accounts:
                raise AccountError(f"no account named {name!r}")
            if ok:
                self._event(f"web:{name}", "account.login", account=name, via=via)
                return self._change(name, {"failed_logins": 0, "locked_until": None})
            old = self.accounts[name]
            failures = old.failed_logins + 1
            locked = failures >= lock_after
            if locked:
                self._event("web:login", "account.locked", account=name, failures=failures,
                            seconds=lock_seconds)
            return self._change(name, {
                "failed_logins": 0 if locked else failures,
                "locked_until": now + lock_seconds if locked else old.locked_until})

    def add_token(self, account: str, digest: str, label: str, expires_at: float | None, *,
                  actor: str) -> ApiToken:
        with self.store.db.lock:
            if account not in self.accounts:
                raise AccountError(f"no account named {account!r}")
            token = ApiToken(id=len(self.token_rows) + 1, account=account, label=label,
                             created_at=self.store.clock(), expires_at=expires_at)
            self.token_rows[digest] = (token, digest)
            self._event(actor, "token.created", account=account, token=token.id, label=label,
                        expires_at=expires_at)
            return token

    def token(self, digest: str) -> ApiToken | None:
        found = self.token_rows.get(digest)
        return found[0] if found else None

    def tokens(self, account: str | None = None) -> list[ApiToken]:
        return sorted((t for t, _ in self.token_rows.values()
                       if account is None or t.account == account), key=lambda t: t.id)

    def token_account(self, digest: str) -> tuple[ApiToken, Account] | None:
        token = self.token(digest)
        account = None if token is None else self.accounts.get(token.account)
        return None if token is None or account is None else (token, account)

    def session_account(self, digest: str) -> tuple[WebSession, Account] | None:
        session = self.session(digest)
        account = None if session is None else self.accounts.get(session.account)
        return None if session is None or account is None else (session, account)

    def _replace_token(self, token_id: int, **changes: Any) -> ApiToken | None:
        for digest, (token, _) in self.token_rows.items():
            if token.id == token_id:
                new = dataclasses.replace(token, **changes)
                self.token_rows[digest] = (new, digest)
                return new
        return None

    def touch_token(self, token_id: int) -> None:
        with self.store.db.lock:
            self._replace_token(token_id, last_used_at=self.store.clock())

    def revoke_token(self, token_id: int, *, actor: str) -> bool:
        with self.store.db.lock:
            old = next((t for t, _ in self.token_rows.values() if t.id == token_id), None)
            if old is None or old.revoked_at is not None:
                return False
            self._replace_token(token_id, revoked_at=self.store.clock())
            self._event(actor, "token.revoked", account=old.account, token=token_id)
            return True

    def open_session(self, digest: str, account: str, csrf: str, expires_at: float) -> None:
        with self.store.db.lock:
            self.sessions[digest] = WebSession(account, csrf, self.store.clock(), expires_at)

    def session(self, digest: str) -> WebSession | None:
        found = self.sessions.get(digest)
        return found if found is not None and found.expires_at > self.store.clock() else None

    def close_session(self, digest: str, *, actor: str | None = None) -> None:
        with self.store.db.lock:
            gone = self.sessions.pop(digest, None)
            if gone is not None and actor is not None:
                self._event(actor, "account.logout", account=gone.account)

    def close_sessions(self, account: str) -> int:
        with self.store.db.lock:
            mine = [d for d, s in self.sessions.items() if s.account == account]
            for digest in mine:
                del self.sessions[digest]
            return len(mine)
