"""The key that encrypts stored credentials: from `RPA_SECRET_KEY` or a 0600 key file."""

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
