"""The REST API under `/api/v1`: the same use cases as the CLI, as JSON.

Bodies are read strictly (a duplicate key, NaN or Infinity is refused, as in
item files) before pydantic checks their shape, and an enqueue is all or
nothing: a bad item names its index and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from orchestrator.item_readers import BadRow, parse_json_object
from orchestrator.reports.render import as_json
from orchestrator.services import audit, items, overview, processes, reports, review
from orchestrator.services.access import Permission, Principal
from orchestrator.web.problems import BadRequest
from orchestrator.web.security import api_caller, settings_of, store_of
from queues import ItemFilter, NewItem, Priority, ProcessInfo
from queues.states import Status

router = APIRouter(prefix="/api/v1")
Caller = Annotated[Principal, Depends(api_caller)]
STATUSES = tuple(s.value for s in Status)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemIn(Strict):
    reference: StrictStr | StrictInt = Field(description="the idempotency key in the queue")
    payload: dict[str, Any] = Field(default_factory=dict)
    priority: Literal["high", "normal", "low"] | None = None
    deadline: datetime | None = Field(default=None, description="ISO 8601 with a zone")


class EnqueueIn(Strict):
    items: list[ItemIn] = Field(min_length=1, max_length=100_000)


class EnqueueOut(BaseModel):
    process: str
    added: int
    already_present: int
    ids: dict[str, int]
    existing_ids: dict[str, int]


class IdsIn(Strict):
    ids: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(min_length=1, max_length=10_000)
    reason: str = Field(default="", max_length=2000)


class OperatedOut(BaseModel):
    done: list[int]
    skipped: list[int]


class CandidateIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    owner: str = Field(min_length=1, max_length=200)
    volume_per_month: float = Field(ge=0, le=1e9, allow_inf_nan=False)
    minutes_per_item: float = Field(ge=0, le=100_000, allow_inf_nan=False)
    rule_based_share: float = Field(ge=0, le=1, allow_inf_nan=False)
    stability: Literal["low", "medium", "high"]
    digital: bool
    process: str | None = Field(default=None, max_length=200)
    notes: str = Field(default="", max_length=2000)


async def strict_body(request: Request, model: type[BaseModel]) -> Any:
    """The request's JSON body, read strictly and checked against `model`."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/json":
        raise BadRequest("send the body as application/json", status=415)
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8") from None
    try:
        data = parse_json_object(text)
    except BadRow as bad:
        raise BadRequest(f"body: {bad}") from None
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise BadRequest("; ".join(_error_text(e) for e in err.errors()[:5]), status=422,
                         extra={"errors": [{"loc": list(e["loc"]), "msg": e["msg"]}
                                           for e in err.errors()[:20]]}) from None


def _error_text(error: Any) -> str:
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
    return f"{loc or 'body'}: {error['msg']}"


def process_json(info: ProcessInfo) -> dict[str, Any]:
    spec = info.spec
    return {"name": spec.name, "owner": spec.owner, "cost_centre": spec.cost_centre,
            "bot": spec.bot, "queue": spec.queue_name, "paused": info.paused,
            "description": spec.description,
            "manual_minutes_per_item": spec.manual_minutes_per_item,
            "max_attempts": spec.retry.max_attempts, "sla_minutes": spec.sla_minutes,
            "definition": spec.definition}


@router.get("/health", tags=["service"])
def health() -> dict[str, str]:
    """Liveness: answers without a login."""
    return {"status": "ok"}


@router.get("/me", tags=["service"])
def me(principal: Caller) -> dict[str, Any]:
    return {"name": principal.name, "role": principal.role.value, "owner": principal.owner,
            "actor": principal.actor}


@router.get("/status", tags=["service"])
def status(request: Request, principal: Caller) -> dict[str, Any]:
    """Every queue the caller may see: counts, pace, time to empty, SLA, active workers."""
    return {"queues": request.app.state.overview.rows(principal)}


@router.get("/workers", tags=["service"])
def workers(request: Request, principal: Caller) -> list[dict[str, Any]]:
    return overview.worker_rows(store_of(request), principal)


@router.get("/processes", tags=["processes"])
def list_processes(request: Request, principal: Caller) -> list[dict[str, Any]]:
    return [process_json(p) for p in processes.list_processes(store_of(request), principal)]


@router.get("/processes/{name}", tags=["processes"])
def get_process(name: str, request: Request, principal: Caller) -> dict[str, Any]:
    return process_json(processes.get_process(store_of(request), principal, name))


@router.post("/processes/{name}/pause", tags=["processes"])
def pause(name: str, request: Request, principal: Caller) -> dict[str, Any]:
    processes.set_paused(store_of(request), principal, name, True)
    return {"process": name, "paused": True}


@router.post("/processes/{name}/resume", tags=["processes"])
def resume(name: str, request: Request, principal: Caller) -> dict[str, Any]:
    processes.set_paused(store_of(request), principal, name, False)
    return {"process": name, "paused": False}


@router.post("/processes", tags=["processes"], openapi_extra={"requestBody": {
    "content": {"application/yaml": {"schema": {"type": "string"}}}, "required": True}})
async def register(request: Request, principal: Caller, check: bool = False
                   ) -> dict[str, Any]:
    """Register (or update) a process from its YAML file, validated as `rpa process
    register` does; `?check=true` validates only."""
    from starlette.concurrency import run_in_threadpool

    principal.require(Permission.REGISTER_PROCESSES)  # before the body is looked at
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind not in ("application/yaml", "application/x-yaml", "text/yaml", "text/plain"):
        raise BadRequest("send the process file as application/yaml", status=415)
    body = await request.body()
    name = request.headers.get("x-filename", "process.yaml")
    done = await run_in_threadpool(processes.register_upload, store_of(request), principal,
                                   name, body, check=check)
    return {"processes": [{"name": r.name, "created": r.created} for r in done],
            "checked_only": check}


@router.post("/processes/{name}/items", tags=["items"], response_model=EnqueueOut,
             openapi_extra={"requestBody": {"content": {"application/json": {
                 "schema": EnqueueIn.model_json_schema()}}, "required": True}})
async def enqueue(name: str, request: Request, principal: Caller) -> EnqueueOut:
    """Add one item or many: validated against the process's schema, all or none;
    a reference already in the queue is not added twice."""
    from starlette.concurrency import run_in_threadpool

    principal.require(Permission.ENQUEUE)
    body: EnqueueIn = await strict_body(request, EnqueueIn)
    new = [NewItem(reference=str(i.reference), payload=i.payload,
                   priority=Priority.parse(i.priority) if i.priority else None,
                   deadline=_epoch(i.deadline, f"items[{n}].deadline"))
           for n, i in enumerate(body.items)]
    result = await run_in_threadpool(items.enqueue, store_of(request), principal, name, new)
    return EnqueueOut(process=name, added=len(result.added),
                      already_present=len(result.existing), ids=result.added,
                      existing_ids=result.existing)


def _epoch(moment: datetime | None, where: str) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise BadRequest(f"{where}: give a time zone (…Z or +01:00)", status=422)
    return moment.timestamp()


@router.get("/items", tags=["items"])
def list_items(
    request: Request, principal: Caller,
    process: Annotated[str | None, Query(max_length=200)] = None,
    item_status: Annotated[list[Literal[STATUSES]] | None,  # type: ignore[valid-type]
                           Query(alias="status")] = None,
    error_code: Annotated[str | None, Query(max_length=200)] = None,
    since: datetime | None = None, until: datetime | None = None,
    reference: Annotated[str | None, Query(max_length=2000)] = None,
    limit: Annotated[int, Query(ge=1, le=items.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """Items, newest change first; follow `next_cursor` for the next page."""
    flt = ItemFilter(process=process, statuses=tuple(item_status or ()),
                     error_code=error_code, since=_epoch(since, "since"),
                     until=_epoch(until, "until"), reference=reference, limit=limit)
    page = items.list_items(store_of(request), principal, flt, cursor=cursor)
    return {"items": [items.as_dict(i) for i in page.items], "next_cursor": page.next_cursor}


@router.get("/items/{item_id}", tags=["items"])
def get_item(item_id: Annotated[int, Field(ge=1, le=2**62)], request: Request,
             principal: Caller) -> dict[str, Any]:
    return items.as_dict(items.get_item(store_of(request), principal, item_id))


async def _operate(request: Request, principal: Principal,
                   use_case: Callable[..., list[int]]) -> OperatedOut:
    """Retry or abandon: the right first, then the body, then the use case."""
    from starlette.concurrency import run_in_threadpool

    principal.require(Permission.OPERATE_ITEMS)
    body: IdsIn = await strict_body(request, IdsIn)
    done = await run_in_threadpool(use_case, store_of(request), principal, body.ids,
                                   reason=body.reason)
    return OperatedOut(done=done, skipped=sorted(set(body.ids) - set(done)))


@router.post("/items/retry", tags=["items"], response_model=OperatedOut,
             openapi_extra={"requestBody": {"content": {"application/json": {
                 "schema": IdsIn.model_json_schema()}}, "required": True}})
async def retry(request: Request, principal: Caller) -> OperatedOut:
    return await _operate(request, principal, items.retry)


@router.post("/items/abandon", tags=["items"], response_model=OperatedOut,
             openapi_extra={"requestBody": {"content": {"application/json": {
                 "schema": IdsIn.model_json_schema()}}, "required": True}})
async def abandon(request: Request, principal: Caller) -> OperatedOut:
    return await _operate(request, principal, items.abandon)


class ResolveIn(Strict):
    outcome: Literal["fixed_and_retried", "done_by_hand", "no_action"]
    minutes: float | None = Field(default=None, ge=0, le=10_000, allow_inf_nan=False,
                                  description="minutes a person spent (done_by_hand: default "
                                              "the process's exception minutes; else 0)")
    reason: str = Field(default="", max_length=2000)
    payload: dict[str, Any] | None = Field(default=None, description="fixed_and_retried: the "
                                           "corrected payload, checked against the schema")


TASK_ID = Annotated[int, Field(ge=1, le=2**62)]


@router.get("/review/tasks", tags=["review"])
def review_tasks(
    request: Request, principal: Caller,
    status: Literal["open", "resolved", "all"] = "open",
    group: Annotated[str | None, Query(max_length=63)] = None,
    process: Annotated[str | None, Query(max_length=100)] = None,
    mine: bool = False, overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> dict[str, Any]:
    store = store_of(request)
    found = review.list_tasks(store, principal, status=None if status == "all" else status,
                              group=group, process=process, mine=mine, overdue=overdue,
                              limit=limit, before=before)
    now = store.clock()
    return {"tasks": [review.as_dict(t, now) for t in found],
            "next_before": found[-1].id if len(found) == limit else None}


@router.get("/review/tasks/{task_id}", tags=["review"])
def review_task(task_id: TASK_ID, request: Request, principal: Caller) -> dict[str, Any]:
    store = store_of(request)
    detail = review.get_task(store, principal, task_id)
    return {**review.as_dict(detail.task, store.clock()),
            "item": None if detail.item is None else items.as_dict(detail.item),
            "may_work": detail.may_work}


@router.post("/review/tasks/{task_id}/claim", tags=["review"])
def review_claim(task_id: TASK_ID, request: Request, principal: Caller) -> dict[str, Any]:
    store = store_of(request)
    return review.as_dict(review.claim(store, principal, task_id), store.clock())


@router.post("/review/tasks/{task_id}/unclaim", tags=["review"])
def review_unclaim(task_id: TASK_ID, request: Request, principal: Caller) -> dict[str, Any]:
    store = store_of(request)
    return review.as_dict(review.unclaim(store, principal, task_id), store.clock())


@router.post("/review/tasks/{task_id}/resolve", tags=["review"],
             openapi_extra={"requestBody": {"content": {"application/json": {
                 "schema": ResolveIn.model_json_schema()}}, "required": True}})
async def review_resolve(task_id: TASK_ID, request: Request, principal: Caller
                         ) -> dict[str, Any]:
    from starlette.concurrency import run_in_threadpool

    store = store_of(request)
    await run_in_threadpool(review.may_work_some, store, principal)
    body: ResolveIn = await strict_body(request, ResolveIn)
    task = await run_in_threadpool(review.resolve, store, principal, task_id, body.outcome,
                                   minutes=body.minutes, reason=body.reason,
                                   payload=body.payload)
    return review.as_dict(task, store.clock())


PERIOD = Annotated[str, Query(max_length=40, description="this-year, last-month, 2026-Q3, "
                                                         "2026-03, 2026-01-01..2026-04-01")]


@router.get("/reports/hours", tags=["reports"])
def report_hours(request: Request, principal: Caller, period: PERIOD = "this-year",
                 by: Literal["owner", "process", "cost_centre", "unit", "department",
                             "sector"] = "owner") -> dict[str, Any]:
    """Gross, review and net freed hours, the same figures as `rpa report hours --json`."""
    outcome, report = reports.hours(store_of(request), principal, settings_of(request),
                                    period, by)
    return {**as_json(report), "period": outcome.period.label, "group_by": by,
            "warnings": outcome.warnings}


@router.get("/reports/costs", tags=["reports"])
def report_costs(request: Request, principal: Caller, period: PERIOD = "this-year",
                 by: Literal["process", "owner", "cost_centre"] = "process") -> dict[str, Any]:
    """The cost allocation, the same figures as `rpa report costs --json`."""
    outcome, report = reports.costs(store_of(request), principal, settings_of(request),
                                    period, by)
    result = outcome.result
    totals = {} if principal.scoped else {
        "total_cost_ore": result.total_cost_ore, "allocated_ore": result.allocated_ore,
        "unallocated_ore": result.unallocated_ore}
    return {**as_json(report), "period": outcome.period.label, "group_by": by,
            "hourly_rate_ore": result.hourly_rate_ore, **totals, "warnings": outcome.warnings}


@router.get("/audit/events", tags=["audit"])
def audit_events(
    request: Request, principal: Caller,
    item: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    process: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    since: datetime | None = None, until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_EVENTS)] = 50,
) -> list[dict[str, Any]]:
    return audit.events(store_of(request), principal, limit=limit, item_id=item,
                        process=process, action=action, since=_epoch(since, "since"),
                        until=_epoch(until, "until"))


@router.post("/audit/verify", tags=["audit"])
def audit_verify(request: Request, principal: Caller) -> dict[str, Any]:
    """Recompute every chain and check the checkpoints (read-only)."""
    return audit.verify_json(audit.verify(store_of(request), principal))


@router.get("/candidates", tags=["candidates"])
def candidates(request: Request, principal: Caller) -> list[dict[str, Any]]:
    return reports.candidates(store_of(request), principal, settings_of(request))


@router.post("/candidates", tags=["candidates"], status_code=201,
             openapi_extra={"requestBody": {"content": {"application/json": {
                 "schema": CandidateIn.model_json_schema()}}, "required": True}})
async def add_candidate(request: Request, principal: Caller) -> dict[str, Any]:
    from starlette.concurrency import run_in_threadpool

    principal.require(Permission.EDIT_CANDIDATES)
    body: CandidateIn = await strict_body(request, CandidateIn)
    fields = body.model_dump()
    for key in ("volume_per_month", "minutes_per_item", "rule_based_share"):
        fields[key] = Decimal(str(fields[key]))
    scored = await run_in_threadpool(lambda: reports.add_candidate(
        store_of(request), principal, **fields))
    return {"name": body.name, "score": scored.score,
            "estimated_hours_per_year": f"{scored.freed_hours_per_year:.2f}"}
