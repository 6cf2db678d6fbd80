"""Console pages: items (with retry and abandon), reports, audit, candidates."""

from __future__ import annotations

import tempfile
from datetime import datetime
from datetime import time as dtime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from starlette.responses import FileResponse, RedirectResponse, Response

from orchestrator.errors import UsageError
from orchestrator.i18n import language as report_language
from orchestrator.reports.candidates import CandidateError
from orchestrator.reports.export import write_csv, write_xlsx
from orchestrator.services import audit, items, reports
from orchestrator.services.access import Permission
from orchestrator.web.pages import query_list
from orchestrator.web.render import language, page
from orchestrator.web.security import Caller, page_caller, settings_of, store_of
from queues import ItemFilter
from queues.states import Status

router = APIRouter(include_in_schema=False)
Page = Annotated[Caller, Depends(page_caller)]
STATUSES = [s.value for s in Status]
BULK_MAX = 10_000


def _day(text: str | None, tz: str, *, end: bool = False) -> float | None:
    """A date field (YYYY-MM-DD) as the start of that day, or the start of the next."""
    if not text:
        return None
    try:
        day = datetime.strptime(text[:10], "%Y-%m-%d").date()
    except ValueError:
        raise UsageError(f"{text[:20]!r} is not a date: use YYYY-MM-DD") from None
    moment = datetime.combine(day, dtime.min, ZoneInfo(tz)).timestamp()
    return moment + 86400 if end else moment


# -- items -------------------------------------------------------------------------------
def _filter(request: Request, limit: int) -> tuple[ItemFilter, dict[str, Any]]:
    q = request.query_params
    tz = settings_of(request).timezone
    statuses = tuple(s for s in query_list(request, "status") if s in STATUSES)
    process, error_code = (q.get("process") or "")[:200], (q.get("error_code") or "")[:200]
    since, until = (q.get("since") or "")[:10], (q.get("until") or "")[:10]
    reference = (q.get("reference") or "")[:2000]
    flt = ItemFilter(process=process or None, statuses=statuses, error_code=error_code or None,
                     since=_day(since, tz), until=_day(until, tz, end=True),
                     reference=reference or None, limit=limit)
    chosen = {"process": process, "status": list(statuses), "error_code": error_code,
              "since": since, "until": until, "reference": reference}
    return flt, chosen


@router.get("/items")
def item_list(request: Request, caller: Page) -> Response:
    store, principal = store_of(request), caller.principal
    flt, chosen = _filter(request, 50)
    cursor = request.query_params.get("cursor") or None
    result = items.list_items(store, principal, flt, cursor=cursor)
    names = [p.spec.name for p in store.list_processes() if principal.sees(p.spec.owner)]
    query = {k: v for k, v in chosen.items() if v}
    next_url = None
    if result.next_cursor:
        next_url = "/items?" + urlencode({**query, "cursor": result.next_cursor}, doseq=True)
    return page(request, "items.html", principal=principal, csrf=caller.csrf,
                items=result.items, chosen=chosen, processes=names, statuses=STATUSES,
                next_url=next_url, query=urlencode(query, doseq=True), title="Items")


@router.get("/items/{item_id}")
def item_page(item_id: int, request: Request, caller: Page) -> Response:
    item = items.get_item(store_of(request), caller.principal, item_id)
    return page(request, "item.html", principal=caller.principal, csrf=caller.csrf,
                item=item, title=f"Item {item.id}",
                can_operate=caller.principal.may(Permission.OPERATE_ITEMS),
                can_evidence=caller.principal.may(Permission.VIEW_PAYLOADS))


@router.get("/items/{item_id}/evidence/{attempt}/{kind}")
def evidence(item_id: int, attempt: int, kind: str, request: Request, caller: Page
             ) -> Response:
    path = items.evidence_file(store_of(request), caller.principal, item_id, attempt, kind,
                               settings_of(request).evidence_dir)
    inline = path.suffix == ".png"
    media = {".png": "image/png", ".html": "text/plain; charset=utf-8",
             ".zip": "application/zip"}.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media, filename=f"item-{item_id}-{attempt}-"
                        f"{path.name.rsplit('-', 1)[-1]}",
                        content_disposition_type="inline" if inline else "attachment",
                        headers={"cache-control": "private, no-store"})


@router.post("/items/confirm")
async def confirm(request: Request, caller: Page) -> Response:
    """Step one of retry and abandon: what will happen to how many items, and a button."""
    caller.principal.require(Permission.OPERATE_ITEMS)
    form = await request.form()
    action = str(form.get("action", ""))
    if action not in ("retry", "abandon"):
        raise UsageError("choose retry or abandon")
    ids = _ids(form.getlist("ids"))
    return page(request, "confirm.html", principal=caller.principal, csrf=caller.csrf,
                action=action, ids=ids, back=str(form.get("back", "/items")),
                title="Confirm")


def _ids(values: list[Any]) -> list[int]:
    out = []
    for value in values[:BULK_MAX + 1]:
        text = str(value)
        if not text.isdigit() or len(text) > 18:
            raise UsageError(f"{text[:20]!r} is not an item id")
        out.append(int(text))
    if not out:
        raise UsageError("no items chosen: tick at least one")
    if len(out) > BULK_MAX:
        raise UsageError(f"at most {BULK_MAX:,} items at a time")
    return sorted(set(out))


@router.post("/items/operate")
async def operate(request: Request, caller: Page) -> Response:
    """Step two: retry or abandon the confirmed items (audited as the user)."""
    from starlette.concurrency import run_in_threadpool

    caller.principal.require(Permission.OPERATE_ITEMS)
    form = await request.form()
    action = str(form.get("action", ""))
    ids = _ids(form.getlist("ids"))
    reason = str(form.get("reason", ""))[:2000]
    store, principal = store_of(request), caller.principal
    if action == "retry":
        done = await run_in_threadpool(items.retry, store, principal, ids, reason=reason)
    elif action == "abandon":
        done = await run_in_threadpool(items.abandon, store, principal, ids, reason=reason)
    else:
        raise UsageError("choose retry or abandon")
    return page(request, "operated.html", principal=principal, csrf=caller.csrf,
                action=action, done=done, skipped=sorted(set(ids) - set(done)),
                title="Done")


# -- reports -----------------------------------------------------------------------------
def _report_args(request: Request, caller: Caller) -> tuple[str, str, str]:
    q = request.query_params
    period = (q.get("period") or "this-year")[:40]
    default_by = "process" if caller.principal.scoped else "owner"
    return period, (q.get("by") or default_by)[:20], (q.get("kind") or "hours")[:10]


@router.get("/reports")
def report_page(request: Request, caller: Page) -> Response:
    store, principal, settings = store_of(request), caller.principal, settings_of(request)
    period, by, _ = _report_args(request, caller)
    hours_outcome, hours = reports.hours(store, principal, settings, period, by)
    costs_outcome, costs = reports.costs(store, principal, settings, period,
                                         by if by in ("process", "cost_centre") else "process")
    monthly = reports.monthly_hours(hours_outcome, principal)
    net_months = reports.net_by_month(hours_outcome, store, principal)
    return page(request, "reports.html", principal=principal, csrf=caller.csrf,
                period=period, by=by, hours=hours, costs=costs,
                period_label=hours_outcome.period.label, monthly=monthly,
                cost_value=[row for row in costs_outcome.cost_value()
                            if not principal.scoped or row[0] in
                            {r.get("key") for r in costs.rows}],
                warnings=hours_outcome.warnings, net_months=net_months,
                net_top=max([m["gross"] for m in net_months] + [1e-9]), title="Reports")


@router.get("/reports/download")
def report_download(request: Request, caller: Page) -> Response:
    store, principal, settings = store_of(request), caller.principal, settings_of(request)
    period, by, kind = _report_args(request, caller)
    fmt = request.query_params.get("format", "csv")
    if fmt not in ("csv", "xlsx") or kind not in ("hours", "costs"):
        raise UsageError("download: kind hours or costs, format csv or xlsx")
    # the file speaks the console's language: its headers, sheets and Method sheet
    with report_language(language(request)), \
            tempfile.TemporaryDirectory(prefix="rpa-report-") as folder:
        if kind == "hours":
            _, report = reports.hours(store, principal, settings, period, by)
        else:
            _, report = reports.costs(store, principal, settings, period, by)
        path = Path(folder) / f"report.{fmt}"
        writer = write_csv if fmt == "csv" else write_xlsx
        data = writer(report, path).read_bytes()
    media = "text/csv; charset=utf-8" if fmt == "csv" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    safe_period = "".join(c for c in period if c.isalnum() or c in "-.")[:40] or "period"
    return Response(data, media_type=media, headers={
        "content-disposition": f'attachment; filename="{kind}-{safe_period}.{fmt}"',
        "cache-control": "private, no-store"})


# -- audit -------------------------------------------------------------------------------
@router.get("/audit")
def audit_page(request: Request, caller: Page) -> Response:
    q = request.query_params
    tz = settings_of(request).timezone
    item_text = (q.get("item") or "").strip()
    if item_text and not (item_text.isdigit() and len(item_text) < 18):
        raise UsageError(f"{item_text[:20]!r} is not an item id")
    chosen = {"action": (q.get("action") or "")[:100], "process": (q.get("process") or "")[:200],
              "item": item_text, "since": q.get("since") or "", "until": q.get("until") or ""}
    found = audit.events(store_of(request), caller.principal, limit=200,
                         item_id=int(item_text) if item_text else None,
                         process=chosen["process"] or None, action=chosen["action"] or None,
                         since=_day(chosen["since"], tz), until=_day(chosen["until"], tz,
                                                                     end=True))
    return page(request, "audit.html", principal=caller.principal, csrf=caller.csrf,
                events=found, chosen=chosen, title="Audit")


@router.post("/audit/verify")
def audit_verify(request: Request, caller: Page) -> Response:
    result = audit.verify(store_of(request), caller.principal)
    return page(request, "verified.html", principal=caller.principal, csrf=caller.csrf,
                result=result, title="Audit verify")


# -- candidates --------------------------------------------------------------------------
@router.get("/candidates")
def candidate_page(request: Request, caller: Page) -> Response:
    rows = reports.candidates(store_of(request), caller.principal, settings_of(request))
    return page(request, "candidates.html", principal=caller.principal, csrf=caller.csrf,
                rows=rows, can_add=caller.principal.may(Permission.EDIT_CANDIDATES),
                title="Candidates")


@router.post("/candidates")
async def add_candidate(request: Request, caller: Page) -> Response:
    from starlette.concurrency import run_in_threadpool

    caller.principal.require(Permission.EDIT_CANDIDATES)
    form = await request.form()
    field = {k: str(form.get(k, ""))[:2000] for k in (
        "name", "owner", "volume_per_month", "minutes_per_item", "rule_based_share",
        "stability", "digital", "notes")}
    if field["stability"] not in ("low", "medium", "high"):
        raise UsageError("stability: low, medium or high")
    share = field["rule_based_share"].strip()
    fields = {
        "name": field["name"][:200], "owner": field["owner"][:200],
        "volume_per_month": _number(field["volume_per_month"], "items a month", 1e9),
        "minutes_per_item": _number(field["minutes_per_item"], "minutes per item", 100_000),
        "rule_based_share": _number(share.rstrip("% "), "rule-based share", 100)
        / (100 if share.endswith("%") else 1),
        "stability": field["stability"], "digital": field["digital"] == "yes",
        "notes": field["notes"]}
    try:
        await run_in_threadpool(lambda: reports.add_candidate(store_of(request),
                                                              caller.principal, **fields))
    except CandidateError as err:
        raise UsageError(str(err)) from None
    return RedirectResponse("/candidates", status_code=303)


def _number(text: str, what: str, most: float) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", ".").replace(" ", ""))
    except InvalidOperation:
        raise UsageError(f"{what}: {text[:20]!r} is not a number") from None
    if not value.is_finite() or not 0 <= value <= Decimal(str(most)):
        raise UsageError(f"{what}: between 0 and {most:g}")
    return value
