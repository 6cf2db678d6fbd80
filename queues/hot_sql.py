"""The hot path as precompiled SQL text, run on the DBAPI cursor of the open transaction.

Why not SQLAlchemy Core here: rebuilding and compiling a Core statement costs
~170 µs and its execution context another ~70 µs, several times what SQLite
itself spends on a claim. These statements are built once per dialect at
import, run on the raw cursor of the connection SQLAlchemy's transaction holds
(so they commit or roll back with it), and psycopg prepares them server-side
after a few uses because their text never changes.

On PostgreSQL, statements that depend on each other are fused with
data-modifying CTEs (item update + attempt row; chain head + audit rows) so a
claim+complete costs as few round trips as the hand-written baseline allows.
Variable-length batches go as arrays through `unnest`, one statement text for
any size, sent in binary (`%b`): psycopg's text arrays escape every element with
a regular expression, which cost more than the server's insert. JSON is
encoded exactly as the Core types did: `json.dumps` text on SQLite, jsonb (via
`::jsonb` on that text) on PostgreSQL; None is SQL NULL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg

from queues.hot_tx import NeedsFullPath

# PostgreSQL takes the ids as `id = ANY(ARRAY(subquery))`, not `id IN (subquery)`:
# with `IN`, the generic plan of the prepared statement guesses that `LIMIT $n`
# returns hundreds of rows and hash-joins a sequential scan of the table, so the
# server kept planning the claim afresh on every call (a custom plan each time,
# pg_prepared_statements showed 0 generic). The array is an init plan feeding an
# index lookup, a generic plan that stays good: planned once, +20 % claims/s.
_CLAIM_SET = ("UPDATE work_items SET status='in_progress', lease_owner=?, lease_expires_at=?, "
              "attempts=attempts+1, attempt_started_at=?, updated_at=? "
              "WHERE id {ids}(SELECT id FROM work_items WHERE queue_id=? "
              "AND status IN ('new', 'retry_scheduled') AND available_at <= ? "
              "ORDER BY priority DESC, deadline_order, id LIMIT ?{lock}{close} "
              "RETURNING id, reference, payload, priority, attempts, attempt_limit, deadline, "
              "deadline_order")

_DONE_SET = ("UPDATE work_items SET status='done', output={json}, finished_at=?, updated_at=?, "
             "error_type=NULL, error_code=NULL, error_message=NULL, lease_owner=NULL, "
             "lease_expires_at=NULL WHERE id=? AND status='in_progress' AND lease_owner=? ")

_ATTEMPT_COLS = ("item_id, number, worker_id, started_at, ended_at, outcome, error_type, "
                 "error_code, error_message, evidence")

AUDIT_COLS = ("chain_id, seq, ts, actor, action, process, owner, cost_centre, item_id, "
              "freed_minutes, robot_seconds, details, prev_hash, hash")

ITEM_COLS = ("queue_id", "reference", "payload", "priority", "deadline", "deadline_order",
             "due_at", "available_at", "status", "attempts", "attempt_limit", "created_at",
             "updated_at")

_CHAIN_GUARD = ("UPDATE audit_chains SET head_hash=?, length=? "
                "WHERE id=? AND length=? AND head_hash=?")

_ITEM_FLOATS = tuple(i for i, c in enumerate(ITEM_COLS)
                     if c in {"deadline", "deadline_order", "due_at", "available_at",
                              "created_at", "updated_at"})
CHAIN_MOVED = "audit chain moved"  # the error text of a fused complete that must not commit
SQLITE_DONE_BATCH = 1000  # items per one-statement finish: 3n+3 variables
SQLITE_VARS_PER_INSERT = 30000  # under SQLITE_MAX_VARIABLE_NUMBER (32766 since 3.32)


def dumps(value: Any) -> str | None:
    """JSON text as SQLAlchemy's JSON type wrote it; None is SQL NULL."""
    return None if value is None else json.dumps(value)


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class HotSql:
    """One dialect's statements and the few helpers that run them."""

    def __init__(self, dialect: str):
        self.pg = dialect == "postgresql"
        self._done_many: dict[int, str] = {}
        pg = self.pg
        self.claim = (_pg(_CLAIM_SET.format(ids="= ANY(ARRAY", lock=" FOR UPDATE SKIP LOCKED",
                                            close="))")) if pg
                      else _CLAIM_SET.format(ids="IN ", lock="", close=")"))
        if pg:
            # One round trip: finish the item and write its attempt row together.
            self.done = _pg(
                "WITH f AS (" + _DONE_SET.format(json="?::jsonb")
                + "RETURNING id, queue_id, attempts, attempt_started_at, attempt_limit), "
                "a AS (INSERT INTO attempts (" + _ATTEMPT_COLS + ") SELECT id, attempts, ?, "
                "COALESCE(attempt_started_at, ?), ?, 'done', NULL, NULL, NULL, ?::jsonb "
                "FROM f) SELECT queue_id, attempts, attempt_started_at, attempt_limit FROM f")
            self.done_many = (
                "WITH v AS (SELECT * FROM unnest(%b::bigint[], %b::text[]) AS v(id, output)), "
                "f AS (UPDATE work_items w SET status='done', output=v.output::jsonb, "
                "finished_at=%s, updated_at=%s, error_type=NULL, error_code=NULL, "
                "error_message=NULL, lease_owner=NULL, lease_expires_at=NULL FROM v "
                "WHERE w.id=v.id AND w.status='in_progress' AND w.lease_owner=%s "
                "RETURNING w.id, w.queue_id, w.attempts, w.attempt_started_at, w.attempt_limit), "
                "a AS (INSERT INTO attempts (" + _ATTEMPT_COLS + ") SELECT id, attempts, %s, "
                "COALESCE(attempt_started_at, %s), %s, 'done', NULL, NULL, NULL, %s::jsonb "
                "FROM f) SELECT id, queue_id, attempts, attempt_started_at, attempt_limit FROM f")
            # The guarded head move and the rows in one statement: no head, no rows.
            # It reports the rows it wrote (fetched, so it also works in a pipeline).
            self.audit = (
                "WITH c AS (" + _pg(_CHAIN_GUARD) + " RETURNING id), "
                "i AS (INSERT INTO audit_events (" + AUDIT_COLS + ") SELECT c.id, v.* FROM c, "
                "unnest(%b::int[], %b::float8[], %b::text[], %b::text[], %b::text[], "
                "%b::text[], %b::text[], %b::bigint[], %b::float8[], %b::float8[], %b::text[], "
                "%b::text[], %b::text[]) AS v RETURNING 1) SELECT count(*) FROM i")
            # One event, plain parameters: cheaper to send than 13 one-element arrays.
            one = ("INSERT INTO audit_events (" + AUDIT_COLS + ") SELECT c.id, %s::int, "
                   "%s::float8, %s, %s, %s, %s, %s, %s::bigint, %s::float8, %s::float8, %s, %s, "
                   "%s FROM c RETURNING 1")
            self.audit_one = ("WITH c AS (" + _pg(_CHAIN_GUARD) + " RETURNING id), i AS ("
                              + one + ") SELECT count(*) FROM i")
            # A whole complete in one statement, when the claim left its hint (attempt
            # number, start, queue): item, attempt row, chain head and event. The
            # head moves only if the item did; an item done without its event (the
            # chain moved under us) fails the statement, which is atomic, so it can
            # run in autocommit: one round trip and one commit for a complete.
            self.done_fused = _pg(
                "WITH f AS (" + _DONE_SET.format(json="?::jsonb")
                + "AND attempts=? AND attempt_started_at=? AND queue_id=? "
                "RETURNING id, attempts), "
                "a AS (INSERT INTO attempts (" + _ATTEMPT_COLS + ") SELECT id, attempts, ?, ?, "
                "?, 'done', NULL, NULL, NULL, ?::jsonb FROM f), "
                "c AS (" + _CHAIN_GUARD + " AND EXISTS (SELECT 1 FROM f) RETURNING id), "
                "i AS (" + one.replace("%s", "?") + "), "
                "n AS (SELECT (SELECT count(*) FROM f) AS f, (SELECT count(*) FROM i) AS i) "
                # (the CASE inside the CAST: a constant CAST would fail at planning)
                f"SELECT f, i, CAST(CASE WHEN f <> i THEN '{CHAIN_MOVED}' ELSE '0' END "
                "AS integer) FROM n")
            self.enqueue = (
                "INSERT INTO work_items (" + ", ".join(ITEM_COLS) + ") SELECT v.queue_id, "
                "v.reference, v.payload::jsonb, v.priority, v.deadline, v.deadline_order, "
                "v.due_at, v.available_at, v.status, v.attempts, v.attempt_limit, "
                "v.created_at, v.updated_at FROM unnest(%b::int[], %b::text[], %b::text[], "
                "%b::int[], %b::float8[], %b::float8[], %b::float8[], %b::float8[], "
                "%b::text[], %b::int[], %b::int[], %b::float8[], %b::float8[]) AS v("
                + ", ".join(ITEM_COLS) + ") ON CONFLICT DO NOTHING RETURNING reference, id")
            self.heartbeat = ("UPDATE work_items SET lease_expires_at=%s WHERE id = ANY(%s) "
                              "AND lease_owner=%s AND status='in_progress' RETURNING id")
        else:
            self.done = (_DONE_SET.format(json="?")
                         + "RETURNING queue_id, attempts, attempt_started_at, attempt_limit")
            self.audit_rows = ("INSERT INTO audit_events (" + AUDIT_COLS + ") VALUES ("
                               + ", ".join("?" * 14) + ")")
        self.attempt = (f"INSERT INTO attempts ({_ATTEMPT_COLS}) VALUES "
                        f"({', '.join('?' * 9)}, ?{'::jsonb' if pg else ''})")
        self.chain_guard = _CHAIN_GUARD
        self.chain_head = "SELECT head_hash, length FROM audit_chains WHERE id=?"
        if pg:
            self.attempt, self.chain_guard = _pg(self.attempt), _pg(self.chain_guard)
            self.chain_head = _pg(self.chain_head) + " FOR UPDATE"

    # -- helpers -------------------------------------------------------------------
    def done_many_sqlite(self, count: int) -> str:
        """Finish `count` items in one statement; each keeps its own output."""
        sql = self._done_many.get(count)
        if sql is None:
            whens = " ".join(["WHEN ? THEN ?"] * count)
            sql = self._done_many[count] = (
                f"UPDATE work_items SET status='done', output=CASE id {whens} END, "
                "finished_at=?, updated_at=?, error_type=NULL, error_code=NULL, "
                "error_message=NULL, lease_owner=NULL, lease_expires_at=NULL "
                f"WHERE id IN ({', '.join('?' * count)}) AND status='in_progress' "
                "AND lease_owner=? RETURNING id, queue_id, attempts, attempt_started_at")
        return sql

    def json_in(self, value: Any) -> Any:
        """A payload read back: jsonb arrives decoded, SQLite text does not."""
        return value if self.pg or value is None else json.loads(value)

    def heartbeat_sql(self, count: int) -> str:
        if self.pg:
            return self.heartbeat
        marks = ", ".join("?" * count)
        return (f"UPDATE work_items SET lease_expires_at=? WHERE id IN ({marks}) "
                "AND lease_owner=? AND status='in_progress' RETURNING id")

    def heartbeat_params(self, ids: Sequence[int], worker: str, expires: float
                         ) -> tuple[Any, ...]:
        if self.pg:
            return (expires, list(ids), worker)
        return (expires, *ids, worker)

    def insert_items(self, cur: Any, rows: list[dict[str, Any]]) -> dict[str, int]:
        """Insert rows whose reference is new to their queue; map reference -> id."""
        if not rows:
            return {}
        if self.pg:
            cols = [[r[c] for r in rows] for c in ITEM_COLS]
            cols[2] = [json.dumps(p) for p in cols[2]]
            for i in _ITEM_FLOATS:  # psycopg types an array by its first element
                cols[i] = [None if v is None else float(v) for v in cols[i]]
            cur.execute(self.enqueue, cols)
            return dict(cur.fetchall())
        found: dict[str, int] = {}
        per = SQLITE_VARS_PER_INSERT // len(ITEM_COLS)
        head = f"INSERT INTO work_items ({', '.join(ITEM_COLS)}) VALUES "
        mark = "(" + ", ".join("?" * len(ITEM_COLS)) + ")"
        for start in range(0, len(rows), per):
            chunk = rows[start:start + per]
            params: list[Any] = []
            for r in chunk:
                params += (r["queue_id"], r["reference"], json.dumps(r["payload"]),
                           r["priority"], r["deadline"], r["deadline_order"], r["due_at"],
                           r["available_at"], r["status"], r["attempts"], r["attempt_limit"],
                           r["created_at"], r["updated_at"])
            sql = (head + ", ".join([mark] * len(chunk))
                   + " ON CONFLICT DO NOTHING RETURNING reference, id")
            cur.execute(sql, params)
            found.update(cur.fetchall())
        return found


def complete_items(store: Any, conn: Any, results: Sequence[tuple[int, Any]], worker: str,
                   now: float, evidence: Any) -> list[tuple[int, int, int, float | None]]:
    """Finish held items as done and write their attempt rows, inside `conn`'s transaction.

    Returns (id, queue_id, attempts, attempt_started_at) in the order given. An
    item the worker no longer holds raises the store's precise reason, and the
    caller's transaction (the whole batch) rolls back: a batch completes entirely
    or not at all.
    """
    hot: HotSql = store.hot
    ev = dumps(evidence)
    cur = conn.connection.cursor()
    try:
        if hot.pg and len(results) > 1:
            cur.execute(hot.done_many, ([i for i, _ in results], [dumps(o) for _, o in results],
                                        now, now, worker, worker, now, now, ev))
            found = {r[0]: r for r in cur.fetchall()}
            out = []
            for item_id, _ in results:
                r = found.pop(item_id, None)
                if r is None:
                    raise store._why_not(conn, item_id, worker, "complete")
                out.append((item_id, r[1], r[2], r[3]))
            return out
        out, attempts = [], []
        if not hot.pg and 1 < len(results) <= SQLITE_DONE_BATCH:
            cur.execute(hot.done_many_sqlite(len(results)), [
                *(v for item_id, output in results for v in (item_id, dumps(output))),
                now, now, *(i for i, _ in results), worker])
            found = {r[0]: r for r in cur.fetchall()}
            for item_id, _ in results:
                r = found.pop(item_id, None)
                if r is None:
                    raise store._why_not(conn, item_id, worker, "complete")
                out.append((item_id, r[1], r[2], r[3]))
                attempts.append((item_id, r[2], worker, r[3] or now, now, "done", None, None,
                                 None, ev))
            results = ()
        for item_id, output in results:
            if hot.pg:
                cur.execute(hot.done, (dumps(output), now, now, item_id, worker, worker, now,
                                       now, ev))
            else:
                cur.execute(hot.done, (dumps(output), now, now, item_id, worker))
            r = cur.fetchone()
            if r is None:
                raise store._why_not(conn, item_id, worker, "complete")
            out.append((item_id, r[0], r[1], r[2]))
            attempts.append((item_id, r[1], worker, r[2] or now, now, "done", None, None,
                             None, ev))
        if not hot.pg:
            if len(attempts) == 1:
                cur.execute(hot.attempt, attempts[0])
            else:
                cur.executemany(hot.attempt, attempts)
        return out
    finally:
        cur.close()


def complete_fused(store: Any, conn: Any, result: tuple[int, Any], worker_id: str, now: float,
                   evidence: Any) -> bool:
    """One statement for a whole complete on PostgreSQL, from the claim's hint.

    False (nothing written) when there is no hint, snapshot or cached chain head,
    or the item no longer matches the hint: the caller takes the ordinary path.
    """
    item_id, output = result
    hint = store._hints.pop(item_id, None)
    snap = store.snapshots.cached_queue(hint[2]) if hint else None
    if hint is None or snap is None:
        return False
    attempts, started, queue_id = hint
    event = store._event(snap, f"worker:{worker_id}", "item.completed", now,
                        item_id=item_id, freed_minutes=snap.manual_minutes,
                        robot_seconds=max(0.0, now - started),
                        details={"attempt": attempts})
    plan = store.chain.plan(conn, [event], now)
    if plan is None:
        return False
    guard, rows, head = plan
    cur = conn.connection.cursor()
    try:
        cur.execute(store.hot.done_fused, (
            dumps(output), now, now, item_id, worker_id, attempts, started, queue_id,
            worker_id, started, now, dumps(evidence), *guard, *rows[0]))
        found = cur.fetchone()
    except psycopg.errors.InvalidTextRepresentation as err:
        if CHAIN_MOVED in str(err):  # nothing was written: take the ordinary path
            raise NeedsFullPath("the audit chain moved") from err
        raise
    finally:
        cur.close()
    if not found or not found[0]:
        return False
    store.chain.wrote(head)
    return True
