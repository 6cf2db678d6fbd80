"""`AlertStore` on SQL: `alerts` unique per (rule, subject), `alert_deliveries`, silences."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from queues.alert_store import (
    DIGEST,
    FAILED,
    NEW,
    PENDING,
    SENT,
    Alert,
    AlertNotFound,
    AlertStore,
    Delivery,
    NewAlert,
    Silence,
)
from queues.chain import AuditEvent
from queues.schema import alert_deliveries, alert_silences, alerts_t

if TYPE_CHECKING:
    from queues.sql_store_core import SqlStoreCore

al, ad, si = alerts_t, alert_deliveries, alert_silences
ERROR_MAX = 300


def alert_values(alert: NewAlert, *, actor: str, now: float) -> dict[str, Any]:
    """The row of a new alert, its texts cut to their columns."""
    return {"rule": alert.rule[:40], "subject": alert.subject[:200],
            "process": alert.process, "raised_at": now, "raised_by": actor[:200],
            "title": alert.title[:300], "text": alert.text, "details": dict(alert.details),
            "state": NEW}


def raise_in(conn: sa.Connection, alert: NewAlert, *, actor: str, now: float) -> int | None:
    """Insert the alert inside the caller's transaction unless raised before; its id."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    found = conn.execute(insert(al).values(**alert_values(alert, actor=actor, now=now))
                         .on_conflict_do_nothing(index_elements=["rule", "subject"])
                         .returning(al.c.id)).scalar()
    return None if found is None else int(found)


def _alert(row: sa.RowMapping, deliveries: Sequence[Delivery] = ()) -> Alert:
    return Alert(id=row["id"], rule=row["rule"], subject=row["subject"],
                 process=row["process"], raised_at=row["raised_at"],
                 raised_by=row["raised_by"], title=row["title"], text=row["text"],
                 details=dict(row["details"] or {}), state=row["state"],
                 deliveries=tuple(deliveries))


def _delivery(row: sa.RowMapping) -> Delivery:
    return Delivery(id=row["id"], alert_id=row["alert_id"], channel=row["channel"],
                    recipients=tuple(row["recipients"] or ()), status=row["status"],
                    attempts=row["attempts"], next_at=row["next_at"],
                    last_error=row["last_error"], sent_at=row["sent_at"])


def _silence(row: sa.RowMapping) -> Silence:
    return Silence(id=row["id"], rule=row["rule"], process=row["process"],
                   until=row["until"], created_by=row["created_by"],
                   created_at=row["created_at"], reason=row["reason"])


class SqlAlertStore(AlertStore):
    def __init__(self, store: SqlStoreCore):
        self.store = store

    def raise_alert(self, alert: NewAlert, *, actor: str) -> int | None:
        with self.store._write(f"raise a {alert.rule} alert") as conn:
            return raise_in(conn, alert, actor=actor, now=self.store.clock())

    def unrouted(self, limit: int = 100) -> list[Alert]:
        with self.store._read("read new alerts") as conn:
            rows = conn.execute(sa.select(al).where(al.c.state == NEW)
                                .order_by(al.c.id).limit(limit)).mappings().all()
        return [_alert(r) for r in rows]

    def route(self, alert_id: int, state: str,
              deliveries: Sequence[tuple[str, Sequence[str], str]] = ()) -> None:
        now = self.store.clock()
        with self.store._write("route an alert") as conn:
            done = conn.execute(sa.update(al).where(al.c.id == alert_id, al.c.state == NEW)
                                .values(state=state)).rowcount
            if not done:
                return  # routed already (by a leader before a fail-over)
            for channel, recipients, status in deliveries:
                conn.execute(sa.insert(ad).values(
                    alert_id=alert_id, channel=channel[:60], recipients=list(recipients),
                    status=status, attempts=0, next_at=now))

    def _with_alerts(self, conn: sa.Connection, rows: Sequence[sa.RowMapping]
                     ) -> list[tuple[Alert, Delivery]]:
        ids = sorted({r["alert_id"] for r in rows})
        found = {r["id"]: _alert(r) for r in conn.execute(
            sa.select(al).where(al.c.id.in_(ids))).mappings()} if ids else {}
        return [(found[r["alert_id"]], _delivery(r)) for r in rows if r["alert_id"] in found]

    def due(self, now: float, limit: int = 100) -> list[tuple[Alert, Delivery]]:
        with self.store._read("read due alert deliveries") as conn:
            rows = conn.execute(sa.select(ad).where(ad.c.status == PENDING, ad.c.next_at <= now)
                                .order_by(ad.c.next_at, ad.c.id).limit(limit)).mappings().all()
            return self._with_alerts(conn, rows)

    def held_for_digest(self, limit: int = 1000) -> list[tuple[Alert, Delivery]]:
        with self.store._read("read the alert digest") as conn:
            rows = conn.execute(sa.select(ad).where(ad.c.status == DIGEST)
                                .order_by(ad.c.id).limit(limit)).mappings().all()
            return self._with_alerts(conn, rows)

    def delivered(self, delivery_ids: Sequence[int], now: float) -> None:
        if not delivery_ids:
            return
        with self.store._write("record alert deliveries") as conn:
            conn.execute(sa.update(ad).where(ad.c.id.in_(list(delivery_ids))).values(
                status=SENT, sent_at=now, attempts=ad.c.attempts + 1, last_error=None))

    def delivery_failed(self, delivery_id: int, error: str, *, now: float,
                        retry_at: float | None) -> None:
        with self.store._write("record a failed alert delivery") as conn:
            conn.execute(sa.update(ad).where(ad.c.id == delivery_id).values(
                status=PENDING if retry_at is not None else FAILED,
                next_at=retry_at if retry_at is not None else now,
                attempts=ad.c.attempts + 1, last_error=error[:ERROR_MAX]))

    def list_alerts(self, *, limit: int = 50, since: float | None = None,
                    rule: str | None = None, process: str | None = None) -> list[Alert]:
        stmt = sa.select(al).order_by(al.c.raised_at.desc(), al.c.id.desc()).limit(limit)
        if since is not None:
            stmt = stmt.where(al.c.raised_at >= since)
        if rule is not None:
            stmt = stmt.where(al.c.rule == rule)
        if process is not None:
            stmt = stmt.where(al.c.process == process)
        with self.store._read("list alerts") as conn:
            rows = conn.execute(stmt).mappings().all()
            ids = [r["id"] for r in rows]
            by_alert: dict[int, list[Delivery]] = {}
            if ids:
                for d in conn.execute(sa.select(ad).where(ad.c.alert_id.in_(ids))
                                      .order_by(ad.c.id)).mappings():
                    by_alert.setdefault(d["alert_id"], []).append(_delivery(d))
        return [_alert(r, by_alert.get(r["id"], ())) for r in rows]

    def add_silence(self, *, rule: str, process: str | None, until: float, actor: str,
                    reason: str) -> Silence:
        now = self.store.clock()
        with self.store._write("silence an alert rule") as conn:
            silence_id = conn.execute(sa.insert(si).values(
                rule=rule, process=process, until=until, created_by=actor[:200],
                created_at=now, reason=reason[:300]).returning(si.c.id)).scalar_one()
            self.store._audit(conn, [AuditEvent(
                actor=actor, action="alerts.silenced", ts=now, process=process,
                details={"silence": int(silence_id), "rule": rule, "until": until,
                         "reason_given": bool(reason.strip())})])
            row = conn.execute(sa.select(si).where(si.c.id == silence_id)).mappings().one()
        return _silence(row)

    def silences(self, now: float) -> list[Silence]:
        with self.store._read("read silences") as conn:
            rows = conn.execute(sa.select(si).where(si.c.until > now)
                                .order_by(si.c.until)).mappings().all()
        return [_silence(r) for r in rows]

    def end_silence(self, silence_id: int, *, actor: str, now: float) -> None:
        with self.store._write("end a silence") as conn:
            row = conn.execute(sa.select(si).where(si.c.id == silence_id)).mappings().first()
            if row is None:
                raise AlertNotFound(f"no silence {silence_id}: see `rpa alerts list`")
            conn.execute(sa.update(si).where(si.c.id == silence_id).values(until=now))
            self.store._audit(conn, [AuditEvent(
                actor=actor, action="alerts.unsilenced", ts=now, process=row["process"],
                details={"silence": silence_id, "rule": row["rule"]})])
