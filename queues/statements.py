"""The hot path as precompiled SQL text, run on the DBAPI cursor of the open transaction.

One class per database (`SqliteStatements`, `PostgresStatements`); this module
holds what both share and the interface the store calls.

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
from collections.abc import Callable, Sequence
from typing import Any

# PostgreSQL takes the ids as `id = ANY(ARRAY(subquery))`, not `id IN (subquery)`:
# with `IN`, the generic plan of the prepared statement guesses that `LIMIT $n`
# returns hundreds of rows and hash-joins a sequential scan of the table, so the
# server kept planning the claim afresh on every call (a custom plan each time,
# pg_prepared_statements showed 0 generic). The array is an init plan feeding an
# index lookup, a generic plan that stays good: planned once, +20 % claims/s.
CLAIM_SET = ("UPDATE work_items SET status='in_progress', lease_owner=?, lease_expires_at=?, "
              "attempts=attempts+1, attempt_started_at=?, updated_at=? "
              "WHERE id {ids}(SELECT id FROM work_items WHERE queue_id=? "
              "AND status IN ('new', 'retry_scheduled') AND available_at <= ? "
              "ORDER BY priority DESC, deadline_order, id LIMIT ?{lock}{close} "
              "RETURNING id, reference, payload, priority, attempts, attempt_limit, deadline, "
              "deadline_order, created_at")

DONE_SET = ("UPDATE work_items SET status='done', output={json}, finished_at=?, updated_at=?, "
             "error_type=NULL, error_code=NULL, error_message=NULL, lease_owner=NULL, "
             "lease_expires_at=NULL WHERE id=? AND status='in_progress' AND lease_owner=? ")

ATTEMPT_COLS = ("item_id, number, worker_id, started_at, ended_at, outcome, error_type, "
                 "error_code, error_message, evidence")

AUDIT_COLS = ("chain_id, seq, ts, actor, action, process, owner, cost_centre, item_id, "
              "freed_minutes, robot_seconds, details, prev_hash, hash")

ITEM_COLS = ("queue_id", "reference", "payload", "priority", "deadline", "deadline_order",
             "due_at", "available_at", "status", "attempts", "attempt_limit", "created_at",
             "updated_at")

CHAIN_GUARD = ("UPDATE audit_chains SET head_hash=?, length=? "
                "WHERE id=? AND length=? AND head_hash=?")

ITEM_FLOATS = tuple(i for i, c in enumerate(ITEM_COLS)
                     if c in {"deadline", "deadline_order", "due_at", "available_at",
                              "created_at", "updated_at"})
# an audit event's columns after chain_id, in AUDIT_COLS order
EVENT_COLS = ("seq", "ts", "actor", "action", "process", "owner", "cost_centre", "item_id",
               "freed_minutes", "robot_seconds", "details", "prev_hash", "hash")
EVENT_FLOATS = {"ts", "freed_minutes", "robot_seconds"}
CHAIN_MOVED = "audit chain moved"  # the error text of a fused complete that must not commit
SQLITE_DONE_BATCH = 1000  # items per one-statement finish: 3n+3 variables
SQLITE_VARS_PER_INSERT = 30000  # under SQLITE_MAX_VARIABLE_NUMBER (32766 since 3.32)


def dumps(value: Any) -> str | None:
    """JSON text as SQLAlchemy's JSON type wrote it; None is SQL NULL."""
    return None if value is None else json.dumps(value)


def pg_params(sql: str) -> str:
    """SQLite's `?` placeholders as psycopg's `%s`."""
    return sql.replace("?", "%s")



# (id, queue_id, attempts, attempt_started_at) of each finished item, in the order given
Finished = list[tuple[int, int, int, float | None]]
# raises the store's precise reason why an item could not be finished
WhyNot = Callable[[int], Exception]


class Statements:
    """One database's hot-path statements and the few helpers that run them."""

    pg = False  # PostgreSQL: claims leave hints for a one-statement complete
    claim: str
    done: str
    attempt: str
    chain_head: str

    def json_in(self, value: Any) -> Any:
        """A payload read back as a Python value."""
        raise NotImplementedError

    def heartbeat(self, cur: Any, ids: Sequence[int], worker: str, expires: float
                  ) -> set[int]:
        """Extend the worker's leases on `ids`; the ids it still holds."""
        raise NotImplementedError

    def insert_items(self, cur: Any, rows: list[dict[str, Any]]) -> dict[str, int]:
        """Insert rows whose reference is new to their queue; map reference -> id."""
        raise NotImplementedError

    def finish_done(self, cur: Any, results: Sequence[tuple[int, Any]], worker: str,
                    now: float, evidence: str | None, why_not: WhyNot) -> Finished:
        """Mark held items done and write their attempt rows, in the caller's transaction.

        An item the worker no longer holds raises `why_not(item_id)`, and the
        caller's transaction (the whole batch) rolls back.
        """
        raise NotImplementedError

    def append_events(self, cur: Any, guard: tuple[Any, ...], chain_id: int,
                      rows: Sequence[tuple[Any, ...]]) -> bool:
        """Move the chain head (`guard`: new hash, new length, chain, old length, old
        hash) and insert the events' rows; False, writing nothing, if the head moved."""
        raise NotImplementedError


def statements_for(dialect: str) -> Statements:
    """The statements of a SQLAlchemy dialect name."""
    if dialect == "postgresql":
        from queues.postgres_statements import PostgresStatements
        return PostgresStatements()
    from queues.sqlite_statements import SqliteStatements
    return SqliteStatements()
