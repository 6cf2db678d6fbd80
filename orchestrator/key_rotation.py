"""`rpa keys rotate`: a new master key, without rewriting a single item.

Every data key (and the audit chains' key) is unwrapped with the old master key
and wrapped with the new one, and every credential re-encrypted, in one
transaction. When the master key comes from the key file, the new key is
written beside it first (`secret.key.new`, 0600) and moved into place after
the commit, so a crash at any point leaves a key that opens the database: the
old one before the commit, the pending one after (which the store tries).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from orchestrator.encryption import MasterKey
from orchestrator.errors import CredentialError, UsageError
from orchestrator.private_files import write_private
from orchestrator.secrets import key_file, master_key, pending_key_file
from orchestrator.settings import Settings
from queues import Store


@dataclass(frozen=True)
class Rotation:
    data_keys: int
    credentials: int
    key_file: Path | None  # where the new key is, when this command put it there


def read_new_key(path: Path) -> bytes:
    try:
        raw = path.read_bytes().strip()
    except OSError as err:
        raise UsageError(f"{path}: cannot be read: {err.strerror or err}") from None
    try:
        Fernet(raw)
    except ValueError:
        raise UsageError(f"{path}: is not a key (32 url-safe base64 bytes, as "
                         "`rpa keys generate` writes)") from None
    return raw


def rotate(store: Store, settings: Settings, *, actor: str,
           new_key_file: Path | None = None) -> Rotation:
    old_raw = master_key(settings)
    if old_raw is None:
        raise CredentialError("no master key is in force: nothing to rotate from (set "
                              "RPA_SECRET_KEY or run where the key file is)")
    from_file = settings.secret_key is None
    if new_key_file is None and not from_file:
        raise UsageError("the master key comes from RPA_SECRET_KEY, which this command "
                         "cannot change: write a new key with `rpa keys generate FILE`, "
                         "pass --new-key-file FILE, then set RPA_SECRET_KEY to it")
    new_raw = read_new_key(new_key_file) if new_key_file else Fernet.generate_key()
    if new_raw == old_raw:
        raise UsageError("the new key is the key in force: nothing would change")
    old, new = MasterKey(old_raw), MasterKey(new_raw)
    wrapped = []
    for stored in store.keys.all():
        wrapped.append((stored.id, new.wrap(stored.purpose, old.unwrap(stored)), new.id))
    old_fernet, new_fernet = Fernet(old_raw), Fernet(new_raw)
    credentials = []
    for name, _ in store.credentials.names():
        token = store.credentials.ciphertext(name)
        try:
            plain = old_fernet.decrypt((token or "").encode())
        except InvalidToken:
            raise CredentialError(f"credential {name!r} does not open under the key in "
                                  "force: nothing was rotated") from None
        credentials.append((name, new_fernet.encrypt(plain).decode()))
    pending = pending_key_file(settings) if from_file else None
    if pending is not None:
        write_private(pending, new_raw + b"\n")  # before the commit: see the module's note
    store.keys.rotate(wrapped, credentials, actor=actor)
    if pending is not None:
        pending.replace(key_file(settings))
    return Rotation(len(wrapped), len(credentials), key_file(settings) if from_file else None)
