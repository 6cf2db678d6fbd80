"""Feeders: the Python callables that produce a process's new work items.

A process names one as `feeder: "package.module:function"`; the scheduler calls
it on each fire of the process's cron or interval triggers:

    def poll(ctx):                                   # or `async def poll(ctx)`
        resp = ctx.http.get(ctx.config["inbox_url"], params={"since": ctx.since})
        for mail in resp.json():
            yield {"reference": mail["id"], "payload": {"subject": mail["subject"]}}

`ctx` has `log` (bound to the process), `config` (the process's `bot_config`),
`http` (an httpx client: async for an async feeder, else sync), `process`,
`scheduled_at` (the fire's scheduled time, an aware datetime: the same on every
node, so a reference derived from it is the same if a fire is ever retried) and
`since` (the previous fire's scheduled time, or None). It returns (or yields)
mappings with `reference` and `payload` (optionally `priority`, `deadline`
and `defer_until`, epoch seconds) or `NewItem`s. Enqueueing is idempotent by
reference, so a feeder may safely return what it returned before.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import structlog

from orchestrator.errors import ConfigError
from queues import NewItem

FEEDER_TIMEOUT = 300.0


@dataclass
class FeederContext:
    """What a feeder may use; built per fire."""

    process: str
    config: dict[str, Any]
    scheduled_at: datetime
    since: datetime | None = None
    asynchronous: bool = False
    log: Any = None
    _client: httpx.Client | httpx.AsyncClient | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.log is None:
            self.log = structlog.get_logger("feeder").bind(process=self.process)

    @property
    def http(self) -> Any:
        """An httpx client (AsyncClient for async feeders), closed after the call."""
        if self._client is None:
            self._client = (httpx.AsyncClient(timeout=30) if self.asynchronous
                            else httpx.Client(timeout=30))
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if isinstance(client, httpx.AsyncClient):
            await client.aclose()
        elif client is not None:
            client.close()


def load_feeder(ref: str) -> Callable[..., Any]:
    """The callable named `module:function`; a clear error when it cannot be imported."""
    module_name, _, attr = ref.partition(":")
    try:
        func = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"feeder {ref!r} cannot be loaded: {err}") from None
    if not callable(func):
        raise ConfigError(f"feeder {ref!r} is not callable")
    return func


def to_item(value: Any) -> NewItem:
    """A feeder's item: a NewItem, or a mapping with reference and payload."""
    if isinstance(value, NewItem):
        return value
    if not isinstance(value, Mapping) or "reference" not in value:
        raise ValueError(f"a feeder item must be a NewItem or a mapping with a reference, "
                         f"got {value!r:.80}")
    payload = value.get("payload", {})
    if not isinstance(payload, Mapping):
        raise ValueError(f"item {value['reference']!r}: payload must be a mapping")
    return NewItem(reference=str(value["reference"]), payload=dict(payload),
                   priority=value.get("priority"), deadline=value.get("deadline"),
                   defer_until=value.get("defer_until"))


def _collect(result: Iterable[Any] | None) -> list[NewItem]:
    return [to_item(v) for v in (result or [])]


async def run_feeder(ref: str, ctx: FeederContext, timeout: float = FEEDER_TIMEOUT
                     ) -> list[NewItem]:
    """Call the feeder (in a thread when it is synchronous) and read its items."""
    func = load_feeder(ref)
    ctx.asynchronous = inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)
    try:
        if inspect.isasyncgenfunction(func):
            async def drain() -> list[NewItem]:
                return [to_item(v) async for v in func(ctx)]
            return await asyncio.wait_for(drain(), timeout)
        if ctx.asynchronous:
            return _collect(await asyncio.wait_for(func(ctx), timeout))
        return await asyncio.wait_for(
            asyncio.to_thread(lambda: _collect(func(ctx))), timeout)
    finally:
        await ctx.aclose()
