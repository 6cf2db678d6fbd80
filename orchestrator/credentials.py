"""Credentials the bots log in with: Fernet-encrypted in the database.

The key comes from `RPA_SECRET_KEY` or the 0600 key file `rpa init` creates;
the database alone reveals nothing. Every read is audited by name (never by
value), and values appear in no log line, error message or file name.
"""

from __future__ import annotations

import json
import time

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken

from bots import Credential
from orchestrator.errors import RpaError, UsageError
from orchestrator.secrets import key_file
from orchestrator.settings import Settings
from queues.schema import credentials_t
from queues.sql_operator import SqlStore


class CredentialError(RpaError):
    """A credential is missing or cannot be decrypted with the key in force."""


def fernet_for(settings: Settings) -> Fernet:
    if settings.secret_key is not None:
        key = settings.secret_key.get_secret_value().encode()
    else:
        path = key_file(settings)
        if not path.exists():
            raise UsageError(f"no secret key: run `rpa init` (creates {path}) "
                             "or set RPA_SECRET_KEY")
        key = path.read_bytes().strip()
    try:
        return Fernet(key)
    except ValueError:
        raise UsageError("the secret key is not a valid Fernet key (32 url-safe base64 bytes)"
                         ) from None


class CredentialVault:
    """Set, read, list and delete named credentials in the project database."""

    def __init__(self, store: SqlStore, settings: Settings, *, actor: str):
        self.store = store
        self.fernet = fernet_for(settings)
        self.actor = actor

    def set(self, name: str, username: str, password: str) -> bool:
        """Store (or replace) a credential; True if it was new."""
        now = time.time()
        token = self.fernet.encrypt(json.dumps({"u": username, "p": password}).encode()).decode()
        with self.store.engine.begin() as conn:
            found = conn.execute(sa.select(credentials_t.c.name)
                                 .where(credentials_t.c.name == name)).first()
            if found:
                conn.execute(sa.update(credentials_t).where(credentials_t.c.name == name)
                             .values(ciphertext=token, updated_at=now))
            else:
                conn.execute(sa.insert(credentials_t).values(
                    name=name, ciphertext=token, created_at=now, updated_at=now))
        self.store.record_event(actor=self.actor, action="credential.set",
                                details={"name": name})
        return found is None

    def get(self, name: str) -> Credential:
        with self.store.engine.connect() as conn:
            token = conn.execute(sa.select(credentials_t.c.ciphertext)
                                 .where(credentials_t.c.name == name)).scalar()
        if token is None:
            raise CredentialError(f"no credential named {name!r}: "
                                  f"set it with `rpa credentials set {name}`")
        try:
            data = json.loads(self.fernet.decrypt(token.encode()))
        except InvalidToken:
            raise CredentialError(f"credential {name!r} cannot be decrypted with the key in "
                                  "force (was the key file replaced?)") from None
        self.store.record_event(actor=self.actor, action="credential.read",
                                details={"name": name})
        return Credential(username=data["u"], password=data["p"])

    def names(self) -> list[tuple[str, float]]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(credentials_t.c.name, credentials_t.c.updated_at)
                                .order_by(credentials_t.c.name)).all()
        return [(r.name, r.updated_at) for r in rows]

    def delete(self, name: str) -> bool:
        with self.store.engine.begin() as conn:
            gone = conn.execute(sa.delete(credentials_t).where(credentials_t.c.name == name))
        if gone.rowcount:
            self.store.record_event(actor=self.actor, action="credential.deleted",
                                    details={"name": name})
        return bool(gone.rowcount)
