"""Files we create are private to their user: directories 0700, files 0600.

Why: the data directory holds the database (payloads with national identity
numbers), the key that decrypts every stored credential, and evidence
(screenshots and saved pages of failed attempts). On a shared host a 0644
`rpa.db` is readable by every local account. Two layers, because either alone
leaves gaps: the CLI sets the process umask to 077 at start, which covers what
SQLite (its WAL and shared-memory files), Playwright (traces) and libraries
create on our behalf; and the code that creates our own files asks for the
modes explicitly, so embedding the library without the CLI is private too.
`secure_data_dir` repairs the modes of an installation made before this.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
PRIVATE_UMASK = 0o077
DATA_FILES = ("rpa.db", "rpa.db-wal", "rpa.db-shm", "rpa.db-journal", "secret.key")


def private_umask() -> None:
    """From now on, files and directories this process creates are its user's alone."""
    os.umask(PRIVATE_UMASK)


def make_private_dir(path: Path) -> Path:
    """`path` made 0700, and any parents it lacked created 0700 too (`mkdir(parents=True)`
    would give those the umask's mode); parents that existed are left alone."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        folder.chmod(PRIVATE_DIR)
    if path.stat().st_mode & 0o777 != PRIVATE_DIR:
        path.chmod(PRIVATE_DIR)
    return path


def write_private(path: Path, data: bytes) -> Path:
    """`data` written to `path`, which is 0600 from the first byte (not chmod-ed later)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)  # an existing file keeps its mode through O_CREAT
        with os.fdopen(fd, "wb") as handle:
            fd = -1
            handle.write(data)
    finally:
        if fd != -1:
            os.close(fd)
    return path


def make_private(path: Path) -> None:
    """A file another program wrote for us (a Playwright trace), made 0600."""
    if path.is_file() and path.stat().st_mode & 0o777 != PRIVATE_FILE:
        path.chmod(PRIVATE_FILE)


def secure_data_dir(data_dir: Path, evidence_dir: Path | None = None) -> None:
    """The data directory 0700 and its database, WAL and key files 0600.

    With `evidence_dir`, every folder below it 0700 and every file 0600: a walk,
    so `rpa init` and `rpa db upgrade` do it, not every command.
    """
    make_private_dir(data_dir)
    for name in DATA_FILES:
        make_private(data_dir / name)
    for lock in data_dir.glob("*.lock"):
        make_private(lock)
    if evidence_dir is None or not evidence_dir.is_dir():
        return
    make_private_dir(evidence_dir)
    for root, dirs, files in os.walk(evidence_dir):
        for name in dirs:
            Path(root, name).chmod(PRIVATE_DIR)
        for name in files:
            make_private(Path(root, name))
