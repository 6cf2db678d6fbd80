"""The freed-hours ledger: what the audit log says each process did in a period.

Freed time is read from the audit log, never from the work-item rows: items are
mutable (retried, abandoned, purged), events are append-only and hash-chained.
Each ``item.completed`` event carries the minutes it freed *as configured when
the item was done*, and each ``item.business_failed`` event the minutes a person
still spends on it (negative), so changing ``manual_minutes_per_item`` later
never rewrites an earlier period, and anyone can re-derive a report from the
events and check it against ``rpa audit verify``.

One SQL aggregation per report, run by the database: a period's attempt-ending
events, grouped by process and by the owner and cost centre *recorded in each
event* (ownership changes over time; an event keeps the owner it had). With a
chart, the same query also buckets by calendar month: the month boundaries are
local midnights computed in Python (``Period.months``) and passed as a CASE, so
both engines bucket identically without any time-zone support in SQL.

The query reads only the columns of ``ix_audit_events_report`` (migration
0003), a partial covering index over exactly the attempt-ending events, with
the same literal predicate (``ATTEMPT_END_SQL``) so both planners can use it.

Sums arrive from SQL as doubles, added in an order the engine chooses; they are
quantized (freed minutes to 1e-6 minute, robot time to 1e-3 s) so the figures
the allocation splits do not change with the engine's summation order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa

from orchestrator.reports.hours import ProcessUsage
from orchestrator.reports.periods import Period
from queues.schema import ATTEMPT_END_SQL, audit_events, processes

MINUTES_QUANTUM = Decimal("0.000001")
SECONDS_QUANTUM = Decimal("0.001")
SeriesKey = Literal["owner", "process", "cost_centre"]


def _decimal(value: float | int | None, quantum: Decimal) -> Decimal:
    """A SQL sum (double, int or NULL) as an exact Decimal at a fixed quantum."""
    if value is None:
        return Decimal(0)
    return Decimal(repr(float(value))).quantize(quantum)


@dataclass(frozen=True)
class LedgerRow:
    """One process under one owner and cost centre (as recorded in the events).

    ``freed_minutes`` is the net of credits and exception minutes and may be
    negative when a person spent more time on business exceptions than the
    robot freed; ``ProcessUsage`` cannot hold that, see ``Ledger.negative``.
    """

    process: str
    owner: str
    cost_centre: str
    items_done: int
    business_exceptions: int
    robot_seconds: Decimal
    freed_minutes: Decimal
    last_ts: float

    def usage(self) -> ProcessUsage:
        """As the reports' input row; a negative net is reported as zero freed."""
        return ProcessUsage(self.process, self.owner, self.cost_centre, self.items_done,
                            self.business_exceptions, self.robot_seconds,
                            max(self.freed_minutes, Decimal(0)))


def _merge(rows: Sequence[LedgerRow]) -> LedgerRow:
    """One row for several snapshot groups of the same process; the latest owner wins."""
    latest = max(rows, key=lambda r: (r.last_ts, r.owner, r.cost_centre))
    return LedgerRow(
        latest.process, latest.owner, latest.cost_centre,
        sum(r.items_done for r in rows), sum(r.business_exceptions for r in rows),
        sum((r.robot_seconds for r in rows), Decimal(0)),
        sum((r.freed_minutes for r in rows), Decimal(0)),
        latest.last_ts,
    )


@dataclass(frozen=True)
class RegisteredProcess:
    """A process as the ``processes`` table has it now."""

    name: str
    owner: str
    cost_centre: str
    created_at: float


@dataclass(frozen=True)
class Ledger:
    """A period's ledger: snapshot groups, registered processes, optional month buckets."""

    period: Period
    rows: tuple[LedgerRow, ...]
    registered: Mapping[str, RegisteredProcess]
    monthly: tuple[tuple[str, LedgerRow], ...] | None = field(default=None)

    def segments(self) -> list[ProcessUsage]:
        """Rows per (process, owner, cost centre) as recorded, plus idle processes.

        For the hours report: freed hours by owner follow the owner each event
        was recorded under, so a handover mid-period splits the process's hours.
        """
        seen = {row.process for row in self.rows}
        idle = [ProcessUsage(p.name, p.owner, p.cost_centre, 0, 0, Decimal(0), Decimal(0))
                for name, p in sorted(self.registered.items()) if name not in seen]
        return [row.usage() for row in self.rows] + idle

    def per_process(self) -> list[LedgerRow]:
        """One row per process, idle registered processes included (zeros)."""
        groups: dict[str, list[LedgerRow]] = {}
        for row in self.rows:
            groups.setdefault(row.process, []).append(row)
        merged = {name: _merge(rows) for name, rows in groups.items()}
        for name, p in self.registered.items():
            if name not in merged:
                merged[name] = LedgerRow(name, p.owner, p.cost_centre, 0, 0, Decimal(0),
                                         Decimal(0), 0.0)
        return [merged[name] for name in sorted(merged)]

    def by_process(self) -> list[ProcessUsage]:
        """One ``ProcessUsage`` per process, for the cost allocation.

        Costs are split per process; a process whose owner changed during the
        period is attributed to the owner (and cost centre) of its latest event,
        and a registered process without events to its current owner.
        """
        return [row.usage() for row in self.per_process()]

    def negative(self) -> list[tuple[str, Decimal]]:
        """Processes whose net freed minutes are below zero (reported as zero)."""
        return [(row.process, row.freed_minutes) for row in self.per_process()
                if row.freed_minutes < 0]

    def monthly_hours(self, key: SeriesKey = "owner") -> dict[str, dict[str, Decimal]]:
        """Freed hours per month (in time order) per owner, process or cost centre.

        Negative nets (exception minutes exceeding credits) show as zero bars.
        """
        if self.monthly is None:
            raise ValueError("this ledger was read without month buckets (monthly=True)")
        out: dict[str, dict[str, Decimal]] = {m.label: {} for m in self.period.months()}
        for label, row in self.monthly:
            by_key = out.setdefault(label, {})
            name = getattr(row, key)
            by_key[name] = by_key.get(name, Decimal(0)) + row.freed_minutes / 60
        return {label: {k: max(v, Decimal(0)) for k, v in sorted(groups.items())}
                for label, groups in out.items()}


def _aggregates() -> list[sa.ColumnElement[Any]]:
    ae = audit_events
    done = sa.case((ae.c.action == "item.completed", 1), else_=0)
    failed = sa.case((ae.c.action == "item.business_failed", 1), else_=0)
    return [
        ae.c.process, ae.c.owner, ae.c.cost_centre,
        sa.func.sum(done).label("items_done"),
        sa.func.sum(failed).label("business_exceptions"),
        sa.func.sum(ae.c.robot_seconds).label("robot_seconds"),
        sa.func.sum(ae.c.freed_minutes).label("freed_minutes"),
        sa.func.max(ae.c.ts).label("last_ts"),
    ]


def ledger_statement(start: float, end: float, *, bounds: Sequence[float] = (),
                     only: Iterable[str] | None = None) -> sa.Select[Any]:
    """The aggregation over ``[start, end)``; with ``bounds``, also a month bucket.

    ``bounds`` are the interior month boundaries (epoch seconds, ascending): the
    bucket is the number of boundaries at or before the event's time.
    """
    ae = audit_events
    columns = _aggregates()
    group: list[sa.ColumnElement[Any]] = [ae.c.process, ae.c.owner, ae.c.cost_centre]
    if bounds:
        whens = [(ae.c.ts < bound, index) for index, bound in enumerate(bounds)]
        bucket = sa.case(*whens, else_=len(bounds)).label("bucket")
        columns.append(bucket)
        group.append(bucket)
    stmt = (sa.select(*columns)
            .where(ATTEMPT_END_SQL, ae.c.ts >= start, ae.c.ts < end,
                   ae.c.process.is_not(None))
            .group_by(*group))
    if only is not None:
        stmt = stmt.where(ae.c.process.in_(sorted(set(only))))
    return stmt


def _row(r: Any) -> LedgerRow:
    return LedgerRow(
        process=r.process, owner=r.owner or "", cost_centre=r.cost_centre or "",
        items_done=int(r.items_done or 0), business_exceptions=int(r.business_exceptions or 0),
        robot_seconds=_decimal(r.robot_seconds, SECONDS_QUANTUM),
        freed_minutes=_decimal(r.freed_minutes, MINUTES_QUANTUM),
        last_ts=float(r.last_ts or 0.0),
    )


def registered_processes(conn: sa.Connection) -> dict[str, RegisteredProcess]:
    """Every registered process with its current owner, cost centre and creation time."""
    rows = conn.execute(sa.select(processes.c.name, processes.c.owner,
                                  processes.c.cost_centre, processes.c.created_at))
    return {r.name: RegisteredProcess(r.name, r.owner, r.cost_centre, float(r.created_at))
            for r in rows}


def read_ledger(conn: sa.Connection, period: Period, *, monthly: bool = False,
                only: Iterable[str] | None = None) -> Ledger:
    """Aggregate ``period`` from the audit log in one query (month buckets if asked).

    ``only`` restricts the ledger to some processes (candidates use it); the
    registered processes are then restricted the same way.
    """
    start, end = period.to_epoch()
    names = None if only is None else sorted(set(only))
    registered = registered_processes(conn)
    if names is not None:
        registered = {n: p for n, p in registered.items() if n in names}
    if not monthly:
        rows = [_row(r) for r in conn.execute(ledger_statement(start, end, only=names))]
        return Ledger(period, _sorted(rows), registered)
    months = period.months()
    bounds = [m.to_epoch()[0] for m in months[1:]]
    bucketed: list[tuple[str, LedgerRow]] = []
    for r in conn.execute(ledger_statement(start, end, bounds=bounds, only=names)):
        # a period inside one month has no interior boundary, hence no bucket column
        bucketed.append((months[int(r.bucket) if bounds else 0].label, _row(r)))
    bucketed.sort(key=lambda pair: (pair[0], _order(pair[1])))
    groups: dict[tuple[str, str, str], list[LedgerRow]] = {}
    for _, row in bucketed:
        groups.setdefault((row.process, row.owner, row.cost_centre), []).append(row)
    totals = [_sum_segment(rows) for rows in groups.values()]
    return Ledger(period, _sorted(totals), registered, tuple(bucketed))


def _order(row: LedgerRow) -> tuple[str, str, str]:
    return (row.process, row.owner, row.cost_centre)


def _sorted(rows: Iterable[LedgerRow]) -> tuple[LedgerRow, ...]:
    return tuple(sorted(rows, key=_order))


def _sum_segment(rows: Sequence[LedgerRow]) -> LedgerRow:
    """The month buckets of one (process, owner, cost centre) added up."""
    first = rows[0]
    return LedgerRow(
        first.process, first.owner, first.cost_centre,
        sum(r.items_done for r in rows), sum(r.business_exceptions for r in rows),
        sum((r.robot_seconds for r in rows), Decimal(0)),
        sum((r.freed_minutes for r in rows), Decimal(0)),
        max(r.last_ts for r in rows),
    )
