"""Scheduling on real databases: the leader lock, fires that happen once, feeders,
windows and queue thresholds that hold claims back, the node registry, SLA events
and the metrics.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from prometheus_client import generate_latest
from structlog.testing import capture_logs

from orchestrator.process_config import ProcessConfig
from orchestrator.scheduling.dispatch import Dispatcher
from orchestrator.scheduling.gate import gate_for
from orchestrator.scheduling.metrics import Metrics
from orchestrator.scheduling.service import SchedulerService
from orchestrator.scheduling.sla import SlaWatch
from orchestrator.scheduling.triggers import TimedTrigger, timed_triggers
from orchestrator.worker.browser import BrowserHost
from orchestrator.worker.loop import Worker, WorkerOptions
from queues import NewItem, open_store
from queues.postgres_leadership import PostgresLeadership
from queues.schema import audit_events, schedule_fires, work_items
from queues.sql_node_store import SqlNodeStore
from queues.sql_store import SqlStore
from tests.conftest import PG_ADMIN_URL, items, truncate_all

HERE = "tests.integration.test_scheduling"
FEED_CALLS: list[str] = []


# -- feeders (referenced by name from the process definitions below) ---------------------
def tick_feeder(ctx: Any) -> list[dict[str, Any]]:
    return [{"reference": f"tick-{int(ctx.scheduled_at.timestamp())}", "payload": {"n": 1}}]


def fixed_feeder(ctx: Any) -> list[Any]:
    stamp = int(ctx.scheduled_at.timestamp())
    return [{"reference": "mail-1", "payload": {"n": 1}}, NewItem("mail-2", {"n": 2}),
            {"reference": f"mail-at-{stamp}", "payload": {"n": 3}}]


def slow_feeder(ctx: Any) -> list[dict[str, Any]]:
    FEED_CALLS.append(ctx.process)
    time.sleep(0.3)  # long enough for a second node to pass the "already fired?" check
    return tick_feeder(ctx)


async def async_feeder(ctx: Any) -> list[dict[str, Any]]:
    assert isinstance(ctx.http, httpx.AsyncClient)
    return [{"reference": "async-1", "payload": {"n": 1}}]


def broken_feeder(ctx: Any) -> list[dict[str, Any]]:
    raise ConnectionError("inbox API answered 503")


def invalid_feeder(ctx: Any) -> list[dict[str, Any]]:
    return [{"reference": "bad", "payload": {"n": "not a number"}}]


# -- helpers --------------------------------------------------------------------------------
def register(store: SqlStore, name: str = "inbox", **fields: Any) -> ProcessConfig:
    config = ProcessConfig.model_validate({
        "name": name, "owner": "HR", "cost_centre": "1400", "bot": "noop",
        "manual_minutes_per_item": 2, "lease": "1m",
        "input_schema": {"type": "object", "properties": {"n": {"type": "number"}}}, **fields})
    store.upsert_process(config.to_spec(), actor="test")
    return config


def the_trigger(store: SqlStore, name: str = "inbox") -> TimedTrigger:
    (found,) = timed_triggers(name, store.get_process(name).spec.definition)
    return found


def fire_rows(store: SqlStore, process: str = "inbox") -> list[sa.RowMapping]:
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(schedule_fires).where(
            schedule_fires.c.process == process).order_by(schedule_fires.c.scheduled_at))
            .mappings())


def references(store: SqlStore) -> list[str]:
    with store.engine.connect() as conn:
        return sorted(conn.execute(sa.select(work_items.c.reference)).scalars())


def actions(store: SqlStore, prefix: str) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(audit_events.c.action).where(
            audit_events.c.action.like(f"{prefix}%"))).scalars())


def second_store(url: str) -> SqlStore:
    other = open_store(url, writer=f"test-{uuid.uuid4().hex[:8]}")
    assert isinstance(other, SqlStore)
    return other


@pytest.fixture
def other_store(db_url: str) -> Iterator[SqlStore]:
    other = second_store(db_url)
    yield other
    other.close()


# -- the leader lease ------------------------------------------------------------------------
@pytest.mark.postgres
def test_the_leader_lease_fails_over_when_the_leader_stops_renewing(pg_database: str) -> None:
    """A dead session no longer frees leadership by itself: the lease runs out, by the
    database's clock, and the successor's term is higher."""
    first = PostgresLeadership(pg_database, holder="first", lease_seconds=1.5)
    second = PostgresLeadership(pg_database, holder="second", lease_seconds=1.5)
    try:
        assert first.try_acquire() and first.still_held()
        term = first.term
        assert term is not None and not second.try_acquire()
        assert first._conn is not None
        backend = first._conn.info.backend_pid
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:  # the leader "dies"
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        started = time.monotonic()
        while not second.try_acquire():  # followers retry every round
            assert time.monotonic() - started < 5, "no fail-over"
            time.sleep(0.1)
        assert time.monotonic() - started >= 0.5  # not before the lease ran out
        assert second.term == term + 1
        assert not first.still_held()  # the old leader notices and steps down
        assert first.fence() is None
        assert not first.try_acquire()  # and cannot take it back while the new one leads
        second.release()  # a clean hand-over: no need to wait for the lease
        assert first.try_acquire() and first.term == term + 2
    finally:
        first.release()
        second.release()


@pytest.mark.postgres
def test_a_leader_that_cannot_renew_steps_down_before_its_lease_ends(pg_database: str) -> None:
    leader = PostgresLeadership(pg_database, holder="frozen", lease_seconds=2.0)
    try:
        assert leader.try_acquire()
        leader._renewed -= 1.6  # as if it had been frozen since its last renewal
        assert not leader.still_held()  # lease 2 s minus a 0.5 s margin: it steps down
        assert leader.fence() is None
    finally:
        leader.release()


@pytest.mark.postgres
def test_an_old_leaders_fire_is_fenced_off(pg_database: str) -> None:
    """A leader that wakes up after losing its lease records nothing: not a fire, not a
    missed fire; its successor's term fires that time."""
    truncate_all(pg_database)
    store = open_store(pg_database, writer="fence-test")
    assert isinstance(store, SqlStore)
    old = PostgresLeadership(pg_database, holder="old", lease_seconds=1.0)
    new = PostgresLeadership(pg_database, holder="new", lease_seconds=5.0)
    try:
        register(store, triggers=[{"interval": "10m"}])
        key = the_trigger(store).key
        assert old.try_acquire()
        stale = old.fence()
        assert store.fires.record_fire(process="inbox", trigger_key=key, scheduled_at=1e9,
                                       node="old", fence=stale).recorded
        deadline = time.monotonic() + 5
        while not new.try_acquire():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        for status in ("fired", "missed"):
            late = store.fires.record_fire(process="inbox", trigger_key=key, node="old",
                                           scheduled_at=2e9, status=status, fence=stale,
                                           items=[NewItem("late", {"n": 1})] if status ==
                                           "fired" else ())
            assert late.status == "fenced" and not late.recorded
        assert "late" not in references(store)
        fresh = store.fires.record_fire(process="inbox", trigger_key=key, scheduled_at=2e9,
                                        node="new", fence=new.fence())
        assert fresh.recorded
        assert [(r["node"], r["scheduled_at"]) for r in fire_rows(store)
                if r["scheduled_at"] in (1e9, 2e9)] == [("old", 1e9), ("new", 2e9)]
    finally:
        old.release()
        new.release()
        store.close()


# -- fires happen once ----------------------------------------------------------------------
def test_a_scheduled_time_fires_once_with_its_items(store: SqlStore) -> None:
    register(store, triggers=[{"interval": "10m"}])
    key = the_trigger(store).key
    first = store.fires.record_fire(process="inbox", trigger_key=key, scheduled_at=1e9,
                              node="a", items=[NewItem("x", {"n": 1})])
    again = store.fires.record_fire(process="inbox", trigger_key=key, scheduled_at=1e9,
                              node="b", items=[NewItem("y", {"n": 2})])
    assert first.recorded and first.added == 1
    assert not again.recorded
    assert references(store) == ["x"]  # the losing node's items were never written
    assert [r["node"] for r in fire_rows(store)] == ["a"]
    assert actions(store, "schedule.") == ["schedule.fired"]
    assert store.fires.last_fire(key) == 1e9


def test_a_fires_items_enter_as_an_enqueue_puts_them_naming_the_fire(store: SqlStore) -> None:
    """One code path for items: a fire adds them with the store's own `enqueue_in`."""
    register(store, triggers=[{"interval": "10m"}])
    key = the_trigger(store).key
    store.enqueue("inbox", [NewItem("x", {"n": 1})], actor="user:test")
    fired = store.fires.record_fire(process="inbox", trigger_key=key, scheduled_at=2e9,
                              node="a", items=[NewItem("x", {"n": 1}), NewItem("y", {"n": 2}),
                                               NewItem("z", {"n": 3})])
    assert (fired.added, fired.existing) == (2, 1)
    with store.engine.connect() as conn:
        events = conn.execute(sa.select(audit_events.c.actor, audit_events.c.details)
                              .where(audit_events.c.action == "items.enqueued")
                              .order_by(audit_events.c.id)).all()
    assert [e.actor for e in events] == ["user:test", "scheduler:a"]
    details = json.loads(events[1].details)
    assert details["fire"] == fired.fire_id and details["count"] == 2
    assert store.verify_audit().ok


def test_two_nodes_firing_the_same_time_at_once_record_it_once(
        store: SqlStore, other_store: SqlStore) -> None:
    register(store, triggers=[{"interval": "10m"}], feeder=f"{HERE}:slow_feeder")
    trigger = the_trigger(store)
    when = datetime(2026, 5, 4, 9, 10, tzinfo=ZoneInfo("Europe/Oslo"))
    FEED_CALLS.clear()

    async def both() -> list[Any]:
        return list(await asyncio.gather(Dispatcher(store, "a").fire(trigger, when),
                                         Dispatcher(other_store, "b").fire(trigger, when)))

    results = asyncio.run(both())
    assert len(FEED_CALLS) == 2  # both passed the cheap check: only the unique row decides
    assert sum(1 for r in results if r is not None) == 1
    assert len(fire_rows(store)) == 1
    assert references(store) == [f"tick-{int(when.timestamp())}"]


def test_feeder_items_are_idempotent_by_reference(store: SqlStore) -> None:
    register(store, triggers=[{"interval": "1m"}], feeder=f"{HERE}:fixed_feeder")
    trigger, dispatcher = the_trigger(store), Dispatcher(store, "a")
    first_time = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    one = asyncio.run(dispatcher.fire(trigger, first_time))
    two = asyncio.run(dispatcher.fire(trigger, first_time + timedelta(minutes=1)))
    assert one is not None and (one.added, one.existing) == (3, 0)
    assert two is not None and (two.added, two.existing) == (1, 2)
    assert len(references(store)) == 4
    assert asyncio.run(dispatcher.fire(trigger, first_time)) is None  # fired already
    assert [(r["items_added"], r["items_existing"]) for r in fire_rows(store)] == [(3, 0),
                                                                                   (1, 2)]


def test_async_feeders_get_an_async_http_client(store: SqlStore) -> None:
    register(store, triggers=[{"interval": "1m"}], feeder=f"{HERE}:async_feeder")
    result = asyncio.run(Dispatcher(store, "a").fire(the_trigger(store), datetime.now(UTC)))
    assert result is not None and result.added == 1


def test_a_trigger_edited_away_no_longer_fires(store: SqlStore) -> None:
    register(store, triggers=[{"interval": "1m"}], feeder=f"{HERE}:tick_feeder")
    old = the_trigger(store)
    register(store, triggers=[{"interval": "5m"}], feeder=f"{HERE}:tick_feeder")
    assert asyncio.run(Dispatcher(store, "a").fire(old, datetime.now(UTC))) is None
    assert fire_rows(store) == [] and references(store) == []


@pytest.mark.parametrize(("feeder", "error"), [
    ("broken_feeder", "ConnectionError: inbox API answered 503"),
    ("invalid_feeder", "field 'n'"),
    ("no_such_feeder", "cannot be loaded"),
])
def test_a_feeder_that_fails_makes_a_failed_fire(store: SqlStore, feeder: str,
                                                 error: str) -> None:
    register(store, triggers=[{"interval": "1m"}], feeder=f"{HERE}:{feeder}")
    with capture_logs() as logs:
        result = asyncio.run(Dispatcher(store, "a").fire(the_trigger(store), datetime.now(UTC)))
    assert result is not None and result.status == "failed"
    (row,) = fire_rows(store)
    assert row["status"] == "failed" and error in row["error"]
    assert references(store) == []
    assert actions(store, "schedule.") == ["schedule.failed"]
    assert any(e["event"] == "schedule.failed" and e["log_level"] == "error" for e in logs)


def test_a_new_leader_fires_the_times_a_dead_leader_skipped(
        store: SqlStore, other_store: SqlStore) -> None:
    """APScheduler stores a job's next run time before the job runs: a leader killed in
    between skips that fire. The next leader catches up from the fires table."""
    register(store, triggers=[{"interval": "1s", "coalesce": False, "misfire_grace": "30s"}],
             feeder=f"{HERE}:tick_feeder")

    async def lead(s: SqlStore, node: str, until: int) -> None:
        stop = asyncio.Event()
        service = SchedulerService(s, node_id=node, node_name=node, elect_every=0.2)
        task = asyncio.create_task(service.run(stop))
        deadline = time.monotonic() + 30
        while len(await asyncio.to_thread(fire_rows, s)) < until:
            assert time.monotonic() < deadline, "the scheduler did not fire"
            await asyncio.sleep(0.1)
        stop.set()
        await task

    asyncio.run(lead(store, "a", until=3))
    rows = fire_rows(store)
    lost = [r["scheduled_at"] for r in rows[-2:]]
    with store.engine.begin() as conn:  # as if "a" had advanced past them and died
        conn.execute(sa.delete(schedule_fires).where(schedule_fires.c.scheduled_at.in_(lost)))
    asyncio.run(lead(other_store, "b", until=len(rows) + 2))

    after = fire_rows(store)
    times = [r["scheduled_at"] for r in after]
    assert times == [times[0] + i for i in range(len(times))]  # contiguous, each once
    assert {r["scheduled_at"] for r in after if r["node"] == "b"} >= set(lost)
    assert len(references(store)) == len(times)


# -- claims held back -----------------------------------------------------------------------
def test_no_item_is_claimed_while_the_window_is_closed(store: SqlStore) -> None:
    today = datetime.now(ZoneInfo("Europe/Oslo")).date().isoformat()
    register(store, holidays={"calendar": "none", "dates": [today]}, concurrency=2)
    store.enqueue("inbox", items(3), actor="test")
    worker = Worker(store, BrowserHost(), WorkerOptions(processes=["inbox"], slots=2,
                                                        timezone="Europe/Oslo"),
                    credentials=lambda name: None, evidence_root=None)

    async def one_round() -> int:
        worker._load_processes()
        claimed = await worker._claim_for_free_slots()
        for task in list(worker.tasks):  # cancelled before they start: no browser needed
            task.cancel()
        await asyncio.gather(*worker.tasks, return_exceptions=True)
        return claimed

    with capture_logs() as logs:
        assert asyncio.run(one_round()) == 0
    assert {q.process: q.count("new") for q in store.queue_status()} == {"inbox": 3}
    assert any(e["event"] == "window.closed" for e in logs)

    register(store, holidays={"calendar": "none", "dates": []}, concurrency=2)
    assert asyncio.run(one_round()) == 2  # the window is open again: claims resume


def test_a_queue_trigger_waits_for_k_items_then_drains(store: SqlStore) -> None:
    register(store, triggers=[{"queue": {"min_items": 3}}])
    gate = gate_for(store.get_process("inbox"))
    store.enqueue("inbox", items(2), actor="test")
    assert not asyncio.run(gate.allows(store, running=0))
    store.enqueue("inbox", items(1, start=2), actor="test")
    assert asyncio.run(gate.allows(store, running=0)) and gate.draining
    taken = 0
    while True:  # drains below the threshold: 3 claims of one, then an empty one
        got = store.claim("inbox", "w", limit=1)
        gate.claimed(len(got), running=0)
        assert asyncio.run(gate.allows(store, running=0)) or not got
        if not got:
            break
        taken += 1
    assert taken == 3 and not gate.draining


# -- nodes, SLA, metrics --------------------------------------------------------------------
def test_nodes_register_beat_go_stale_and_stop(store: SqlStore) -> None:
    now = [1_000_000.0]
    registry = SqlNodeStore(store.engine, beat_seconds=5, clock=lambda: now[0])
    slots: list[dict[str, Any]] = [
        {"slot": 0, "item_id": 7, "process": "inbox", "reference": "r", "since": 1.0},
        {"slot": 1, "item_id": None}]
    assert registry.register("w1", node="alpha", role="serve", slots=slots)
    assert registry.register("w2", node="beta")
    assert not registry.set_leader("not-yet-registered", True)
    assert registry.set_leader("w1", True) and registry.set_leader("w2", True)
    listed = {n.id: n for n in registry.nodes()}
    assert set(listed) == {"w1", "w2"} and listed["w1"].busy == 1
    assert [n.id for n in listed.values() if n.leader] == ["w2"]
    now[0] += 10
    registry.beat("w1", slots=[])
    now[0] += 6  # w2 missed three beats
    assert [n.id for n in registry.nodes()] == ["w1"]
    registry.stop("w1")
    states = {n.id: n.state(now[0]) for n in registry.nodes(include_gone=True)}
    assert states == {"w1": "stopped", "w2": "stale"}


def test_sla_events_are_raised_once_per_item(store: SqlStore) -> None:
    register(store, sla="2d")
    now = time.time()
    store.enqueue("inbox", [NewItem("late", {"n": 1}, deadline=now - 60),
                            NewItem("soon", {"n": 2}, deadline=now + 600),
                            NewItem("fine", {"n": 3})], actor="test")
    queue_id = store.get_process("inbox").queue_id
    counted: list[tuple[str, str]] = []
    watch = SlaWatch(store.monitor, on_event=lambda kind, p: counted.append((kind, p)))
    with capture_logs() as logs:
        first = watch.check([queue_id])
        again = watch.check([queue_id])
    assert sorted((e, f["reference"]) for e, f in first) == [("sla.at_risk", "soon"),
                                                            ("sla.broken", "late")]
    assert again == []
    assert sorted(e["event"] for e in logs) == ["sla.at_risk", "sla.broken"]
    assert sorted(counted) == [("at_risk", "inbox"), ("broken", "inbox")]
    # once the risky item is late it is reported as broken, once
    watch.clock = lambda: now + 3600
    assert [(e, f["reference"]) for e, f in watch.check([queue_id])] == [("sla.broken", "soon")]


def test_the_overview_counts_what_status_counts(store: SqlStore) -> None:
    register(store, sla="1h")
    store.enqueue("inbox", items(5), actor="test")
    claimed = store.claim("inbox", "w", limit=3)
    store.complete(claimed[0].id, "w")
    store.fail_business(claimed[1].id, "w", code="X", message="no")
    (q,) = store.monitor.overview()
    (s,) = store.queue_status()
    assert q.counts == {"new": 2, "retry_scheduled": 0, "in_progress": 1, "dead": 0}
    assert q.oldest_waiting_at == s.oldest_waiting_at
    assert (q.at_risk, q.breached) == (s.at_risk, s.breached) == (3, 0)
    assert q.finished == {"item.completed": 1, "item.business_failed": 1}
    assert q.per_minute == pytest.approx(2 / 5)
    assert q.seconds_to_empty == pytest.approx(3 / (2 / 5) * 60)


def test_metrics_are_served_on_loopback(store: SqlStore) -> None:
    register(store)
    store.enqueue("inbox", items(4), actor="test")
    metrics = Metrics(store.monitor)
    metrics.item_finished("inbox", "done", 1.5)
    metrics.item_finished("inbox", "application", 0.2)
    metrics.watch_slots(lambda: 1, 2)
    text = generate_latest(metrics.registry).decode()
    for line in ('rpa_items{queue="inbox",state="new"} 4.0',
                 'rpa_items{queue="inbox",state="done"} 0.0',
                 'rpa_queue_depth{queue="inbox"} 4.0',
                 'rpa_attempts_total{outcome="done",process="inbox"} 1.0',
                 'rpa_attempts_total{outcome="application_error",process="inbox"} 1.0',
                 'rpa_item_duration_seconds_count{outcome="done",process="inbox"} 1.0',
                 "rpa_worker_slots_busy 1.0", "rpa_worker_slots 2.0"):
        assert line in text, line
    assert "rpa_queue_oldest_age_seconds" in text
    port = metrics.serve(0)
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert response.status_code == 200 and "rpa_queue_depth" in response.text
    finally:
        metrics.close()


def test_a_stalled_scrape_does_not_stall_the_worker(store: SqlStore) -> None:
    """The collector runs in the HTTP server's thread, never in the event loop."""
    metrics = Metrics(store.monitor)
    seen: list[str] = []
    thread = threading.Thread(target=lambda: seen.append(
        generate_latest(metrics.registry).decode()))
    thread.start()
    thread.join(30)
    assert seen and "rpa_attempts" in seen[0]


def test_the_live_view_fits_80_columns_and_shows_what_matters(store: SqlStore) -> None:
    from rich.console import Console

    from orchestrator.cli.watch import render, watch_status
    register(store, sla="1h", name="a-process-with-a-rather-long-name")
    register(store, name="inbox", holidays={"calendar": "none", "dates": [
        datetime.now(ZoneInfo("Europe/Oslo")).date().isoformat()]})
    store.enqueue("inbox", items(123_456 // 1000), actor="test")
    late = NewItem("late", {"n": 1}, deadline=time.time() - 5)
    store.enqueue("a-process-with-a-rather-long-name", [late, *items(3)], actor="test")
    done = store.claim("inbox", "w", limit=2)
    for item in done:
        store.complete(item.id, "w")
    store.nodes.register("w1", node="node-a", role="serve", slots=[
        {"slot": 0, "item_id": 1, "process": "inbox", "reference": "r0", "since": 1.0}])
    console = Console(width=80, record=True, color_system="truecolor", force_terminal=True)
    console.print(render(store, timezone="Europe/Oslo", risk_window=3600, interval=2))
    text = console.export_text(clear=False)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    inbox = next(line for line in lines if line.lstrip().startswith("inbox"))
    assert inbox.split()[:7] == ["inbox", "closed", "121", "0", "0", "0", "0.4"]
    assert "1 late" in text and "a-process-with-a-r" in text and "name" not in text
    assert "1 worker node, 1/1 slots busy, no scheduler" in text
    assert "\x1b[1;31m1 late" in console.export_text(styles=True)  # broken SLA in bold red
    live = Console(width=80, file=io.StringIO(), force_terminal=True)
    watch_status(store, timezone="Europe/Oslo", interval=0.01, frames=3, console=live)
    assert live.file.getvalue().count("worker node") >= 3  # type: ignore[attr-defined]


def test_the_scheduler_alone_fires_and_stops_on_sigterm(db_url: str, tmp_path: Any,
                                                        store: SqlStore) -> None:
    import os
    import signal

    from orchestrator.node import ServiceOptions, serve
    from orchestrator.settings import load_settings
    register(store, triggers=[{"interval": "1s"}], feeder=f"{HERE}:tick_feeder")
    settings = load_settings(database_url=db_url, data_dir=tmp_path)

    async def run_and_stop() -> Any:
        task = asyncio.create_task(serve(store, settings, WorkerOptions(),
                                         ServiceOptions(metrics_port=0, node_name="sched"),
                                         with_worker=False))
        registry = store.nodes
        deadline = time.monotonic() + 30
        while not (len(await asyncio.to_thread(fire_rows, store)) >= 2 and any(
                n.leader and n.role == "scheduler" for n in registry.nodes())):
            assert time.monotonic() < deadline and not task.done()
            await asyncio.sleep(0.1)
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # the loop handles it
        os.kill(os.getpid(), signal.SIGTERM)
        return await asyncio.wait_for(task, 30)

    assert asyncio.run(run_and_stop()) is None
    (node,) = store.nodes.nodes(include_gone=True)
    assert (node.node, node.role, node.state(time.time()), node.leader) == (
        "sched", "scheduler", "stopped", False)
    assert len(references(store)) == len(fire_rows(store)) >= 2


# -- nothing executable from the database ---------------------------------------------------
class _Planted:
    """Unpickling this touches a file: what a planted job row would run."""

    def __init__(self, marker: Any):
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        from pathlib import Path
        return (Path.touch, (self.marker,))


def test_a_planted_pickled_job_row_runs_nothing(tmp_path: Any) -> None:
    """APScheduler's SQLAlchemy job store unpickled `apscheduler_jobs.job_state` at start;
    the scheduler now rebuilds its jobs from the processes and reads no such row."""
    import pickle
    import sqlite3

    from orchestrator.db import upgrade
    url = f"sqlite:///{tmp_path / 'rpa.db'}"
    upgrade(url)
    marker = tmp_path / "pwned"
    with sqlite3.connect(tmp_path / "rpa.db") as raw:  # the table as migration 0004 made it
        raw.execute("CREATE TABLE apscheduler_jobs (id VARCHAR(191) PRIMARY KEY, "
                    "next_run_time FLOAT, job_state BLOB NOT NULL)")
        raw.execute("INSERT INTO apscheduler_jobs VALUES (?, ?, ?)",
                    ("planted", 0.0, pickle.dumps(_Planted(marker))))
    store = open_store(url, writer="test")
    assert isinstance(store, SqlStore)
    register(store, triggers=[{"interval": "1s", "coalesce": False}])

    async def lead() -> None:
        stop = asyncio.Event()
        service = SchedulerService(store, node_id="n", node_name="n", elect_every=0.1)
        task = asyncio.create_task(service.run(stop))
        await asyncio.sleep(2.5)
        stop.set()
        await task

    try:
        asyncio.run(lead())
        assert fire_rows(store), "the scheduler ran and fired"
        assert not marker.exists(), "a pickled row from the database was unpickled"
    finally:
        store.close()
