"""Console pages of the review inbox: the tasks, one task, claim, unclaim, resolve.

The rules are the review service's (`orchestrator.services.review`); these
pages only read forms and show results. Each change is a POST with the
session's CSRF token, answered with a redirect to the task (so a reload never
resolves twice).
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from orchestrator.errors import UsageError
from orchestrator.item_readers import BadRow, parse_json_object
from orchestrator.services import review
from orchestrator.services.review import ReviewInputError
from orchestrator.web.render import page
from orchestrator.web.security import Caller, page_caller, store_of

router = APIRouter(include_in_schema=False)
Page = Annotated[Caller, Depends(page_caller)]
STATUSES = ("open", "resolved", "all")
OUTCOMES = ("done_by_hand", "fixed_and_retried", "no_action")


@router.get("/review")
def inbox(request: Request, caller: Page) -> Response:
    q = request.query_params
    status = q.get("status") if q.get("status") in STATUSES else "open"
    mine, overdue = q.get("mine") == "1", q.get("overdue") == "1"
    before = q.get("before") or ""
    before_id = int(before) if before.isdigit() and len(before) < 19 else None
    store = store_of(request)
    tasks = review.list_tasks(store, caller.principal,
                              status=None if status == "all" else status, mine=mine,
                              overdue=overdue, limit=50, before=before_id)
    chosen = {"status": status, "mine": "1" if mine else "", "overdue": "1" if overdue else ""}
    query = {k: v for k, v in chosen.items() if v}
    next_url = ("/review?" + urlencode({**query, "before": tasks[-1].id})
                if len(tasks) == 50 else None)
    return page(request, "review.html", principal=caller.principal, csrf=caller.csrf,
                tasks=tasks, now=store.clock(), chosen=chosen, statuses=STATUSES,
                next_url=next_url, title="Review")


@router.get("/review/{task_id}")
def task_page(task_id: int, request: Request, caller: Page, error: str = "") -> Response:
    store = store_of(request)
    detail = review.get_task(store, caller.principal, task_id)
    return page(request, "review_task.html", principal=caller.principal, csrf=caller.csrf,
                detail=detail, task=detail.task, item=detail.item, outcomes=OUTCOMES,
                payload_text=_payload_text(detail.item), error=error[:500],
                title=f"Review task {task_id}")


def _payload_text(item: Any) -> str:
    if item is None or not isinstance(item.payload, dict):
        return "{}"
    return json.dumps(item.payload, ensure_ascii=False, indent=2)


def _back(task_id: int) -> RedirectResponse:
    return RedirectResponse(f"/review/{task_id}", status_code=303)


@router.post("/review/{task_id}/claim")
async def claim(task_id: int, request: Request, caller: Page) -> Response:
    from starlette.concurrency import run_in_threadpool

    await run_in_threadpool(review.claim, store_of(request), caller.principal, task_id)
    return _back(task_id)


@router.post("/review/{task_id}/unclaim")
async def unclaim(task_id: int, request: Request, caller: Page) -> Response:
    from starlette.concurrency import run_in_threadpool

    await run_in_threadpool(review.unclaim, store_of(request), caller.principal, task_id)
    return _back(task_id)


@router.post("/review/{task_id}/resolve")
async def resolve(task_id: int, request: Request, caller: Page) -> Response:
    from starlette.concurrency import run_in_threadpool

    await run_in_threadpool(review.may_work_some, store_of(request), caller.principal)
    form = await request.form()
    outcome = str(form.get("outcome", ""))
    if outcome not in OUTCOMES:
        raise UsageError("choose what was done: done by hand, fixed and retried, or no action")
    payload = None
    if outcome == "fixed_and_retried":
        try:
            payload = parse_json_object(str(form.get("payload", ""))[:1_000_000])
        except BadRow as bad:
            raise ReviewInputError(f"the corrected payload: {bad}") from None
    await run_in_threadpool(
        review.resolve, store_of(request), caller.principal, task_id, outcome,
        minutes=str(form.get("minutes", "")).strip() or None,
        reason=str(form.get("reason", ""))[:2001], payload=payload)
    return _back(task_id)
