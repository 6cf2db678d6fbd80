"""Who runs the scheduler: a lock that at most one node holds at a time.

Each store hands out the lock that fits its database (`Store.leadership`):
PostgreSQL a lease row with terms (`postgres_leadership`), a SQLite file an
exclusive `flock` beside the database (one machine holds the file, so there is
no cluster to elect from, but two `rpa serve` on one file must not both
schedule), and a private store a lock that is always held. Fires stay
exactly-once regardless: the fire store refuses a second record of the same
process and time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol


@dataclass(frozen=True)
class Fence:
    """A leader's token: a fire is recorded only while this term still holds the lease."""

    name: str
    holder: str
    term: int


class Leadership(Protocol):
    """A lock that at most one node holds at a time."""

    def fence(self) -> Fence | None:
        """The token fires carry while this node leads; None where no one can take over
        from a live holder (a private store, a `flock` that dies with its process)."""

    def try_acquire(self) -> bool:
        """Take the lock if free; True if this node holds it now."""

    def still_held(self) -> bool:
        """Whether this node (still) holds the lock; False after a lost connection."""

    def release(self) -> None:
        """Give the lock up (and close what held it)."""


class SoleLeadership:
    """Always held: a store nobody else can reach (in memory) has no one to elect."""

    def try_acquire(self) -> bool:
        return True

    def still_held(self) -> bool:
        return True

    def fence(self) -> Fence | None:
        return None

    def release(self) -> None:
        """Nothing to give up."""


class FileLeadership:
    """An exclusive, non-blocking `flock` on a file (SQLite: one file, one scheduler)."""

    def __init__(self, path: Path):
        self.path = path
        self._handle: IO[str] | None = None

    def try_acquire(self) -> bool:
        if self._handle is not None:
            return True
        import fcntl  # POSIX only, like the rest of the worker (signals, process groups)

        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle = os.fdopen(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
                           "a", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return True

    def still_held(self) -> bool:
        return self._handle is not None

    def fence(self) -> Fence | None:
        return None

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the descriptor drops the flock
            self._handle = None
