"""The wrapped data keys: each a key of its own, stored only as ciphertext.

Encryption is the caller's (the orchestrator wraps every key with its master
key): this store keeps the wrapped bytes, the id of the key that wrapped them,
and what the key is for ("process:NAME", "audit"). A rotation replaces every
wrapping, and re-encrypted credentials with it, in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from queues.chain import AuditEvent
from queues.schema import credentials_t, data_keys

if TYPE_CHECKING:
    from queues.sql_store_core import SqlStoreCore


@dataclass(frozen=True)
class StoredKey:
    id: int
    purpose: str
    wrapped: str
    kek_id: str


class KeyStore:
    """Wrapped keys by purpose and id."""

    def get(self, purpose: str) -> StoredKey | None:
        raise NotImplementedError

    def by_id(self, key_id: int) -> StoredKey | None:
        raise NotImplementedError

    def create(self, purpose: str, wrapped: str, kek_id: str) -> StoredKey:
        """Store a new key for `purpose`, or return the one another process stored first."""
        raise NotImplementedError

    def all(self) -> list[StoredKey]:
        raise NotImplementedError

    def rotate(self, keys: Sequence[tuple[int, str, str]],
               credentials: Sequence[tuple[str, str]], *, actor: str) -> None:
        """Replace the wrappings (id, wrapped, kek id) and credential ciphertexts (name,
        ciphertext) in one transaction, with one `keys.rotated` event."""
        raise NotImplementedError


def _row(r: sa.RowMapping) -> StoredKey:
    return StoredKey(int(r["id"]), str(r["purpose"]), str(r["wrapped"]), str(r["kek_id"]))


class SqlKeyStore(KeyStore):
    def __init__(self, store: SqlStoreCore):
        self.store = store

    def _one(self, where: sa.ColumnElement[bool]) -> StoredKey | None:
        with self.store._read("read a data key") as conn:
            row = conn.execute(sa.select(data_keys).where(where)).mappings().first()
        return _row(row) if row is not None else None

    def get(self, purpose: str) -> StoredKey | None:
        return self._one(data_keys.c.purpose == purpose)

    def by_id(self, key_id: int) -> StoredKey | None:
        return self._one(data_keys.c.id == key_id)

    def create(self, purpose: str, wrapped: str, kek_id: str) -> StoredKey:
        with self.store._write("store a data key") as conn:
            insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            conn.execute(insert(data_keys).values(
                purpose=purpose, wrapped=wrapped, kek_id=kek_id,
                created_at=self.store.clock()).on_conflict_do_nothing())
            row = conn.execute(sa.select(data_keys).where(data_keys.c.purpose == purpose)
                               ).mappings().one()
        return _row(row)

    def all(self) -> list[StoredKey]:
        with self.store._read("read the data keys") as conn:
            return [_row(r) for r in conn.execute(sa.select(data_keys)
                                                  .order_by(data_keys.c.id)).mappings()]

    def rotate(self, keys: Sequence[tuple[int, str, str]],
               credentials: Sequence[tuple[str, str]], *, actor: str) -> None:
        now = self.store.clock()
        with self.store._write("rotate the master key") as conn:
            for key_id, wrapped, kek_id in keys:
                conn.execute(sa.update(data_keys).where(data_keys.c.id == key_id)
                             .values(wrapped=wrapped, kek_id=kek_id))
            for name, ciphertext in credentials:
                conn.execute(sa.update(credentials_t).where(credentials_t.c.name == name)
                             .values(ciphertext=ciphertext, updated_at=now))
            self.store._audit(conn, [AuditEvent(
                actor=actor, action="keys.rotated", ts=now,
                details={"data_keys": len(keys), "credentials": len(credentials)})])
