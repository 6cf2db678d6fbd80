"""Rendering console pages: the Jinja2 environment and what every page is given.

Autoescaping is on for every template: text from the database (a reference,
an error message, a process description) is data, shown as typed, never HTML.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from orchestrator.reports.export import Column
from orchestrator.services.access import Permission, Principal
from orchestrator.web.i18n import LANGUAGES, Formatter, pick_language
from orchestrator.web.security import LANG_COOKIE, settings_of

TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))
TEMPLATES.env.autoescape = True


def pretty_json(value: Any) -> str:
    """JSON for people: indented, characters as typed (autoescaping makes it safe)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def cell(fmt: Formatter, column: Column, value: Any) -> str:
    """A report cell in the page's locale: money in kroner, hours to one place."""
    if value is None:
        return ""
    if column.type == "money":
        return fmt.number(Decimal(value) / 100, 0)
    if column.type in ("hours", "decimal"):
        return fmt.number(Decimal(str(value)), min(column.places, 2))
    if column.type == "int":
        return fmt.number(int(value))
    return str(value)


def bars(rows: list[tuple[str, float]]) -> list[dict[str, Any]]:
    """Horizontal bars for an SVG chart: label, value and width in per cent of the largest."""
    top = max((v for _, v in rows), default=0) or 1
    return [{"label": label, "value": value, "width": round(max(0.0, value) / top * 100, 2)}
            for label, value in rows]


TEMPLATES.env.filters["pretty"] = pretty_json
TEMPLATES.env.globals["cell"] = cell
TEMPLATES.env.globals["bars"] = bars
NAV = (  # (path, label, permission that shows it)
    ("/", "Overview", Permission.VIEW_QUEUES),
    ("/items", "Items", Permission.VIEW_ITEMS),
    ("/review", "Review", Permission.VIEW_REVIEW),
    ("/processes", "Processes", Permission.VIEW_PROCESSES),
    ("/workers", "Workers", Permission.VIEW_WORKERS),
    ("/reports", "Reports", Permission.VIEW_REPORTS),
    ("/audit", "Audit", Permission.VIEW_AUDIT),
    ("/candidates", "Candidates", Permission.VIEW_CANDIDATES),
    ("/accounts", "Accounts", Permission.MANAGE_ACCOUNTS),
)


def language(request: Request) -> str:
    return pick_language(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE),
                         request.headers.get("accept-language", ""),
                         settings_of(request).web_language)


def home_of(principal: Principal) -> str:
    """The first page a principal may see (finance starts on the reports)."""
    return next((path for path, _, perm in NAV if principal.may(perm)), "/")


def page(request: Request, template: str, *, principal: Principal | None = None,
         csrf: str | None = None, status: int = 200, title: str = "",
         **context: Any) -> HTMLResponse:
    lang = language(request)
    fmt = Formatter(lang, settings_of(request).timezone)
    nav = [(path, label) for path, label, perm in NAV
           if principal is not None and principal.may(perm)]
    response = TEMPLATES.TemplateResponse(request, template, {
        "_": fmt._, "fmt": fmt, "lang": lang, "languages": LANGUAGES, "principal": principal,
        "csrf": csrf, "nav": nav, "path": request.url.path, "title": title, **context,
    }, status_code=status)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax",
                            secure=settings_of(request).web_secure_cookies, httponly=True)
    return response
