"""Credentials on the SQL database (table `credentials`): ciphertext only.

A change and its audit event are one transaction of the store, so a credential
never changes without its record, and a failed audit append leaves it as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from queues import audit
from queues.credential_store import CredentialStore
from queues.schema import credentials_t

if TYPE_CHECKING:
    from queues.sql_store_core import SqlStoreCore

ct = credentials_t


class SqlCredentialStore(CredentialStore):
    """Named ciphertexts, each change audited in its own transaction."""

    def __init__(self, store: SqlStoreCore):
        self.store = store

    def _event(self, actor: str, action: str, name: str, now: float) -> audit.AuditEvent:
        return audit.AuditEvent(actor=actor, action=action, ts=now, details={"name": name})

    def put(self, name: str, ciphertext: str, *, actor: str) -> bool:
        now = self.store.clock()
        with self.store._write(f"store credential {name}") as conn:
            found = conn.execute(sa.select(ct.c.name).where(ct.c.name == name)).first()
            if found:
                conn.execute(sa.update(ct).where(ct.c.name == name)
                             .values(ciphertext=ciphertext, updated_at=now))
            else:
                conn.execute(sa.insert(ct).values(name=name, ciphertext=ciphertext,
                                                  created_at=now, updated_at=now))
            self.store._audit(conn, [self._event(actor, "credential.set", name, now)])
        return found is None

    def ciphertext(self, name: str) -> str | None:
        with self.store._read("read a credential") as conn:
            token = conn.execute(sa.select(ct.c.ciphertext).where(ct.c.name == name)).scalar()
        return None if token is None else str(token)

    def names(self) -> list[tuple[str, float]]:
        with self.store._read("list credentials") as conn:
            rows = conn.execute(sa.select(ct.c.name, ct.c.updated_at).order_by(ct.c.name)).all()
        return [(r.name, r.updated_at) for r in rows]

    def delete(self, name: str, *, actor: str) -> bool:
        now = self.store.clock()
        with self.store._write(f"delete credential {name}") as conn:
            gone = conn.execute(sa.delete(ct).where(ct.c.name == name)).rowcount
            if gone:
                self.store._audit(conn, [self._event(actor, "credential.deleted", name, now)])
        return bool(gone)
