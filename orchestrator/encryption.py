"""Envelope encryption of what items carry: a data key per process, wrapped by the master key.

Why envelope: the master key (`RPA_SECRET_KEY` or the key file) never touches a
row. Each process has a random 256-bit data key, stored only wrapped (AES-GCM
under a key-encryption key derived from the master with HKDF), with the id of
the master that wrapped it. Payloads, outputs and error texts are sealed with
AES-GCM under their process's data key; the token carries the key's id. So a
copy of the database (a SQLite file, a `pg_dump`) holds no personal data, and
`rpa keys rotate` re-wraps a handful of keys instead of rewriting every row.
The audit chains' key is a data key too ("audit"), which is why a rotation
leaves every chain verifiable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from orchestrator.errors import CredentialError
from queues.key_store import KeyStore, StoredKey
from queues.sealing import Sealer

AUDIT = "audit"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class MasterKey:
    """What the master key is used for here: wrapping data keys, and naming itself."""

    def __init__(self, master: bytes):
        self._kek = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                         info=b"rpa data-key wrapping v1").derive(master)
        self.id = hmac.new(self._kek, b"rpa master key id", hashlib.sha256).hexdigest()[:16]

    def wrap(self, purpose: str, key: bytes) -> str:
        nonce = os.urandom(12)
        return _b64(nonce + AESGCM(self._kek).encrypt(nonce, key, purpose.encode()))

    def unwrap(self, stored: StoredKey) -> bytes:
        if stored.kek_id != self.id:
            raise CredentialError(
                f"the master key in force ({self.id}) is not the one that wrapped this "
                f"database's keys ({stored.kek_id}): set RPA_SECRET_KEY, or the key file, to "
                "that key (after an interrupted `rpa keys rotate`, secret.key.new is it)")
        blob = _unb64(stored.wrapped)
        try:
            return AESGCM(self._kek).decrypt(blob[:12], blob[12:], stored.purpose.encode())
        except InvalidTag:
            raise CredentialError(f"data key {stored.id} ({stored.purpose}) does not open "
                                  "under the master key: it was altered") from None


class EnvelopeSealer(Sealer):
    """Seals and opens with per-process data keys from `keys`, created on first need."""

    def __init__(self, keys: KeyStore, master: MasterKey):
        self.keys = keys
        self.master = master
        self._by_purpose: dict[str, tuple[int, AESGCM]] = {}
        self._aad: dict[int, bytes] = {}  # key id -> its associated data, built once
        self._digest_keys: dict[str, bytes] = {}
        self._by_id: dict[int, AESGCM] = {}
        self._lock = threading.Lock()

    def raw_key(self, purpose: str) -> bytes:
        """The unwrapped key for `purpose`, created (and stored wrapped) if there is none."""
        stored = self.keys.get(purpose)
        if stored is None:
            fresh = AESGCM.generate_key(bit_length=256)
            stored = self.keys.create(purpose, self.master.wrap(purpose, fresh), self.master.id)
        return self.master.unwrap(stored)

    def _key_for(self, process: str) -> tuple[int, AESGCM]:
        purpose = f"process:{process}"
        found = self._by_purpose.get(purpose)
        if found is None:
            with self._lock:
                stored = self.keys.get(purpose)
                raw = self.raw_key(purpose)
                stored = stored or self.keys.get(purpose)
                assert stored is not None
                found = (stored.id, AESGCM(raw))
                self._by_purpose[purpose] = found
                self._digest_keys[purpose] = hmac.new(raw, b"rpa reference digests v1",
                                                      hashlib.sha256).digest()
                self._by_id[stored.id] = found[1]
        return found

    def prepare(self, process: str) -> None:
        self._key_for(process)

    def _aad_of(self, key_id: int) -> bytes:
        aad = self._aad.get(key_id)
        if aad is None:
            aad = self._aad[key_id] = f"rpa-seal:{key_id}".encode()
        return aad

    def seal(self, process: str, text: str) -> str:
        key_id, aes = self._key_for(process)
        nonce = os.urandom(12)
        sealed = aes.encrypt(nonce, text.encode("utf-8"), self._aad_of(key_id))
        return f"{key_id}.{_b64(nonce + sealed)}"

    def digest(self, process: str, reference: str) -> str:
        self._key_for(process)
        key = self._digest_keys[f"process:{process}"]
        return "h1:" + hmac.new(key, reference.encode("utf-8"), hashlib.sha256).hexdigest()[:40]

    def open(self, token: str) -> str:
        head, _, body = token.partition(".")
        try:
            key_id = int(head)
            blob = _unb64(body)
        except ValueError:
            raise CredentialError("a sealed value is malformed: it was altered") from None
        aes = self._by_id.get(key_id)
        if aes is None:
            stored = self.keys.by_id(key_id)
            if stored is None:
                raise CredentialError(f"data key {key_id} is missing: the value cannot be "
                                      "opened")
            aes = AESGCM(self.master.unwrap(stored))
            self._by_id[key_id] = aes
        try:
            return aes.decrypt(blob[:12], blob[12:], self._aad_of(key_id)).decode()
        except InvalidTag:
            raise CredentialError(f"a value sealed with data key {key_id} does not open: it "
                                  "was altered") from None
