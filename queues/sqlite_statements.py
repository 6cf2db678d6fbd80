"""The hot path's statements on SQLite: `?` placeholders, JSON as text, IN lists.

A claim needs no row lock: it runs inside the single writer's `BEGIN
IMMEDIATE`. Batches are one statement with as many placeholders as items,
kept under SQLite's variable limit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from queues.statements import (
    ATTEMPT_COLS,
    AUDIT_COLS,
    CHAIN_GUARD,
    CLAIM_SET,
    DONE_SET,
    ITEM_COLS,
    SQLITE_DONE_BATCH,
    SQLITE_VARS_PER_INSERT,
    Finished,
    Statements,
    WhyNot,
    dumps,
)


class SqliteStatements(Statements):
    """SQLite's statements; a statement per batch size is built once and kept."""

    def __init__(self) -> None:
        self.claim = CLAIM_SET.format(ids="IN ", lock="", close=")")
        self.done = (DONE_SET.format(json="?")
                     + "RETURNING queue_id, attempts, attempt_started_at, attempt_limit")
        self.attempt = f"INSERT INTO attempts ({ATTEMPT_COLS}) VALUES ({', '.join('?' * 10)})"
        self.audit_rows = f"INSERT INTO audit_events ({AUDIT_COLS}) VALUES ({', '.join('?' * 14)})"
        self.chain_guard = CHAIN_GUARD
        self.chain_head = "SELECT head_hash, length FROM audit_chains WHERE id=?"
        self._done_many: dict[int, str] = {}

    def json_in(self, value: Any) -> Any:
        return None if value is None else json.loads(value)

    def heartbeat(self, cur: Any, ids: Sequence[int], worker: str, expires: float
                  ) -> set[int]:
        marks = ", ".join("?" * len(ids))
        cur.execute(f"UPDATE work_items SET lease_expires_at=? WHERE id IN ({marks}) "
                    "AND lease_owner=? AND status='in_progress' RETURNING id",
                    (expires, *ids, worker))
        return {r[0] for r in cur.fetchall()}

    def insert_items(self, cur: Any, rows: list[dict[str, Any]]) -> dict[str, int]:
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

    def _done_many_sql(self, count: int) -> str:
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

    def finish_done(self, cur: Any, results: Sequence[tuple[int, Any]], worker: str,
                    now: float, evidence: str | None, why_not: WhyNot) -> Finished:
        out: Finished = []
        if 1 < len(results) <= SQLITE_DONE_BATCH:
            cur.execute(self._done_many_sql(len(results)), [
                *(v for item_id, output in results for v in (item_id, dumps(output))),
                now, now, *(i for i, _ in results), worker])
            found = {r[0]: r for r in cur.fetchall()}
            for item_id, _ in results:
                r = found.pop(item_id, None)
                if r is None:
                    raise why_not(item_id)
                out.append((item_id, r[1], r[2], r[3]))
        else:
            for item_id, output in results:
                cur.execute(self.done, (dumps(output), now, now, item_id, worker))
                r = cur.fetchone()
                if r is None:
                    raise why_not(item_id)
                out.append((item_id, r[0], r[1], r[2]))
        attempts = [(item_id, number, worker, started or now, now, "done", None, None, None,
                     evidence) for item_id, _, number, started in out]
        if len(attempts) == 1:
            cur.execute(self.attempt, attempts[0])
        else:
            cur.executemany(self.attempt, attempts)
        return out

    def append_events(self, cur: Any, guard: tuple[Any, ...], chain_id: int,
                      rows: Sequence[tuple[Any, ...]]) -> bool:
        cur.execute(self.chain_guard, guard)
        if cur.rowcount != 1:
            return False
        params = [(chain_id, *r) for r in rows]
        if len(params) == 1:
            cur.execute(self.audit_rows, params[0])
        else:
            cur.executemany(self.audit_rows, params)
        return True
