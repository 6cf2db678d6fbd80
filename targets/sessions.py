"""Server-side sessions kept in memory, keyed by a random cookie value.

The portals mimic the classic enterprise web app: the browser holds only an
opaque session id, the server holds who is logged in, the CSRF token and pending
messages, and a login stops working after a fixed lifetime. Keeping that state on
the server (instead of in a signed cookie) is what lets a lifetime change at
runtime take effect on logins that already exist.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Session:
    """One browser's state: anonymous until ``username`` is set by a login."""

    sid: str
    csrf_token: str
    username: str | None = None
    logged_in_at: float | None = None
    flashes: list[str] = field(default_factory=list)

    def pop_flashes(self) -> list[str]:
        """Take the pending one-time messages (shown once, after a redirect)."""
        messages, self.flashes = self.flashes, []
        return messages


class SessionStore:
    """Thread-safe in-memory session table with login-time based expiry."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def new(self) -> Session:
        """Start an anonymous session (it carries the CSRF token of the login form)."""
        session = Session(sid=secrets.token_urlsafe(24), csrf_token=secrets.token_urlsafe(24))
        with self._lock:
            self._sessions[session.sid] = session
        return session

    def get(self, sid: str | None) -> Session | None:
        """The session for a cookie value, or ``None`` for an unknown or missing one."""
        if not sid:
            return None
        with self._lock:
            return self._sessions.get(sid)

    def login(self, old: Session, username: str) -> Session:
        """Replace ``old`` by a logged-in session with a fresh id and CSRF token.

        Rotating the id on login is what real apps do against session fixation,
        and it means a bot must not cache the cookie from before the login.
        """
        self.drop(old.sid)
        session = self.new()
        session.username = username
        session.logged_in_at = self._clock()
        return session

    def drop(self, sid: str) -> None:
        """Forget a session (logout, expiry)."""
        with self._lock:
            self._sessions.pop(sid, None)

    def is_expired(self, session: Session, lifetime: float | None) -> bool:
        """True when a logged-in session is older than ``lifetime`` seconds."""
        if lifetime is None or session.logged_in_at is None:
            return False
        return self._clock() - session.logged_in_at > lifetime
