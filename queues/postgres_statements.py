"""The hot path's statements on PostgreSQL: `%s` placeholders, jsonb, arrays, CTEs.

A claim selects its candidates `FOR UPDATE SKIP LOCKED` in the statement that
leases them. Statements that depend on each other are fused with
data-modifying CTEs (item update + attempt row; chain head + audit rows), and
variable-length batches go as binary arrays through `unnest`, so a claim and a
complete cost as few round trips as the hand-written baseline allows.
"""

from __future__ import annotations

import json
import operator
import threading
import time
from collections.abc import Sequence
from typing import Any

import psycopg

from queues.enqueue_events import enqueued_event
from queues.hot_tx import NeedsFullPath
from queues.statements import (
    ATTEMPT_COLS,
    AUDIT_COLS,
    CHAIN_GUARD,
    CHAIN_MOVED,
    CLAIM_SET,
    DONE_SET,
    EVENT_COLS,
    EVENT_FLOATS,
    ITEM_COLS,
    ITEM_FLOATS,
    Finished,
    Statements,
    WhyNot,
    dumps,
    pg_params,
)

# What `enqueue_shared` takes once for all rows: every column but reference and payload.
SHARED_COLS = tuple(c for c in ITEM_COLS if c not in ("reference", "payload"))
_shared_of = operator.itemgetter(*SHARED_COLS)
SQL_TYPE = {"queue_id": "int", "priority": "int", "deadline": "float8",
            "deadline_order": "float8", "due_at": "float8", "available_at": "float8",
            "status": "text", "attempts": "int", "attempt_limit": "int",
            "created_at": "float8", "updated_at": "float8"}
_FLOAT_SHARED = tuple(ITEM_COLS.index(c) in ITEM_FLOATS for c in SHARED_COLS)


def _typed_shared(values: tuple[Any, ...]) -> list[Any]:
    """The shared values with floats as floats (an int would be sent as a numeric)."""
    return [float(v) if f and v is not None else v for v, f in zip(values, _FLOAT_SHARED,
                                                                    strict=True)]


class PostgresStatements(Statements):
    """PostgreSQL's statements, prepared server-side by psycopg after a few uses."""

    pg = True

    def __init__(self) -> None:
        self.claim = pg_params(CLAIM_SET.format(ids="= ANY(ARRAY",
                                                lock=" FOR UPDATE SKIP LOCKED", close="))"))
        # One round trip: finish the item and write its attempt row together.
        self.done = pg_params(
            "WITH f AS (" + DONE_SET.format(json="?::jsonb")
            + "RETURNING id, queue_id, attempts, attempt_started_at, attempt_limit), "
            "a AS (INSERT INTO attempts (" + ATTEMPT_COLS + ") SELECT id, attempts, ?, "
            "COALESCE(attempt_started_at, ?), ?, 'done', NULL, NULL, NULL, ?::jsonb "
            "FROM f) SELECT queue_id, attempts, attempt_started_at, attempt_limit FROM f")
        self.done_many = (
            "WITH v AS (SELECT * FROM unnest(%b::bigint[], %b::text[]) AS v(id, output)), "
            "f AS (UPDATE work_items w SET status='done', output=v.output::jsonb, "
            "finished_at=%s, updated_at=%s, error_type=NULL, error_code=NULL, "
            "error_message=NULL, lease_owner=NULL, lease_expires_at=NULL FROM v "
            "WHERE w.id=v.id AND w.status='in_progress' AND w.lease_owner=%s "
            "RETURNING w.id, w.queue_id, w.attempts, w.attempt_started_at, w.attempt_limit), "
            "a AS (INSERT INTO attempts (" + ATTEMPT_COLS + ") SELECT id, attempts, %s, "
            "COALESCE(attempt_started_at, %s), %s, 'done', NULL, NULL, NULL, %s::jsonb "
            "FROM f) SELECT id, queue_id, attempts, attempt_started_at, attempt_limit FROM f")
        # The guarded head move and the rows in one statement: no head, no rows.
        # It reports the rows it wrote (fetched, so it also works in a pipeline).
        self.audit = (
            "WITH c AS (" + pg_params(CHAIN_GUARD) + " RETURNING id), "
            "i AS (INSERT INTO audit_events (" + AUDIT_COLS + ") SELECT c.id, v.* FROM c, "
            "unnest(%b::int[], %b::float8[], %b::text[], %b::text[], %b::text[], "
            "%b::text[], %b::text[], %b::bigint[], %b::float8[], %b::float8[], %b::text[], "
            "%b::text[], %b::text[]) AS v RETURNING 1) SELECT count(*) FROM i")
        # One event, plain parameters: cheaper to send than 13 one-element arrays.
        one = ("INSERT INTO audit_events (" + AUDIT_COLS + ") SELECT c.id, %s::int, "
               "%s::float8, %s, %s, %s, %s, %s, %s::bigint, %s::float8, %s::float8, %s, %s, "
               "%s FROM c RETURNING 1")
        self.audit_one = ("WITH c AS (" + pg_params(CHAIN_GUARD) + " RETURNING id), i AS ("
                          + one + ") SELECT count(*) FROM i")
        # A whole complete in one statement, when the claim left its hint (attempt
        # number, start, queue): item, attempt row, chain head and event. The
        # head moves only if the item did; an item done without its event (the
        # chain moved under us) fails the statement, which is atomic, so it can
        # run in autocommit: one round trip and one commit for a complete.
        self.done_fused = pg_params(
            "WITH f AS (" + DONE_SET.format(json="?::jsonb")
            + "AND attempts=? AND attempt_started_at=? AND queue_id=? "
            "RETURNING id, attempts), "
            "a AS (INSERT INTO attempts (" + ATTEMPT_COLS + ") SELECT id, attempts, ?, ?, "
            "?, 'done', NULL, NULL, NULL, ?::jsonb FROM f), "
            "c AS (" + CHAIN_GUARD + " AND EXISTS (SELECT 1 FROM f) RETURNING id), "
            "i AS (" + one.replace("%s", "?") + "), "
            "n AS (SELECT (SELECT count(*) FROM f) AS f, (SELECT count(*) FROM i) AS i) "
            # (the CASE inside the CAST: a constant CAST would fail at planning)
            f"SELECT f, i, CAST(CASE WHEN f <> i THEN '{CHAIN_MOVED}' ELSE '0' END "
            "AS integer) FROM n")
        # The same for a batch (`complete_many` after a claim of many): the items as
        # arrays, each checked against its hint; unless every item is done and every
        # event written, the statement fails and nothing is (the caller then takes
        # the ordinary path, which says which item and why).
        self.done_many_fused = (
            "WITH v AS (SELECT * FROM unnest(%b::bigint[], %b::text[], %b::int[], "
            "%b::float8[], %b::int[]) AS v(id, output, attempts, started, queue_id)), "
            "f AS (UPDATE work_items w SET status='done', output=v.output::jsonb, "
            "finished_at=%s, updated_at=%s, error_type=NULL, error_code=NULL, "
            "error_message=NULL, lease_owner=NULL, lease_expires_at=NULL FROM v "
            "WHERE w.id=v.id AND w.status='in_progress' AND w.lease_owner=%s "
            "AND w.attempts=v.attempts AND w.attempt_started_at=v.started "
            "AND w.queue_id=v.queue_id RETURNING w.id, w.attempts, v.started), "
            "a AS (INSERT INTO attempts (" + ATTEMPT_COLS + ") SELECT id, attempts, %s, "
            "started, %s, 'done', NULL, NULL, NULL, %s::jsonb FROM f), "
            "c AS (" + pg_params(CHAIN_GUARD) + " AND (SELECT count(*) FROM f) = %s "
            "RETURNING id), "
            "i AS (INSERT INTO audit_events (" + AUDIT_COLS + ") SELECT c.id, e.* FROM c, "
            "unnest(%b::int[], %b::float8[], %b::text[], %b::text[], %b::text[], "
            "%b::text[], %b::text[], %b::bigint[], %b::float8[], %b::float8[], %b::text[], "
            "%b::text[], %b::text[]) AS e RETURNING 1), "
            "n AS (SELECT (SELECT count(*) FROM f) AS f, (SELECT count(*) FROM i) AS i) "
            f"SELECT f, i, CAST(CASE WHEN f <> %s OR i <> f THEN '{CHAIN_MOVED}' "
            "ELSE '0' END AS integer) FROM n")
        # One new item in one statement, in autocommit: the row (its id fetched first,
        # so that its event can be hashed), the chain head, the `items.enqueued`
        # event and the wake-up. A reference already there inserts nothing and writes
        # no event; a moved chain head fails the whole statement (nothing written).
        self.next_item_id = "SELECT nextval(pg_get_serial_sequence('work_items', 'id'))"
        self.enqueue_fused = pg_params(
            "WITH f AS (INSERT INTO work_items (id, " + ", ".join(ITEM_COLS) + ") VALUES ("
            "?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING "
            "RETURNING id), "
            "c AS (" + CHAIN_GUARD + " AND EXISTS (SELECT 1 FROM f) RETURNING id), "
            "i AS (" + one.replace("%s", "?") + "), "
            "n AS (SELECT (SELECT count(*) FROM f) AS f, (SELECT count(*) FROM i) AS i) "
            f"SELECT f, i, CAST(CASE WHEN f <> i THEN '{CHAIN_MOVED}' ELSE '0' END "
            "AS integer), CASE WHEN f > 0 THEN pg_notify(?, ?)::text END, "
            "nextval(pg_get_serial_sequence('work_items', 'id')) FROM n")
        self.enqueue = (
            "INSERT INTO work_items (" + ", ".join(ITEM_COLS) + ") SELECT v.queue_id, "
            "v.reference, v.payload::jsonb, v.priority, v.deadline, v.deadline_order, "
            "v.due_at, v.available_at, v.status, v.attempts, v.attempt_limit, "
            "v.created_at, v.updated_at FROM unnest(%b::int[], %b::text[], %b::text[], "
            "%b::int[], %b::float8[], %b::float8[], %b::float8[], %b::float8[], "
            "%b::text[], %b::int[], %b::int[], %b::float8[], %b::float8[]) AS v("
            + ", ".join(ITEM_COLS) + ") ON CONFLICT DO NOTHING RETURNING reference, id")
        # The usual batch (a file, a feeder's page): rows that differ only in their
        # reference and payload. Two arrays instead of thirteen: building and sending
        # the other eleven cost a fifth of a bulk enqueue's time, for values that
        # were all the same.
        shared = [f"%s::{SQL_TYPE[c]}" for c in SHARED_COLS]
        self.enqueue_shared = (
            "INSERT INTO work_items (" + ", ".join(ITEM_COLS) + ") SELECT " + shared[0]
            + ", v.reference, v.payload::jsonb, " + ", ".join(shared[1:])
            + " FROM unnest(%b::text[], %b::text[]) AS v(reference, payload) "
            "ON CONFLICT DO NOTHING RETURNING reference, id")
        self.heartbeat_sql = ("UPDATE work_items SET lease_expires_at=%s WHERE id = ANY(%s) "
                          "AND lease_owner=%s AND status='in_progress' RETURNING id")
        self.attempt = pg_params(f"INSERT INTO attempts ({ATTEMPT_COLS}) VALUES "
                                 f"({', '.join('?' * 9)}, ?::jsonb)")
        self.chain_guard = pg_params(CHAIN_GUARD)
        self.chain_head = pg_params("SELECT head_hash, length FROM audit_chains WHERE id=?"
                                    " FOR UPDATE")

    def json_in(self, value: Any) -> Any:
        return value  # jsonb arrives decoded

    def heartbeat(self, cur: Any, ids: Sequence[int], worker: str, expires: float
                  ) -> set[int]:
        cur.execute(self.heartbeat_sql, (expires, list(ids), worker))
        return {r[0] for r in cur.fetchall()}

    def insert_items(self, cur: Any, rows: list[dict[str, Any]]) -> dict[str, int]:
        if not rows:
            return {}
        first = _shared_of(rows[0])
        if len(rows) > 1 and all(_shared_of(r) == first for r in rows):
            cur.execute(self.enqueue_shared, (*_typed_shared(first),
                                              [r["reference"] for r in rows],
                                              [json.dumps(r["payload"]) for r in rows]))
            return dict(cur.fetchall())
        cols = [[r[c] for r in rows] for c in ITEM_COLS]
        cols[2] = [json.dumps(p) for p in cols[2]]
        for i in ITEM_FLOATS:  # psycopg types an array by its first element
            cols[i] = [None if v is None else float(v) for v in cols[i]]
        cur.execute(self.enqueue, cols)
        return dict(cur.fetchall())

    def finish_done(self, cur: Any, results: Sequence[tuple[int, Any]], worker: str,
                    now: float, evidence: str | None, why_not: WhyNot) -> Finished:
        out: Finished = []
        if len(results) > 1:
            cur.execute(self.done_many, ([i for i, _ in results],
                                         [dumps(o) for _, o in results],
                                         now, now, worker, worker, now, now, evidence))
            found = {r[0]: r for r in cur.fetchall()}
            for item_id, _ in results:
                r = found.pop(item_id, None)
                if r is None:
                    raise why_not(item_id)
                out.append((item_id, r[1], r[2], r[3]))
            return out
        for item_id, output in results:
            cur.execute(self.done, (dumps(output), now, now, item_id, worker, worker, now,
                                    now, evidence))
            r = cur.fetchone()
            if r is None:
                raise why_not(item_id)
            out.append((item_id, r[0], r[1], r[2]))
        return out

    def append_events(self, cur: Any, guard: tuple[Any, ...], chain_id: int,
                      rows: Sequence[tuple[Any, ...]]) -> bool:
        if len(rows) == 1:
            cur.execute(self.audit_one, (*guard, *rows[0]))
            return bool(cur.fetchone()[0] == 1)
        cur.execute(self.audit, (*guard, *event_arrays(rows)))
        return bool(cur.fetchone()[0] == len(rows))


def complete_fused(store: Any, conn: Any, results: Sequence[tuple[int, Any]],
                   worker_id: str, now: float, evidence: Any) -> bool:
    """One statement for a whole complete (one item or a batch) on PostgreSQL, from the
    claim's hints.

    False (nothing written) when an item has no hint, snapshot or cached chain
    head, or a single item no longer matches its hint: the caller takes the
    ordinary path. A batch that does not match raises `NeedsFullPath`.
    """
    hints = [store._hints.pop(item_id, None) for item_id, _ in results]
    snaps: list[Any] = [store.snapshots.cached_queue(h[2]) if h else None for h in hints]
    if not all(snaps):
        return False
    actor = f"worker:{worker_id}"
    events = [store._event(snap, actor, "item.completed", now, item_id=item_id,
                           freed_minutes=snap.manual_minutes,
                           robot_seconds=max(0.0, now - hint[1]),
                           details={"attempt": hint[0]})
              for (item_id, _), hint, snap in zip(results, hints, snaps, strict=True)]
    plan = store.chain.plan(conn, events, now)
    if plan is None:
        return False
    guard, rows, head = plan
    if len(results) == 1:
        (item_id, output), (attempts, started, queue_id) = results[0], hints[0]
        sql, params = store.hot.done_fused, (
            dumps(output), now, now, item_id, worker_id, attempts, started, queue_id,
            worker_id, started, now, dumps(evidence), *guard, *rows[0])
    else:
        sql, params = store.hot.done_many_fused, (
            [i for i, _ in results], [dumps(o) for _, o in results],
            [h[0] for h in hints], [float(h[1]) for h in hints], [h[2] for h in hints],
            now, now, worker_id, worker_id, now, dumps(evidence), *guard, len(results),
            *event_arrays(rows), len(results))
    cur = conn.connection.cursor()
    try:
        cur.execute(sql, params)
        found = cur.fetchone()
    except psycopg.errors.InvalidTextRepresentation as err:
        if CHAIN_MOVED in str(err):  # nothing was written: take the ordinary path
            raise NeedsFullPath("the audit chain moved, or an item is not as claimed") \
                from err
        raise
    finally:
        cur.close()
    if not found or not found[0]:
        return False
    store.chain.wrote(head)
    return True


def event_arrays(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    """Events' rows (`EVENT_COLS` order) as one array per column, floats as floats."""
    cols = [[r[i] for r in rows] for i in range(len(EVENT_COLS))]
    for i, c in enumerate(EVENT_COLS):
        if c in EVENT_FLOATS:
            cols[i] = [None if v is None else float(v) for v in cols[i]]
    return cols


ID_FRESH = 1.0  # seconds an id drawn ahead may wait for its item (see enqueue_fused)


class NextIds:
    """Item ids drawn one statement ahead, so that a steady producer pays one round trip.

    An id orders items of equal priority and deadline (FIFO). One drawn ahead and
    used at once keeps that order; one that waited could let an item overtake
    items other producers added meanwhile, so an id older than `ID_FRESH` is
    dropped and a new one drawn: between producers, FIFO holds to within a second.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: tuple[int, float] | None = None

    def take(self) -> int | None:
        with self._lock:
            found, self._next = self._next, None
        if found is None or time.monotonic() - found[1] > ID_FRESH:
            return None
        return found[0]

    def keep(self, item_id: int) -> None:
        with self._lock:
            self._next = (item_id, time.monotonic())


def enqueue_fused(store: Any, conn: Any, snap: Any, row: dict[str, Any], actor: str,
                  now: float, details: dict[str, Any] | None, channel: str) -> int | None:
    """One new item on PostgreSQL in one statement (two when no id was drawn ahead).

    None (nothing written) when the chain head is not cached or the reference is
    already in the queue: the caller takes the ordinary path, which finds it.
    """
    cur = conn.connection.cursor()
    item_id = store.next_ids.take()
    if item_id is None:
        cur.execute(store.hot.next_item_id)
        item_id = int(cur.fetchone()[0])
    event = enqueued_event(store._event, snap, actor, now, [(row["reference"], item_id)],
                           details)
    plan = store.chain.plan(conn, [event], now)
    if plan is None:
        return None
    guard, rows, head = plan
    values = [row[c] for c in ITEM_COLS]
    values[2] = json.dumps(values[2])
    try:
        cur.execute(store.hot.enqueue_fused, (item_id, *values, *guard, *rows[0], channel,
                                              str(snap.queue_id)))
        found = cur.fetchone()
    except psycopg.errors.InvalidTextRepresentation as err:
        if CHAIN_MOVED in str(err):  # nothing was written: take the ordinary path
            raise NeedsFullPath("the audit chain moved") from err
        raise
    if found:
        store.next_ids.keep(int(found[4]))
    if not found or not found[0]:
        return None
    store.chain.wrote(head)
    return item_id
