"""The bot's view of the orchestrator: logging, secrets, retries, evidence, HTTP.

A bot receives a `BotContext` and nothing else of the orchestrator, so a bot
can be tested with a context built by hand.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
import structlog
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from bots._errors import BusinessRuleError, SessionExpired

T = TypeVar("T")
MAX_DOWNLOAD = 50 * 2**20  # bytes: a download kept as evidence


@dataclass(frozen=True)
class Credential:
    """A username and a secret; the secret never prints."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credential(username={self.username!r}, password='***')"

    __str__ = __repr__


class CredentialSource(Protocol):
    def __call__(self, name: str) -> Credential: ...


class EvidenceSink(Protocol):
    def __call__(self, name: str, data: bytes) -> Path: ...


def _worth_retrying(err: BaseException) -> bool:
    # Business rules and lost sessions are not cured by trying the same step again.
    return isinstance(err, Exception) and not isinstance(err, BusinessRuleError | SessionExpired)


@dataclass(frozen=True)
class ItemInfo:
    """Which work item the bot is on: to name it in a target system, or in a log."""

    id: int
    reference: str
    process: str
    attempt: int  # 1 for the first try; a retry of the item counts on
    attempt_limit: int
    enqueued_at: datetime | None  # when the item was added, in UTC


class BotContext:
    """What a bot may use while it works on an item (`item` says which)."""

    def __init__(self, *, log: Any, config: Mapping[str, Any],
                 credentials: CredentialSource, evidence: EvidenceSink,
                 http: httpx.AsyncClient | None = None, item: ItemInfo | None = None):
        self.item = item
        self.log = log
        self.config = dict(config)
        self._credentials = credentials
        self._evidence = evidence
        self._http = http

    def credentials(self, name: str) -> Credential:
        """A stored credential by name (its read is audited; its value never logged)."""
        return self._credentials(name)

    def evidence(self, name: str, data: bytes) -> Path:
        """Attach a file (a screenshot, a receipt) to the current attempt."""
        return self._evidence(name, data)

    @property
    def http(self) -> httpx.AsyncClient:
        """An HTTP client for steps an API does better than a screen."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=30)
        return self._http

    async def retry(self, step: Callable[[], Awaitable[T]], *, attempts: int = 3,
                    wait_initial: float = 0.2, wait_max: float = 5.0) -> T:
        """Run `step` again on a transient failure, with exponential backoff and jitter.

        Business exceptions and lost sessions pass straight through: another try
        of the same step cannot fix them.
        """
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential_jitter(multiplier=wait_initial, max=wait_max,
                                         jitter=wait_initial),
            retry=retry_if_exception(_worth_retrying), reraise=True,
        ):
            with attempt:
                result = await step()
        return result

    async def download(self, page: Any, start: Callable[[], Awaitable[Any]], *,
                       name: str = "download", timeout: float = 30.0) -> Path:
        """Run `start` (the click that makes the target send a file) and keep the file.

        The file is saved as evidence of this attempt, under the name `name` with
        the suffix the target suggested (`receipt.pdf` -> `...-receipt.pdf`); its
        path is returned, to read or to pass on. Larger than 50 MB is refused.
        """
        async with page.expect_download(timeout=timeout * 1000) as info:
            await start()
        download = await info.value
        suffix = Path(download.suggested_filename or "").suffix[:10]
        temporary = await download.path()
        data = Path(temporary).read_bytes()
        if len(data) > MAX_DOWNLOAD:
            raise ValueError(f"the download {download.suggested_filename!r} is "
                             f"{len(data):,} bytes; at most {MAX_DOWNLOAD:,} are kept")
        return self._evidence(f"{name}{suffix}", data)

    async def upload(self, field: Any, *paths: Path | str) -> None:
        """Put files into a file field (`page.get_by_label("CV")`), checking they exist.

        A missing file is a business exception (the item names a document that
        is not there, and another try will not make it appear), not a timeout.
        """
        missing = [str(p) for p in paths if not Path(p).is_file()]
        if missing:
            raise BusinessRuleError(f"no such file to upload: {', '.join(missing)}",
                                    code="FILE_MISSING")
        await field.set_input_files([str(p) for p in paths])

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def make_log(**bound: Any) -> Any:
    """A structlog logger bound to the item's context."""
    return structlog.get_logger("bot").bind(**bound)
