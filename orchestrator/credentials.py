"""Credentials the bots log in with: Fernet-encrypted in the database.

The key comes from `RPA_SECRET_KEY` or the 0600 key file `rpa init` creates;
the database alone reveals nothing. Every read is audited by name (never by
value), and values appear in no log line, error message or file name.
"""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken

from bots import Credential
from orchestrator.errors import CredentialError, UsageError
from orchestrator.secrets import key_file
from orchestrator.settings import Settings
from queues import Store

__all__ = ["CredentialError", "CredentialVault", "fernet_for"]


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
    """Set, read, list and delete named credentials; the store keeps only ciphertext."""

    def __init__(self, store: Store, settings: Settings, *, actor: str):
        self.store = store
        self.fernet = fernet_for(settings)
        self.actor = actor

    def set(self, name: str, username: str, password: str) -> bool:
        """Store (or replace) a credential, audited with it; True if it was new."""
        token = self.fernet.encrypt(json.dumps({"u": username, "p": password}).encode()).decode()
        return self.store.credentials.put(name, token, actor=self.actor)

    def get(self, name: str) -> Credential:
        token = self.store.credentials.ciphertext(name)
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
        return self.store.credentials.names()

    def delete(self, name: str) -> bool:
        return self.store.credentials.delete(name, actor=self.actor)
