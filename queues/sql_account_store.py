"""`AccountStore` on SQL: accounts, tokens and sessions beside the work items."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

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
from queues.schema import accounts_t, api_tokens, web_sessions

if TYPE_CHECKING:
    from queues.sql_store_core import SqlStoreCore

ACCOUNT_FIELDS = [f.name for f in dataclasses.fields(Account)]


def _account(row: sa.RowMapping) -> Account:
    return Account(**{k: row[k] for k in ACCOUNT_FIELDS})


def _token(row: sa.RowMapping) -> ApiToken:
    return ApiToken(id=int(row["id"]), account=row["account"], label=row["label"],
                    created_at=row["created_at"], expires_at=row["expires_at"],
                    revoked_at=row["revoked_at"], last_used_at=row["last_used_at"])


class SqlAccountStore(AccountStore):
    def __init__(self, store: SqlStoreCore):
        self.store = store

    def _event(self, conn: sa.Connection, actor: str, action: str, **details: Any) -> None:
        self.store._audit(conn, [AuditEvent(actor=actor, action=action, ts=self.store.clock(),
                                            details=details)])

    def add(self, account: Account, *, actor: str) -> Account:
        now = self.store.clock()
        row = dataclasses.replace(account, created_at=now, updated_at=now)
        with self.store._write(f"add account {account.name}") as conn:
            if conn.execute(sa.select(accounts_t.c.name)
                            .where(accounts_t.c.name == account.name)).first() is not None:
                raise AccountError(f"an account named {account.name!r} exists already")
            conn.execute(sa.insert(accounts_t).values(**dataclasses.asdict(row)))
            self._event(conn, actor, "account.added", account=account.name, role=account.role,
                        owner=account.owner, source=account.source)
        return row

    def get(self, name: str) -> Account | None:
        with self.store._read("read an account") as conn:
            row = conn.execute(sa.select(accounts_t).where(accounts_t.c.name == name)
                               ).mappings().first()
        return _account(row) if row is not None else None

    def all(self) -> list[Account]:
        with self.store._read("read the accounts") as conn:
            rows = conn.execute(sa.select(accounts_t).order_by(accounts_t.c.name)).mappings()
            return [_account(r) for r in rows]

    def _change(self, conn: sa.Connection, name: str, changes: dict[str, Any]) -> Account:
        unknown = set(changes) - CHANGEABLE - {"failed_logins", "locked_until"}
        assert not unknown, f"not changeable: {unknown}"
        done = conn.execute(sa.update(accounts_t).where(accounts_t.c.name == name)
                            .values(updated_at=self.store.clock(), **changes))
        if done.rowcount != 1:
            raise AccountError(f"no account named {name!r}")
        row = conn.execute(sa.select(accounts_t).where(accounts_t.c.name == name)
                           ).mappings().one()
        return _account(row)

    def update(self, name: str, *, actor: str, **changes: Any) -> Account:
        with self.store._write(f"change account {name}") as conn:
            account = self._change(conn, name, changes)
            if changes.get("disabled") or "password_hash" in changes:
                conn.execute(sa.delete(web_sessions).where(web_sessions.c.account == name))
            self._event(conn, actor, "account.changed", account=name,
                        changes=audited_changes(changes))
        return account

    def upsert_sso(self, name: str, role: str, owner: str | None, *, actor: str) -> Account:
        found = self.get(name)
        if found is None:
            try:
                return self.add(Account(name=name, role=role, owner=owner, source="sso"),
                                actor=actor)
            except AccountError:  # a first login in two tabs at once
                found = self.get(name)
                assert found is not None
        if found.source != "sso":
            raise AccountError(f"{name!r} is a local account; it cannot log in by single "
                               "sign-on")
        if (found.role, found.owner) == (role, owner):
            return found
        return self.update(name, actor=actor, role=role, owner=owner)

    def note_login(self, name: str, *, ok: bool, via: str, lock_after: int,
                   lock_seconds: float) -> Account:
        now = self.store.clock()
        with self.store._write(f"note a login of {name}") as conn:
            row = conn.execute(sa.select(accounts_t).where(accounts_t.c.name == name)
                               .with_for_update()).mappings().first()
            if row is None:
                raise AccountError(f"no account named {name!r}")
            if ok:
                account = self._change(conn, name, {"failed_logins": 0, "locked_until": None})
                self._event(conn, f"web:{name}", "account.login", account=name, via=via)
                return account
            failures = int(row["failed_logins"]) + 1
            locked = failures >= lock_after
            account = self._change(conn, name, {
                "failed_logins": 0 if locked else failures,
                "locked_until": now + lock_seconds if locked else row["locked_until"]})
            if locked:
                self._event(conn, "web:login", "account.locked", account=name,
                            failures=failures, seconds=lock_seconds)
            return account

    def add_token(self, account: str, digest: str, label: str, expires_at: float | None, *,
                  actor: str) -> ApiToken:
        now = self.store.clock()
        with self.store._write(f"create a token for {account}") as conn:
            if conn.execute(sa.select(accounts_t.c.name)
                            .where(accounts_t.c.name == account)).first() is None:
                raise AccountError(f"no account named {account!r}")
            token_id = conn.execute(sa.insert(api_tokens).values(
                account=account, digest=digest, label=label, created_at=now,
                expires_at=expires_at).returning(api_tokens.c.id)).scalar_one()
            self._event(conn, actor, "token.created", account=account, token=token_id,
                        label=label, expires_at=expires_at)
        return ApiToken(id=int(token_id), account=account, label=label, created_at=now,
                        expires_at=expires_at)

    def token(self, digest: str) -> ApiToken | None:
        with self.store._read("read a token") as conn:
            row = conn.execute(sa.select(api_tokens).where(api_tokens.c.digest == digest)
                               ).mappings().first()
        return _token(row) if row is not None else None

    def tokens(self, account: str | None = None) -> list[ApiToken]:
        query = sa.select(api_tokens).order_by(api_tokens.c.id)
        if account is not None:
            query = query.where(api_tokens.c.account == account)
        with self.store._read("read the tokens") as conn:
            return [_token(r) for r in conn.execute(query).mappings()]

    def token_account(self, digest: str) -> tuple[ApiToken, Account] | None:
        query = (sa.select(api_tokens, *[accounts_t.c[k].label(f"a_{k}") for k in ACCOUNT_FIELDS])
                 .join(accounts_t, accounts_t.c.name == api_tokens.c.account)
                 .where(api_tokens.c.digest == digest))
        with self.store._read("read a token") as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        return _token(row), Account(**{k: row[f"a_{k}"] for k in ACCOUNT_FIELDS})

    def session_account(self, digest: str) -> tuple[WebSession, Account] | None:
        query = (sa.select(web_sessions,
                           *[accounts_t.c[k].label(f"a_{k}") for k in ACCOUNT_FIELDS])
                 .join(accounts_t, accounts_t.c.name == web_sessions.c.account)
                 .where(web_sessions.c.digest == digest,
                        web_sessions.c.expires_at > self.store.clock()))
        with self.store._read("read a console session") as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        session = WebSession(account=row["account"], csrf=row["csrf"],
                             created_at=row["created_at"], expires_at=row["expires_at"])
        return session, Account(**{k: row[f"a_{k}"] for k in ACCOUNT_FIELDS})

    def touch_token(self, token_id: int) -> None:
        with self.store._write("note a token's use") as conn:
            conn.execute(sa.update(api_tokens).where(api_tokens.c.id == token_id)
                         .values(last_used_at=self.store.clock()))

    def revoke_token(self, token_id: int, *, actor: str) -> bool:
        with self.store._write(f"revoke token {token_id}") as conn:
            done = conn.execute(sa.update(api_tokens)
                                .where(api_tokens.c.id == token_id,
                                       api_tokens.c.revoked_at.is_(None))
                                .values(revoked_at=self.store.clock())
                                .returning(api_tokens.c.account)).first()
            if done is None:
                return False
            self._event(conn, actor, "token.revoked", account=done.account, token=token_id)
        return True

    def open_session(self, digest: str, account: str, csrf: str, expires_at: float) -> None:
        now = self.store.clock()
        with self.store._write("open a console session") as conn:
            conn.execute(sa.delete(web_sessions).where(web_sessions.c.expires_at < now))
            conn.execute(sa.insert(web_sessions).values(
                digest=digest, account=account, csrf=csrf, created_at=now,
                expires_at=expires_at))

    def session(self, digest: str) -> WebSession | None:
        with self.store._read("read a console session") as conn:
            row = conn.execute(sa.select(web_sessions).where(
                web_sessions.c.digest == digest,
                web_sessions.c.expires_at > self.store.clock())).mappings().first()
        if row is None:
            return None
        return WebSession(account=row["account"], csrf=row["csrf"],
                          created_at=row["created_at"], expires_at=row["expires_at"])

    def close_session(self, digest: str, *, actor: str | None = None) -> None:
        with self.store._write("close a console session") as conn:
            gone = conn.execute(sa.delete(web_sessions).where(web_sessions.c.digest == digest)
                                .returning(web_sessions.c.account)).first()
            if gone is not None and actor is not None:
                self._event(conn, actor, "account.logout", account=gone.account)

    def close_sessions(self, account: str) -> int:
        with self.store._write(f"close the sessions of {account}") as conn:
            return int(conn.execute(sa.delete(web_sessions)
                                    .where(web_sessions.c.account == account)).rowcount)
