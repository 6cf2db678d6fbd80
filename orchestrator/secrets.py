"""The master key: from `RPA_SECRET_KEY` or a 0600 key file, never from the database.

It encrypts stored credentials (as a Fernet key), and keys derived from it with
HKDF seal the audit log (`audit_key`), so each use has a key of its own and one
never reveals another.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from orchestrator.settings import Settings
from queues import ChainKey


def key_file(settings: Settings) -> Path:
    return settings.data_dir / "secret.key"


def ensure_key_file(settings: Settings) -> Path | None:
    """Create the key file (mode 0600) unless a key comes from the environment."""
    if settings.secret_key is not None:
        return None
    path = key_file(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created with 0600 from the start: never readable by others, not even briefly.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return path


def master_key(settings: Settings) -> bytes | None:
    """The configured master key's bytes, or None when neither the environment nor a key
    file provides one."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().strip().encode()
    path = key_file(settings)
    return path.read_bytes().strip() if path.is_file() else None


def audit_key(settings: Settings) -> ChainKey | None:
    """The key that seals the audit chains and checkpoints, derived from the master key.

    None without a master key: such a store writes an unkeyed chain, which
    `rpa audit verify` (given the key) reports as one nobody vouches for.
    """
    master = master_key(settings)
    if master is None:
        return None
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"rpa audit chain key v1").derive(master)
    return ChainKey(derived)
