"""Registered applicants, with the duplicate check done atomically at insert time.

Two bots (or one bot retrying after a timeout) may submit the same applicant at
once; checking and inserting under one lock makes sure only one registration
exists per national identity number and position.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Registration:
    """A registered applicant."""

    number: str
    full_name: str
    national_id: str
    email: str
    phone: str
    position: str
    cv_filename: str
    cv_size: int
    registered_at: datetime


class AlreadyRegistered(Exception):
    """The person is already registered for the position; carries that registration."""

    def __init__(self, existing: Registration) -> None:
        super().__init__(f"already registered as {existing.number}")
        self.existing = existing


class RegistrationStore:
    """In-memory registrations in order, numbered ``REG-2026-000001`` upwards."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._registrations: dict[str, Registration] = {}

    def register(self, *, full_name: str, national_id: str, email: str, phone: str,
                 position: str, cv_filename: str, cv_size: int) -> Registration:
        """Add a registration, or raise ``AlreadyRegistered`` for a repeat."""
        with self._lock:
            for existing in self._registrations.values():
                if existing.national_id == national_id and existing.position == position:
                    raise AlreadyRegistered(existing)
            registration = Registration(
                number=f"REG-2026-{len(self._registrations) + 1:06d}",
                full_name=full_name, national_id=national_id, email=email, phone=phone,
                position=position, cv_filename=cv_filename, cv_size=cv_size,
                registered_at=datetime.now(UTC).replace(microsecond=0),
            )
            self._registrations[registration.number] = registration
            return registration

    def get(self, number: str) -> Registration | None:
        """A registration by its number."""
        with self._lock:
            return self._registrations.get(number)

    def find(self, national_id: str = "", position: str = "") -> list[Registration]:
        """Registrations matching the given number and/or position (empty = any)."""
        with self._lock:
            return [
                r for r in self._registrations.values()
                if (not national_id or r.national_id == national_id)
                and (not position or r.position == position)
            ]
