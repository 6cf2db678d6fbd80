"""The master key: from `RPA_SECRET_KEY` or a 0600 key file, never from the database.

It encrypts stored credentials (as a Fernet key), and a key derived from it
with HKDF wraps the data keys (`orchestrator.encryption`): those seal the items'
personal data and the audit log, so each use has a key of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet

from orchestrator.settings import Settings


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


def pending_key_file(settings: Settings) -> Path:
    """Where `rpa keys rotate` puts the new key before the database is re-wrapped."""
    return settings.data_dir / "secret.key.new"


def candidate_master_keys(settings: Settings) -> list[bytes]:
    """The master key in force, then the one an interrupted rotation left pending."""
    found = [k for k in (master_key(settings),) if k is not None]
    pending = pending_key_file(settings)
    if settings.secret_key is None and pending.is_file():
        found.append(pending.read_bytes().strip())
    return found
