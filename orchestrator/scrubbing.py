"""Known secret values removed from any text we store or log, in every form they travel in.

Why a process-wide record rather than per attempt: a worker slot logs in once
and keeps its session, so the password read by the first item can surface in
the tenth item's error (a page echoing the login form, an HTTP library quoting
its Authorization header). Every credential this process has handed to a bot is
scrubbed from every error message, bot output and log line it writes, not only
from the attempt that read it, and in the forms a secret takes on the way:
as is, base64 (standard and URL-safe, padded or not), URL-encoded, and as the
`user:password` of HTTP Basic authentication.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_LENGTH = 4  # shorter values would mask ordinary words; no real password is this short


def _encodings(value: str) -> Iterable[str]:
    raw = value.encode("utf-8")
    yield value
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        text = encode(raw).decode("ascii")
        yield text
        yield text.rstrip("=")
    yield quote(value, safe="")
    yield quote_plus(value, safe="")


class Scrubber:
    """The secret values to mask; thread-safe, as the worker's slots share one."""

    def __init__(self) -> None:
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, secret: str, *, username: str | None = None) -> None:
        """Remember `secret` (and `username:secret`, the Basic-auth pair) in all its forms."""
        if len(secret) < MIN_LENGTH:
            return
        forms = set(_encodings(secret))
        if username:
            forms.update(f for f in _encodings(f"{username}:{secret}") if f != secret)
        forms = {f for f in forms if len(f) >= MIN_LENGTH}
        with self._lock:
            if forms <= self._forms:
                return
            self._forms |= forms
            ordered = sorted(self._forms, key=len, reverse=True)  # longest first wins
            self._pattern = re.compile("|".join(map(re.escape, ordered)))

    def scrub(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def scrub_value(self, value: Any) -> Any:
        """`value` with every string in it (keys too) scrubbed: for a bot's output."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {self.scrub_value(k): self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub_value(v) for v in value]
        return value

    def forget(self) -> None:
        """Drop every value (tests; a process never needs to)."""
        with self._lock:
            self._forms.clear()
            self._pattern = None


SECRETS = Scrubber()  # this process's: the worker adds, logs and stored texts are scrubbed
