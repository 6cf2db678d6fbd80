"""How a target portal misbehaves: slow answers, gateway errors, expiring sessions.

Real systems are flaky in a handful of recurring ways, and a bot is only as good
as its handling of them. ``Misbehaviour`` says how often each one happens; the
``MisbehaviourController`` turns that into per-request decisions drawn from a
seeded ``random.Random`` so that a failing test run can be replayed exactly.
"""

from __future__ import annotations

import json
import os
import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace

ENV_VAR = "RPA_TARGETS_MISBEHAVE"
"""Environment variable holding a JSON object of ``Misbehaviour`` fields (CLI only)."""


@dataclass(frozen=True)
class Misbehaviour:
    """The kinds and rates of trouble a portal causes; the default is a well-behaved portal.

    Attributes:
        slow_share: share (0..1) of requests answered only after ``slow_seconds``.
        slow_seconds: delay of a slow response, in seconds.
        error_share: share (0..1) of requests answered with HTTP 502 or 503 instead
            of being handled (the request never reaches the application).
        session_lifetime: seconds a login lasts, counted from the login; ``None`` = forever.
        changed_layout: render forms, lists and detail pages in another order with other
            ids and ``name`` attributes, keeping the visible labels, like a vendor upgrade.
        seed: seed of the random generator that picks which requests misbehave.
    """

    slow_share: float = 0.0
    slow_seconds: float = 0.0
    error_share: float = 0.0
    session_lifetime: float | None = None
    changed_layout: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        """Reject nonsense early, so a typo in a test fails loudly rather than silently."""
        for name in ("slow_share", "error_share"):
            share = getattr(self, name)
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {share!r}")
        if self.slow_seconds < 0:
            raise ValueError("slow_seconds must not be negative")
        if self.session_lifetime is not None and self.session_lifetime < 0:
            raise ValueError("session_lifetime must not be negative")

    def to_dict(self) -> dict[str, object]:
        """The fields as a JSON-ready dict (what ``/__control/misbehave`` returns)."""
        return asdict(self)

    def updated(self, changes: Mapping[str, object]) -> Misbehaviour:
        """Return a copy with ``changes`` applied, validating names and JSON types.

        Fields left out keep their current value, so a test can flip one switch
        (``{"changed_layout": true}``) without restating the others.
        """
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown misbehaviour field(s): {', '.join(sorted(unknown))}")
        clean: dict[str, object] = {}
        for name, value in changes.items():
            clean[name] = _coerce(name, value)
        return replace(self, **clean)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Misbehaviour:
        """Read ``RPA_TARGETS_MISBEHAVE`` (a JSON object); a missing variable gives the default."""
        raw = (os.environ if environ is None else environ).get(ENV_VAR, "").strip()
        if not raw:
            return cls()
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError(f"{ENV_VAR} must hold a JSON object")
        return cls().updated(data)


def _coerce(name: str, value: object) -> object:
    """Check one JSON value against the field's type; bools are not numbers here."""
    if name == "changed_layout":
        if not isinstance(value, bool):
            raise ValueError("changed_layout must be true or false")
        return value
    if name == "seed":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("seed must be an integer")
        return value
    if name == "session_lifetime" and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    return float(value)


@dataclass(frozen=True)
class Injection:
    """What to do to one request: wait ``delay`` seconds, then answer ``status`` if set."""

    delay: float = 0.0
    status: int | None = None


class MisbehaviourController:
    """Holds the live ``Misbehaviour`` and decides, request by request, what goes wrong.

    Every eligible request draws the same three numbers from the generator whatever
    the settings are, so the sequence of decisions depends only on the seed and the
    order of requests. Changing the settings reseeds, making the run deterministic
    from that point on.
    """

    def __init__(self, misbehaviour: Misbehaviour | None = None) -> None:
        self._lock = threading.Lock()
        self._current = misbehaviour or Misbehaviour()
        self._rng = random.Random(self._current.seed)
        self._injected_errors = 0
        self._slow_responses = 0

    @property
    def current(self) -> Misbehaviour:
        """The settings in force now."""
        with self._lock:
            return self._current

    def set(self, misbehaviour: Misbehaviour) -> None:
        """Replace the settings and restart the generator from their seed."""
        with self._lock:
            self._current = misbehaviour
            self._rng = random.Random(misbehaviour.seed)

    def update(self, changes: Mapping[str, object]) -> Misbehaviour:
        """Apply a partial change (as posted to ``/__control/misbehave``) and return the result."""
        new = self.current.updated(changes)
        self.set(new)
        return new

    def decide(self) -> Injection:
        """Draw the fate of one request and count what was injected."""
        with self._lock:
            settings = self._current
            error_draw, code_draw, slow_draw = (self._rng.random() for _ in range(3))
            status: int | None = None
            if error_draw < settings.error_share:
                status = 503 if code_draw < 0.5 else 502
                self._injected_errors += 1
            delay = 0.0
            if slow_draw < settings.slow_share and settings.slow_seconds > 0:
                delay = settings.slow_seconds
                self._slow_responses += 1
            return Injection(delay=delay, status=status)

    def counts(self) -> dict[str, int]:
        """Injected errors and slow responses so far, for ``/__control/state``."""
        with self._lock:
            return {
                "injected_errors": self._injected_errors,
                "slow_responses": self._slow_responses,
            }
