"""What the two built-in bots share about driving an enterprise web portal.

Both demo portals (and the real systems they imitate) behave alike: a login
form that is also where an expired session lands, gateway errors (502/503 with
`Retry-After`) that say nothing about whether the request reached the
application, and pages whose ids and order change with a vendor upgrade while
the visible labels stay. The helpers here turn those behaviours into the SDK's
vocabulary, so each bot only states its own business:

- a gateway error becomes `PortalUnavailable` (a `TransientError`): reads are
  retried in place with `retrying()`, which honours `Retry-After`; a write that
  meets one is left to the queue's retry, because nobody knows whether it went
  through, and the bot checks that first on its next attempt;
- landing on the login page, or a 401 from the JSON API, becomes `SessionExpired`,
  so the worker logs in again and retries the item;
- elements are found by role and visible label only, never by id or `name`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import urlsplit

from playwright.async_api import APIResponse, Locator, Page, Response

from bots import BotContext, SessionExpired, TransientError

T = TypeVar("T")

LOGIN_PATH = "/login"
DEFAULT_STEP_TIMEOUT = 10.0
"""Seconds one browser action may wait; well under the bots' item timeout."""
DEFAULT_RETRY_AFTER_MAX = 5.0
"""Longest `Retry-After` honoured before a retry in place; longer waits are the queue's job."""
REFUSED_STATUSES = frozenset({401, 403})
"""How a login form says "wrong username or password"."""
_SPACES = re.compile(r"[\s\u00a0\u202f]")


class PortalUnavailable(TransientError):
    """The portal (or its gateway) answered 5xx: worth another try, after `retry_after`."""

    def __init__(self, message: str, *, status: int, retry_after: float = 0.0):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class LoginRefused(RuntimeError):
    """The portal rejected the stored credential: an operator must fix it, not a retry."""


class UnexpectedPage(RuntimeError):
    """The portal showed something the bot does not understand (an application error)."""


def base_url(ctx: BotContext) -> str:
    """The portal's address from the process file's `bot_config.base_url`."""
    url = str(ctx.config.get("base_url") or "").strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError("bot_config.base_url must be the portal's http(s) address, "
                         f"got {url or 'nothing'!r}")
    return url


def _seconds(value: Any, default: float) -> float:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return default


def _retry_after(headers: dict[str, str]) -> float:
    """Seconds from a `Retry-After` header in its delta-seconds form (0 if absent or a date)."""
    return _seconds(headers.get("retry-after", "0"), 0.0)


def raise_for_gateway(status: int, headers: dict[str, str], what: str) -> None:
    """Raise `PortalUnavailable` for a 5xx answer; `what` says which step met it."""
    if status >= 500:
        raise PortalUnavailable(f"{what}: the portal answered HTTP {status}",
                                status=status, retry_after=_retry_after(headers))


def on_login_page(page: Page) -> bool:
    """True when the browser shows the login form, i.e. the portal logged us out."""
    return urlsplit(page.url).path == LOGIN_PATH


async def retrying(ctx: BotContext, step: Callable[[], Awaitable[T]], *,
                   attempts: int = 3) -> T:
    """`ctx.retry` for an idempotent step, waiting what a 503's `Retry-After` asks first.

    The wait happens before the next try (not after the last), is capped by
    `bot_config.retry_after_max` and comes on top of `ctx.retry`'s own backoff.
    """
    cap = _seconds(ctx.config.get("retry_after_max"), DEFAULT_RETRY_AFTER_MAX)
    pending = 0.0

    async def once() -> T:
        nonlocal pending
        if pending:
            await asyncio.sleep(pending)
            pending = 0.0
        try:
            return await step()
        except PortalUnavailable as err:
            pending = min(err.retry_after, cap)
            raise

    return await ctx.retry(once, attempts=attempts)


async def open_page(page: Page, url: str, what: str) -> int:
    """Go to `url`; return the HTTP status of the page shown.

    Raises `PortalUnavailable` on a gateway error and `SessionExpired` when the
    portal sent us to the login page instead.
    """
    response = await page.goto(url, wait_until="load")
    status = response.status if response is not None else 200
    headers = await response.all_headers() if response is not None else {}
    raise_for_gateway(status, headers, what)
    if on_login_page(page) and urlsplit(url).path != LOGIN_PATH:
        raise SessionExpired(f"{what}: the portal asked for a new login")
    return status


def _final_document(page: Page) -> Callable[[Response], bool]:
    """Matches the main frame's last document response (redirects followed)."""
    def match(response: Response) -> bool:
        return (response.request.is_navigation_request()
                and response.frame == page.main_frame
                and not 300 <= response.status < 400)
    return match


async def submit(page: Page, button: Locator, what: str, *, logging_in: bool = False) -> int:
    """Click a form's submit button; return the status of the page it leads to.

    A gateway error raises `PortalUnavailable`; nobody can tell from it whether
    the form was handled, so callers must not blindly send it again. Landing on
    the login page (unless `logging_in`) raises `SessionExpired`: the portal
    checks the session before anything else, so it handled nothing.
    """
    async with page.expect_response(_final_document(page)) as answer:
        await button.click()
    response = await answer.value
    await page.wait_for_load_state("load")
    raise_for_gateway(response.status, await response.all_headers(), what)
    if on_login_page(page) and not logging_in:
        raise SessionExpired(f"{what}: the portal asked for a new login")
    return response.status


async def api_get(page: Page, url: str, what: str) -> tuple[int, Any]:
    """GET a JSON endpoint with the browser's session; return (status, body or None).

    Uses `page.request`, which shares the logged-in context's cookies, so the
    API sees the same session as the screens.
    """
    response: APIResponse = await page.request.get(url, fail_on_status_code=False)
    raise_for_gateway(response.status, response.headers, what)
    if response.status == 401:
        raise SessionExpired(f"{what}: the portal's API asked for a new login")
    if response.status >= 400:
        return response.status, None
    return response.status, await response.json()


async def value_of(page: Page, label: str) -> str:
    """The value shown next to `label` in a label/value list (role `group` named by it)."""
    group = page.get_by_role("group", name=label, exact=True)
    return (await group.get_by_role("definition").inner_text()).strip()


async def alert_text(page: Page) -> str:
    """The text of the page's alerts (error summaries), or '' when there is none."""
    alerts = page.get_by_role("alert")
    return " ".join(t.strip() for t in await alerts.all_inner_texts()).strip()


def parse_amount(text: str, label: str) -> Decimal:
    """An amount as portals print it (`12500.00`, `12 500,00`) as an exact Decimal."""
    cleaned = _SPACES.sub("", text).removesuffix("NOK").removeprefix("kr")
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    else:
        cleaned = cleaned.replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise UnexpectedPage(f"{label} {text!r} is not an amount") from None
    if not value.is_finite():
        raise UnexpectedPage(f"{label} {text!r} is not an amount")
    return value


async def _logged_in(page: Page) -> bool:
    return await page.get_by_role("button", name="Log out", exact=True).count() > 0


async def log_in(page: Page, ctx: BotContext, *, default_credential: str) -> None:
    """Log in with the credential `bot_config.credential` names, by label and button name.

    Gateway errors are retried (logging in twice is harmless); a refused
    password is not, since real portals lock accounts after a few failures.
    """
    url = base_url(ctx)
    name = str(ctx.config.get("credential") or default_credential)
    timeout = _seconds(ctx.config.get("step_timeout"), DEFAULT_STEP_TIMEOUT) * 1000
    page.set_default_timeout(timeout)
    page.set_default_navigation_timeout(timeout)
    credential = ctx.credentials(name)

    async def once() -> bool:
        await open_page(page, f"{url}{LOGIN_PATH}", "opening the login page")
        if await _logged_in(page):  # a login still valid: the portal went to its home page
            return True
        await page.get_by_label("Username", exact=True).fill(credential.username)
        await page.get_by_label("Password", exact=True).fill(credential.password)
        status = await submit(page, page.get_by_role("button", name="Log in", exact=True),
                              "logging in", logging_in=True)
        if await _logged_in(page):
            return True
        if status in REFUSED_STATUSES:
            return False
        # e.g. the fresh session expired at once: not the password's fault, try again
        raise TransientError(f"logging in: the portal answered HTTP {status} but shows no "
                             "logged-in page")

    if not await retrying(ctx, once, attempts=5):
        problem = await alert_text(page) if on_login_page(page) else ""
        raise LoginRefused(f"the portal refused credential {name!r} (user "
                           f"{credential.username!r}): {problem or 'no reason shown'}")
    ctx.log.info("portal.logged_in", username=credential.username)
