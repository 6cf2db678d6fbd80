"""What the benchmarks share: scratch databases, the figures' statistics, formatting.

Every benchmark measures on databases made for the run and removed after it: a
SQLite file in a temporary directory, a PostgreSQL database created next to
`RPA_TEST_POSTGRES_URL` (default the local server's `test` database, which is
only used to issue CREATE/DROP DATABASE). The names carry the pid and a random
tail, so two runs, or a run beside the test suite, never share tables.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psycopg
import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("RPA_TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def scratch_dir(prefix: str = "rpa-bench-") -> Iterator[Path]:
    """A temporary directory for SQLite files, removed with everything in it."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


@contextmanager
def scratch_postgres(prefix: str = "rpa_bench") -> Iterator[str]:
    """A new, empty PostgreSQL database; yields its libpq URL; dropped (FORCE) afterwards.

    FORCE, because a benchmark that failed half-way may leave a worker's
    connection behind, and a scratch database must not outlive the run.
    """
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(PG_ADMIN_URL).set(drivername="postgresql", database=name) \
            .render_as_string(hide_password=False)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlalchemy_url(libpq_url: str) -> str:
    """The store's URL (postgresql+psycopg://...) for a plain libpq URL."""
    return sa.make_url(libpq_url).set(drivername="postgresql+psycopg") \
        .render_as_string(hide_password=False)


def postgres_version() -> str | None:
    """The server's version, or None when it does not answer (then PostgreSQL is skipped)."""
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.OperationalError:
        return None
    return str(row[0]) if row else None


def at_least(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number no smaller than `low` (a count of items or rounds;
    zero or less would leave nothing to divide by), else argparse's exit 2 and message."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low:,}, not {value:,}")
        return value
    return parse


def seconds(text: str) -> float:
    """An argparse type: a finite number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {text}")
    return value


def median(values: Sequence[float]) -> float:
    """The median; a benchmark's runs are few, so one slow run must not move the figure."""
    return float(statistics.median(values))


def percentile(values: Sequence[float], pct: float) -> float:
    """The pct-th percentile by linear interpolation between the closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratio_text(value: float | None) -> str:
    """A ratio as '0.42x', or a dash when there is nothing to compare."""
    return "-" if value is None else f"{value:.2f}x"
