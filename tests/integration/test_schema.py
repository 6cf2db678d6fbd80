"""The schema as the migrations leave it, on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command

from orchestrator.db import alembic_config, current_revision, upgrade
from queues import open_store
from queues.sql_store import SqlStore
from tests.conftest import PG_ADMIN_URL, items, make_spec, truncate_all

ACTOR = "user:test"
# What queue_status and the SLA watch ask of open items: a due time in a window.
AT_RISK = ("SELECT queue_id, count(*) FROM work_items WHERE status IN ('new', "
           "'retry_scheduled', 'in_progress') AND due_at < {now} GROUP BY queue_id")


def plan(store: SqlStore, sql: str) -> str:
    pg = store.engine.dialect.name == "postgresql"
    with store.engine.begin() as conn:
        if pg:  # a few rows: without this the planner rightly scans the table
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = conn.exec_driver_sql(("EXPLAIN " if pg else "EXPLAIN QUERY PLAN ") + sql)
        return "\n".join(str(r[-1]) for r in rows)


def test_sla_queries_still_use_the_due_index(store: SqlStore) -> None:
    """The index holds only items with a due time; `due_at < x` implies that to both
    planners, so narrowing it (migration 0005) must not lose it for these queries."""
    store.upsert_process(make_spec(sla_minutes=60), actor=ACTOR)
    store.enqueue("invoices", items(20), actor=ACTOR)
    assert "ix_work_items_due" in plan(store, AT_RISK.format(now=4e9))


def test_the_due_index_holds_only_items_with_a_due_time(store: SqlStore) -> None:
    """Items without an SLA or deadline are most; their claims must not feed this index."""
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            text = conn.exec_driver_sql(
                "SELECT pg_get_indexdef('ix_work_items_due'::regclass)").scalar_one()
        else:
            text = conn.exec_driver_sql("SELECT sql FROM sqlite_master "
                                        "WHERE name = 'ix_work_items_due'").scalar_one()
    assert "due_at IS NOT NULL" in text


def test_an_event_of_no_known_chain_is_reported(store: SqlStore) -> None:
    """PostgreSQL has no foreign key from events to chains (0005): verify is the guard."""
    store.upsert_process(make_spec(), actor=ACTOR)
    raw = store.engine.raw_connection()  # a forger's own connection, in autocommit on SQLite
    try:
        cur = raw.cursor()
        if store.engine.dialect.name == "sqlite":
            cur.execute("PRAGMA foreign_keys=OFF")  # the forger does not ask
        cur.execute("INSERT INTO audit_events (chain_id, seq, ts, actor, action, details, "
                    "prev_hash, hash) SELECT 9999, seq, ts, actor, action, details, "
                    "prev_hash, hash FROM audit_events LIMIT 1")
        raw.commit()
    finally:
        raw.close()
    result = store.verify_audit()
    assert not result.ok
    assert [f.problem for f in result.findings] == ["1 event(s) belong to no known chain"]


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """A database no migration has touched yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/fresh.db"
        return
    name = f"rpa_mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield str(sa.make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
                  .render_as_string(hide_password=False))
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_every_migration_goes_down_and_up_again(empty_url: str) -> None:
    assert upgrade(empty_url) == current_revision(empty_url)[1]
    engine = sa.create_engine(empty_url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert sa.inspect(engine).get_table_names() == ["alembic_version"]
    finally:
        engine.dispose()
    assert upgrade(empty_url) == current_revision(empty_url)[1]


@pytest.mark.postgres
def test_postgres_plans_the_claim_once_not_per_call(pg_database: str) -> None:
    """The claim's generic plan is an index lookup, and the hot connection uses it:
    pg_prepared_statements counts no custom (per-call) plans for the hot statements."""
    truncate_all(pg_database)
    store = open_store(pg_database, writer="test-plans")
    assert isinstance(store, SqlStore)
    try:
        store.upsert_process(make_spec(), actor=ACTOR)
        store.enqueue("invoices", items(12), actor=ACTOR)
        for _ in range(12):  # psycopg prepares a statement on its 5th use
            (claimed,) = store.claim("invoices", "w")
            store.complete(claimed.id, "w")
        with store.hot_conns.transaction(single_statement=True) as hot:
            cur = hot.connection.cursor()
            cur.execute("SELECT statement, generic_plans, custom_plans "
                        "FROM pg_prepared_statements")
            plans = {row[0].split(" SET ")[0][:40]: row[1:] for row in cur.fetchall()}
        claim = next(v for k, v in plans.items() if k.startswith("UPDATE work_items"))
        assert claim[0] > 0 and claim[1] == 0
    finally:
        store.close()
