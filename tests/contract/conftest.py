"""The store's contract, one suite for every store: in memory, a SQLite file, PostgreSQL.

`store` here is parametrized over all three, so each test says what any `Store`
must do; what only the SQL stores can be asked (rows tampered with by hand,
locking across processes) stays in `tests/integration/`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.db import upgrade
from queues import Store, open_store
from queues.testing import InMemoryStore
from tests.conftest import truncate_all


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    writer = f"test-{uuid.uuid4().hex[:8]}"
    if request.param == "memory":
        yield InMemoryStore(writer=writer)
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rpa.db'}"
        upgrade(url)
    else:
        url = str(request.getfixturevalue("pg_database"))
        truncate_all(url)
    s = open_store(url, writer=writer)
    yield s
    s.close()
