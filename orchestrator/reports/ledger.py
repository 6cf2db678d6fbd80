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

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa

from orchestrator.reports.hours import ProcessUsage
from orchestrator.reports.periods import Period
from queues.schema import ATTEMPT_END_SQL, audit_events, processes, review_tasks

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
    gross_minutes: Decimal = Decimal(0)
    review_minutes: Decimal = Decimal(0)
    estimated_minutes: Decimal = Decimal(0)

    def usage(self, owner: str | None = None) -> ProcessUsage:
        """As the reports' input row (`owner` relabels it, for a level of the tree).

        ``freed_minutes`` is the net clipped at zero, which the cost allocation
        values; the hours report shows the unclipped net, gross minus review.
        """
        return ProcessUsage(self.process, self.owner if owner is None else owner,
                            self.cost_centre, self.items_done, self.business_exceptions,
                            self.robot_seconds, max(self.freed_minutes, Decimal(0)),
                            self.gross_minutes, self.review_minutes, self.estimated_minutes)


def _merge(rows: Sequence[LedgerRow]) -> LedgerRow:
    """One row for several snapshot groups of the same process; the latest owner wins."""
    latest = max(rows, key=lambda r: (r.last_ts, r.owner, r.cost_centre))
    return LedgerRow(
        latest.process, latest.owner, latest.cost_centre,
        sum(r.items_done for r in rows), sum(r.business_exceptions for r in rows),
        sum((r.robot_seconds for r in rows), Decimal(0)),
        sum((r.freed_minutes for r in rows), Decimal(0)),
        latest.last_ts, *_review_sums(rows),
    )


def _review_sums(rows: Sequence[LedgerRow]) -> tuple[Decimal, Decimal, Decimal]:
    return (sum((r.gross_minutes for r in rows), Decimal(0)),
            sum((r.review_minutes for r in rows), Decimal(0)),
            sum((r.estimated_minutes for r in rows), Decimal(0)))


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
    # (month label, start of the piece, row): months split where organisations changed
    pieces: tuple[tuple[str, float, LedgerRow], ...] | None = field(default=None)

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
        sa.func.sum(sa.case((ae.c.action == "item.completed", ae.c.freed_minutes), else_=0)
                    ).label("gross_minutes"),
    ]


def _bucket(moment: Any, bounds: Sequence[float]) -> Any:
    """The number of `bounds` (ascending epoch seconds) at or before `moment`, as SQL."""
    whens = [(moment < bound, index) for index, bound in enumerate(bounds)]
    return sa.case(*whens, else_=len(bounds)).label("bucket")


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
        bucket = _bucket(ae.c.ts, bounds)
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
    """An event group; until review tasks are folded in, its review is the estimates."""
    net = _decimal(r.freed_minutes, MINUTES_QUANTUM)
    gross = _decimal(r.gross_minutes, MINUTES_QUANTUM)
    return LedgerRow(
        process=r.process, owner=r.owner or "", cost_centre=r.cost_centre or "",
        items_done=int(r.items_done or 0), business_exceptions=int(r.business_exceptions or 0),
        robot_seconds=_decimal(r.robot_seconds, SECONDS_QUANTUM),
        freed_minutes=net, last_ts=float(r.last_ts or 0.0), gross_minutes=gross,
        review_minutes=gross - net, estimated_minutes=gross - net,
    )


def review_statement(start: float, end: float, *, bounds: Sequence[float] = (),
                     only: Iterable[str] | None = None) -> sa.Select[Any]:
    """Resolved review tasks opened in ``[start, end)``: minutes spent, estimates replaced.

    Grouped like the ledger (process, owner and cost centre as recorded when the
    task opened, and the same buckets), so each sum lands on its event group.
    """
    rt = review_tasks
    columns: list[Any] = [
        rt.c.process, rt.c.owner, rt.c.cost_centre,
        sa.func.sum(rt.c.minutes).label("spent"),
        sa.func.sum(rt.c.estimate_minutes).label("replaced"),
        sa.func.max(rt.c.opened_at).label("last_ts"),
    ]
    group: list[Any] = [rt.c.process, rt.c.owner, rt.c.cost_centre]
    if bounds:
        bucket = _bucket(rt.c.opened_at, bounds)
        columns.append(bucket)
        group.append(bucket)
    stmt = (sa.select(*columns)
            .where(rt.c.status == "resolved", rt.c.opened_at >= start, rt.c.opened_at < end)
            .group_by(*group))
    if only is not None:
        stmt = stmt.where(rt.c.process.in_(sorted(set(only))))
    return stmt


def _fold(rows: dict[tuple[str, str, str, int], LedgerRow], conn: sa.Connection,
          start: float, end: float, bounds: Sequence[float], only: list[str] | None) -> None:
    """Replace the estimates of resolved tasks by the minutes people recorded.

    review = estimates posted by the period's business exceptions
             - the estimates of the tasks resolved since + the minutes they recorded;
    net (``freed_minutes``) = gross - review. Nothing else is subtracted.
    """
    for r in conn.execute(review_statement(start, end, bounds=bounds, only=only)):
        key = (r.process, r.owner or "", r.cost_centre or "", int(r.bucket) if bounds else 0)
        spent = _decimal(r.spent, MINUTES_QUANTUM)
        replaced = _decimal(r.replaced, MINUTES_QUANTUM)
        row = rows.get(key) or LedgerRow(key[0], key[1], key[2], 0, 0, Decimal(0), Decimal(0),
                                         float(r.last_ts or 0.0))
        review = row.review_minutes - replaced + spent
        rows[key] = dataclasses.replace(
            row, review_minutes=review, estimated_minutes=row.estimated_minutes - replaced,
            freed_minutes=row.gross_minutes - review)


def registered_processes(conn: sa.Connection) -> dict[str, RegisteredProcess]:
    """Every registered process with its current owner, cost centre and creation time."""
    rows = conn.execute(sa.select(processes.c.name, processes.c.owner,
                                  processes.c.cost_centre, processes.c.created_at))
    return {r.name: RegisteredProcess(r.name, r.owner, r.cost_centre, float(r.created_at))
            for r in rows}


def read_ledger(conn: sa.Connection, period: Period, *, monthly: bool = False,
                only: Iterable[str] | None = None,
                splits: Sequence[float] | None = None) -> Ledger:
    """Aggregate ``period`` from the audit log in one query (month buckets if asked).

    ``only`` restricts the ledger to some processes (candidates use it); the
    registered processes are then restricted the same way. ``splits`` are the
    dates organisation versions took effect: given, the ledger also has
    ``pieces``, each within one version (and one month, with ``monthly``).
    """
    start, end = period.to_epoch()
    names = None if only is None else sorted(set(only))
    registered = registered_processes(conn)
    if names is not None:
        registered = {n: p for n, p in registered.items() if n in names}
    if not monthly and splits is None:
        flat = {(row.process, row.owner, row.cost_centre, 0): row for row in
                (_row(r) for r in conn.execute(ledger_statement(start, end, only=names)))}
        _fold(flat, conn, start, end, (), names)
        return Ledger(period, _sorted(flat.values()), registered)
    months = period.months()
    month_starts = [m.to_epoch()[0] for m in months]
    bounds = sorted({*(month_starts[1:] if monthly else ()),
                     *(t for t in splits or () if start < t < end)})
    starts = [start, *bounds]
    by_key: dict[tuple[str, str, str, int], LedgerRow] = {}
    for r in conn.execute(ledger_statement(start, end, bounds=bounds, only=names)):
        # a period inside one piece has no interior boundary, hence no bucket column
        row = _row(r)
        by_key[(row.process, row.owner, row.cost_centre, int(r.bucket) if bounds else 0)] = row
    _fold(by_key, conn, start, end, bounds, names)
    pieces: list[tuple[str, float, LedgerRow]] = []
    for (_, _, _, bucket), row in by_key.items():
        month = max(i for i, m in enumerate(month_starts) if m <= starts[bucket])
        pieces.append((months[month].label, starts[bucket], row))
    pieces.sort(key=lambda piece: (piece[1], _order(piece[2])))
    groups: dict[tuple[str, str, str], list[LedgerRow]] = {}
    for _, _, row in pieces:
        groups.setdefault((row.process, row.owner, row.cost_centre), []).append(row)
    totals = [sum_rows(rows) for rows in groups.values()]
    return Ledger(period, _sorted(totals), registered,
                  tuple((label, row) for label, _, row in pieces) if monthly else None,
                  tuple(pieces))


def _order(row: LedgerRow) -> tuple[str, str, str]:
    return (row.process, row.owner, row.cost_centre)


def _sorted(rows: Iterable[LedgerRow]) -> tuple[LedgerRow, ...]:
    return tuple(sorted(rows, key=_order))


def sum_rows(rows: Sequence[LedgerRow]) -> LedgerRow:
    """Rows added up under the first one's process, owner and cost centre (the month
    buckets of one segment, or the pieces of one group and month)."""
    first = rows[0]
    return LedgerRow(
        first.process, first.owner, first.cost_centre,
        sum(r.items_done for r in rows), sum(r.business_exceptions for r in rows),
        sum((r.robot_seconds for r in rows), Decimal(0)),
        sum((r.freed_minutes for r in rows), Decimal(0)),
        max(r.last_ts for r in rows), *_review_sums(rows),
    )
