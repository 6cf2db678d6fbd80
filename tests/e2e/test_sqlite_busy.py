"""SQLite locked by someone else for longer than the busy timeout: the worker waits and
retries (claims and the recording of outcomes alike), never crashes, and does every
item exactly once when the lock is released."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

import queues.engine
from orchestrator.db import upgrade
from orchestrator.process_config import ProcessConfig
from orchestrator.secrets import ensure_key_file
from orchestrator.settings import load_settings
from orchestrator.worker.loop import WorkerOptions
from orchestrator.worker.run import run_worker
from queues import NewItem, open_store
from queues.schema import audit_events, work_items
from tests.e2e.conftest_bots import CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_locked_sqlite_database_is_waited_out(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queues.engine, "SQLITE_BUSY_TIMEOUT_MS", 500)  # the test's patience
    monkeypatch.setenv("RPA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RPA_BROWSER_PATH", str(CHROMIUM))
    settings = load_settings(data_dir=tmp_path / "data")
    upgrade(settings.db_url)
    ensure_key_file(settings)
    store = open_store(settings.db_url, writer="busy-test")
    config = ProcessConfig(name="busy", owner="Ops", cost_centre="1000", bot="noop",
                           manual_minutes_per_item=1, concurrency=2)
    store.upsert_process(config.to_spec(), actor="test")
    store.enqueue("busy", [NewItem(f"b{i}", {"n": i}) for i in range(30)], actor="test")
    database = settings.db_url.removeprefix("sqlite:///")
    held = threading.Event()

    release = threading.Event()

    def hog() -> None:  # another program holds the write lock (at least 8x the timeout)
        conn = sqlite3.connect(database, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        held.set()
        release.wait(30)
        time.sleep(4.0)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=hog)
    thread.start()
    held.wait(10)
    release.set()  # from now on, 4 s more: the worker starts meanwhile
    try:
        with capture_logs() as logs:
            report = asyncio.run(run_worker(store, settings, WorkerOptions(
                slots=2, until_empty=True, install_signals=False, trace="off",
                idle_wait=0.2)))
    finally:
        thread.join()
    assert held.is_set()
    assert report.done == 30 and report.application == 0
    waited = {e["event"] for e in logs} & {"worker.database_unreachable",
                                            "item.record_waiting_for_database"}
    assert waited, "the lock was never met: the test proves nothing"
    with store.engine.connect() as conn:
        assert set(conn.execute(sa.select(work_items.c.status)).scalars()) == {"done"}
        completed = conn.execute(sa.select(audit_events.c.item_id, sa.func.count())
                                 .where(audit_events.c.action == "item.completed")
                                 .group_by(audit_events.c.item_id)).all()
    assert len(completed) == 30 and {n for _, n in completed} == {1}
    store.close()
