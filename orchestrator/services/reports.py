"""Reports as people ask for them: the same numbers as `rpa report`, scoped by role.

Finance, auditors and administrators see every process; an owner sees the
rows of their own processes only (grouped by process, without the grand
total, which would tell them about the others).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from orchestrator.errors import UsageError
from orchestrator.reports import service
from orchestrator.reports.export import Report
from orchestrator.services.access import Permission, Principal
from orchestrator.settings import Settings
from queues import Store

HOURS_BY = ("owner", "process", "cost_centre", "unit", "department", "sector")
COSTS_BY = ("process", "owner", "cost_centre")


def _scope(store: Store, asker: Principal, by: str) -> set[str] | None:
    asker.require(Permission.VIEW_REPORTS)
    if not asker.scoped:
        return None
    if by != "process":
        raise UsageError("an owner's reports are by process: use by=process")
    return {p.spec.name for p in store.list_processes() if asker.sees(p.spec.owner)}


def _scoped(report: Report, keep: set[str] | None) -> Report:
    if keep is None:
        return report
    return replace(report, rows=tuple(r for r in report.rows if r.get("key") in keep),
                   total=None)


def hours(store: Store, asker: Principal, settings: Settings, period: str, by: str,
          today: date | None = None) -> tuple[service.HoursOutcome, Report]:
    if by not in HOURS_BY:
        raise UsageError(f"by: one of {', '.join(HOURS_BY)}")
    keep = _scope(store, asker, by)
    outcome = service.hours_report(store, period, by=by, settings=settings,  # type: ignore[arg-type]
                                   monthly=True, today=today)
    return outcome, _scoped(outcome.table(), keep)


def costs(store: Store, asker: Principal, settings: Settings, period: str, by: str,
          today: date | None = None) -> tuple[service.CostsOutcome, Report]:
    if by not in COSTS_BY:
        raise UsageError(f"by: one of {', '.join(COSTS_BY)}")
    keep = _scope(store, asker, by)
    outcome = service.costs_report(store, period, by=by, settings=settings,  # type: ignore[arg-type]
                                   monthly=True, today=today)
    return outcome, _scoped(outcome.table(), keep)


def net_by_month(outcome: service.HoursOutcome, store: Store, asker: Principal
                 ) -> list[dict[str, Any]]:
    """Gross, review and net hours per month (an owner: of their own processes), for the
    console's chart; months without events show as zeros."""
    keep = None if not asker.scoped else {
        p.spec.name for p in store.list_processes() if asker.sees(p.spec.owner)}
    months: dict[str, dict[str, Any]] = {
        m.label: {"month": m.label, "gross": 0.0, "review": 0.0, "estimated": 0.0, "net": 0.0}
        for m in outcome.period.months()}
    for label, _, row in outcome.ledger.pieces or ():
        if keep is not None and row.process not in keep:
            continue
        cell = months.setdefault(label, {"month": label, "gross": 0.0, "review": 0.0,
                                         "estimated": 0.0, "net": 0.0})
        cell["gross"] += float(row.gross_minutes) / 60
        cell["review"] += float(row.review_minutes) / 60
        cell["estimated"] += float(row.estimated_minutes) / 60
        cell["net"] += float(row.gross_minutes - row.review_minutes) / 60
    rows = list(months.values())
    # a year's report in its first months: no rows of empty months before or after
    busy = [i for i, m in enumerate(rows) if m["gross"] or m["review"]]
    return rows[busy[0]:busy[-1] + 1] if busy else []


def monthly_hours(outcome: service.HoursOutcome | service.CostsOutcome, asker: Principal
                  ) -> dict[str, dict[str, Any]]:
    """Freed hours per month per owner, for the chart; an owner sees their own line."""
    data = outcome.hours_by_month()
    if not asker.scoped:
        return data
    return {month: {k: v for k, v in by_owner.items() if k == asker.owner}
            for month, by_owner in data.items()}


def candidates(store: Store, asker: Principal, settings: Settings) -> list[dict[str, Any]]:
    asker.require(Permission.VIEW_CANDIDATES)
    rows = [c.as_dict() for c in service.list_candidates(store, settings=settings)]
    return [r for r in rows if asker.sees(str(r.get("owner", "")))]


def add_candidate(store: Store, asker: Principal, **fields: Any) -> Any:
    """Record a candidate (audited as the asker); its score and estimate."""
    asker.require(Permission.EDIT_CANDIDATES)
    return service.add_candidate(store, actor=asker.actor, **fields)
