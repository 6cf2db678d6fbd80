"""Shared fixtures: a clean environment, and stores on a real SQLite file and a
real PostgreSQL database (`RPA_TEST_POSTGRES_URL`, default the local server).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
import structlog

from orchestrator.db import upgrade
from queues import NewItem, ProcessSpec, RetryPolicy, open_store
from queues.schema import metadata
from queues.sql_store import SqlStore

PG_ADMIN_URL = os.environ.get("RPA_TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No RPA_* setting leaks in from the developer's shell or another test."""
    for name in list(os.environ):
        if name.startswith("RPA_") and name != "RPA_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A scratch PostgreSQL database for this test session, migrated, dropped at the end."""
    name = f"rpa_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = str(sa.make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
              .render_as_string(hide_password=False))
    upgrade(url)
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def truncate_all(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = ", ".join(t.name for t in metadata.sorted_tables)
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database: a SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rpa.db'}"
        upgrade(url)
        return url
    url = str(request.getfixturevalue("pg_database"))
    truncate_all(url)
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    s = open_store(db_url, writer=f"test-{uuid.uuid4().hex[:8]}")
    assert isinstance(s, SqlStore)
    yield s
    s.close()


def make_spec(name: str = "invoices", **kw: object) -> ProcessSpec:
    """A process for tests: fast retries unless told otherwise."""
    base: dict[str, object] = {
        "name": name, "owner": "Finance", "cost_centre": "1200", "bot": "noop",
        "manual_minutes_per_item": 6.0, "retry": RetryPolicy(3, 0.0, 0.0, jitter=False),
        "lease_seconds": 60.0,
    }
    base.update(kw)
    return ProcessSpec(**base)  # type: ignore[arg-type]


def items(n: int, prefix: str = "r", start: int = 0) -> list[NewItem]:
    return [NewItem(reference=f"{prefix}{i}", payload={"n": i}) for i in range(start, start + n)]
