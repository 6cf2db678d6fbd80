"""The credentials' interface: named secrets, stored only as ciphertext.

Encryption is the caller's (the orchestrator holds the key); the store keeps
the token and audits every change by name, never by value, in the same
transaction as the change, so a credential never changes unrecorded.
"""

from __future__ import annotations


class CredentialStore:
    """Ciphertexts by name, each write audited with it."""

    def put(self, name: str, ciphertext: str, *, actor: str) -> bool:
        """Store or replace `name`, with its `credential.set` event; True if it was new."""
        raise NotImplementedError

    def ciphertext(self, name: str) -> str | None:
        """The stored token of `name`, or None."""
        raise NotImplementedError

    def names(self) -> list[tuple[str, float]]:
        """(name, updated_at) of every credential, by name."""
        raise NotImplementedError

    def delete(self, name: str, *, actor: str) -> bool:
        """Remove `name`, with its `credential.deleted` event; False if there was none."""
        raise NotImplementedError
