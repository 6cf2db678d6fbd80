"""The dispatch loop: claim items for free slots, run them, report, heartbeat.

The loop talks to the store only through its interface (in a thread, since
the store is synchronous), never to a database driver. What runs beside it
(node beats, SLA checks, metrics) comes in as hooks (`hooks`). It stops claiming on
the first SIGTERM/SIGINT, lets items in flight finish for a grace period and
gives the rest back; a second signal exits at once, and the items' leases then
expire and bring them back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from bots import Bot, UnknownBot, load_bot
from orchestrator.scheduling.gate import ProcessGate, gate_for, settings_timezone
from orchestrator.worker.browser import BrowserHost
from orchestrator.worker.hooks import WorkerHook
from orchestrator.worker.slot import Outcome, Slot, SlotEnv
from orchestrator.worker.trace_modes import TraceMode
from queues import (
    ClaimedItem,
    IllegalTransition,
    LeaseLost,
    QueueError,
    QueueNotFound,
    Store,
    StoreError,
)

log = structlog.get_logger("worker")
RECOVER_EVERY = 5.0
OUTAGE_BACKOFF = (0.5, 10.0)  # first and longest wait while the database is unreachable
REFRESH_PROCESSES_EVERY = 10.0


@dataclass
class Served:
    """A process this worker serves, with its bot ready to run."""

    name: str
    bot: Bot
    config: dict[str, Any]
    concurrency: int
    lease_seconds: float
    gate: ProcessGate | None = None  # working hours and queue trigger; None claims always
    browser: dict[str, Any] = field(default_factory=dict)  # the process's `browser:` settings


@dataclass
class WorkerReport:
    """What a worker run did, for the CLI's summary."""

    done: int = 0
    business: int = 0
    application: int = 0
    lease_lost: int = 0
    released: int = 0
    browser_restarts: int = 0
    by_process: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, process: str, kind: str) -> None:
        bucket = self.by_process.setdefault(process, {})
        bucket[kind] = bucket.get(kind, 0) + 1


@dataclass
class WorkerOptions:
    """How a worker runs."""

    processes: list[str] | None = None
    slots: int = 2
    until_empty: bool = False
    idle_wait: float = 1.0
    grace_seconds: float = 30.0
    trace: TraceMode = "light"
    install_signals: bool = True
    worker_id: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")
    node_name: str | None = None  # shown by `rpa workers`; default the host name
    role: str = "worker"
    timezone: str = field(default_factory=settings_timezone)


class Worker:
    """One asyncio loop, one warm browser, N slots."""

    def __init__(self, store: Store, browser: BrowserHost, options: WorkerOptions, *,
                 credentials: Callable[[str], Any],
                 evidence_root: Any,
                 hooks: Sequence[WorkerHook] = (),
                 slot_factory: Callable[[int, SlotEnv], Slot] = Slot):
        self.store = store
        self.browser = browser
        self.opt = options
        self.id = options.worker_id
        self.env = SlotEnv(browser=browser, evidence_root=evidence_root,
                           credentials=credentials, trace=options.trace)
        # unit tests pass slots that run a script instead of a browser
        self.slots = [slot_factory(i, self.env) for i in range(options.slots)]
        self.hooks = list(hooks)
        self.report = WorkerReport()
        self.served: dict[str, Served] = {}
        self.tasks: dict[asyncio.Task[None], tuple[Slot, ClaimedItem, Served]] = {}
        self.stopping = asyncio.Event()
        self._signals = 0
        self._first_signal = 0.0
        self._recording: set[int] = set()  # finished items whose outcome is being written
        self._wake: asyncio.Task[bool] | None = None
        self._claimed_at: dict[int, float] = {}
        self._gated: set[str] = set()  # processes whose gate refused the last claim round
        self._skipped: dict[str, str] = {}  # process -> the bot that could not be loaded
        self._last_claimed: str | None = None  # claim rounds start after this process

    # -- set-up ---------------------------------------------------------------------
    def _load_processes(self) -> None:
        """Serve the wanted processes as registered now; skip one whose bot cannot load.

        A process registered with a bot this machine lacks must not stop the
        worker serving every other process: it is skipped with one error event
        (per bot name), and served again once its bot loads. Only when every
        process named on the command line fails is it the caller's mistake.
        """
        infos = {p.spec.name: p for p in self.store.list_processes()}
        wanted = self.opt.processes or sorted(infos)
        unknown = [n for n in wanted if n not in infos]
        if unknown:
            raise QueueNotFound(f"unknown process(es) {', '.join(unknown)}: see `rpa process list`")
        failures: list[UnknownBot] = []
        for name in wanted:
            spec = infos[name].spec
            current = self.served.get(name)
            try:
                bot = (current.bot if current and current.bot.name == spec.bot
                       else load_bot(spec.bot)())
            except UnknownBot as err:
                failures.append(err)
                self.served.pop(name, None)  # items in flight keep their own bot
                if self._skipped.get(name) != spec.bot:
                    self._skipped[name] = spec.bot
                    log.error("worker.process_skipped", process=name, bot=spec.bot,
                              error=str(err))
                continue
            if self._skipped.pop(name, None) is not None:
                log.info("worker.process_resumed", process=name, bot=spec.bot)
            self.served[name] = Served(
                name=name, bot=bot, config=dict(spec.definition.get("bot_config", {})),
                concurrency=spec.concurrency, lease_seconds=spec.lease_seconds,
                gate=gate_for(infos[name], self.opt.timezone, current.gate if current else None),
                browser=dict(spec.definition.get("browser") or {}))
        if self.opt.processes and failures and not self.served:
            raise failures[0]  # `--process` named only processes this worker cannot run

    def request_stop(self) -> None:
        """First signal: finish up. Second: leave now; leases bring the items back."""
        now = time.monotonic()
        # `timeout` and process managers may deliver one stop as two signals (to the
        # process and to its group): only a second signal a moment later means "now".
        if self._signals and now - self._first_signal < 1.0:
            return
        self._signals += 1
        if self._signals == 1:
            self._first_signal = now
        if self._signals > 1:
            log.warning("worker.exit_now", in_flight=len(self.tasks))
            os._exit(1)
        log.info("worker.stopping", in_flight=len(self.tasks))
        self.stopping.set()

    # -- the loop ---------------------------------------------------------------------
    async def run(self) -> WorkerReport:
        await asyncio.to_thread(self._load_processes)
        loop = asyncio.get_running_loop()
        if self.opt.install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop)
        await self.browser.start()
        log.info("worker.started", worker=self.id, slots=len(self.slots),
                 processes=sorted(self.served))
        heartbeat = asyncio.create_task(self._heartbeats())
        try:
            await self._each_hook("started")
            await self._dispatch()
        finally:
            heartbeat.cancel()
            await self._drain()
            await self._each_hook("stopping")
            for slot in self.slots:
                await slot.close()
            await self.browser.close()
            if self.opt.install_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
            self.report.browser_restarts = self.browser.restarts
            log.info("worker.stopped", worker=self.id, done=self.report.done,
                     business=self.report.business, application=self.report.application)
        return self.report

    async def _dispatch(self) -> None:
        """Claim rounds until stopped; a database outage pauses them, with backoff.

        Items in flight go on meanwhile (their outcomes wait for the database, see
        `_record`); nothing is claimed until a round goes through again.
        """
        wait = OUTAGE_BACKOFF[0]
        while not self.stopping.is_set():
            try:
                await self._rounds()
                return
            except StoreError as err:
                log.warning("worker.database_unreachable", error=str(err).splitlines()[0],
                            retry_in_seconds=wait)
                self.store.reconnect()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), wait)
                wait = min(wait * 2, OUTAGE_BACKOFF[1])

    async def _rounds(self) -> None:
        last_recover = last_refresh = time.monotonic()
        while not self.stopping.is_set():
            claimed = await self._claim_for_free_slots()
            now = time.monotonic()
            if now - last_recover > RECOVER_EVERY:
                await asyncio.to_thread(self.store.recover_expired)
                last_recover = now
            if now - last_refresh > REFRESH_PROCESSES_EVERY:
                await asyncio.to_thread(self._load_processes)
                last_refresh = now
            await self._each_hook("tick")
            if claimed:
                continue
            if self.opt.until_empty and not self.tasks and await asyncio.to_thread(self._empty):
                return
            await self._idle()

    async def _claim_for_free_slots(self) -> int:
        free = [s for s in self.slots if not s.busy]
        claimed = 0
        if not free:
            return 0
        for served in self._rotation():
            running = sum(1 for _, _, p in self.tasks.values() if p.name == served.name)
            room = min(len(free), served.concurrency - running)
            if room <= 0:
                continue
            if served.gate is not None and not await served.gate.allows(self.store, running):
                self._gated.add(served.name)
                continue
            self._gated.discard(served.name)
            items = await asyncio.to_thread(self.store.claim, served.name, self.id,
                                            limit=room, lease_seconds=served.lease_seconds)
            if served.gate is not None:
                served.gate.claimed(len(items), running)
            for item in items:
                slot = self._pick_slot(free, served)
                slot.busy, slot.current = True, item
                self._claimed_at[item.id] = time.time()
                for hook in self.hooks:
                    hook.claimed(self, item)
                task = asyncio.create_task(self._work(slot, item, served))
                self.tasks[task] = (slot, item, served)
                task.add_done_callback(self._finished)
            claimed += len(items)
            if items:
                self._last_claimed = served.name
            if not free:
                break
        return claimed

    @staticmethod
    def _pick_slot(free: list[Slot], served: Served) -> Slot:
        """A free slot already logged in for this bot if there is one (no new login).

        Best the slot whose last item was this bot's (no switch of context at
        all), then one that keeps a session for it, then the last free one.
        """
        name = served.bot.name
        slot = next((s for s in free if s.bot_name == name), None) or next(
            (s for s in free if s.has_session(name)), free[-1])
        free.remove(slot)
        return slot

    def _rotation(self) -> list[Served]:
        """The served processes, starting after the one that got a slot last.

        With fewer free slots than processes, a fixed order would give every
        free slot to the first process until its queue ran dry.
        """
        order = list(self.served.values())
        names = [p.name for p in order]
        if self._last_claimed not in names:
            return order
        turn = names.index(self._last_claimed) + 1
        return order[turn:] + order[:turn]

    def _finished(self, task: asyncio.Task[None]) -> None:
        slot, item, _ = self.tasks.pop(task, (None, None, None))
        if slot is not None:
            slot.busy, slot.current = False, None
        if item is not None:
            self._claimed_at.pop(item.id, None)

    def _empty(self) -> bool:
        """Nothing left that this run could claim (for `--until-empty`).

        Items of a process whose gate said no (outside working hours, or fewer
        than its queue trigger's threshold) wait for a later run, and so do the
        waiting items of a paused process (by a person, or by its breaker):
        counting them would keep an `--until-empty` worker waiting for hours.
        Items in flight are always waited for.
        """
        statuses = [q for q in self.store.queue_status() if q.process in self.served]
        paused = {q.process for q in statuses if q.paused}
        waiting = {q.process: sum(q.count(s) for s in ("new", "retry_scheduled"))
                   for q in statuses}
        if any(q.count("in_progress") for q in statuses):
            return False
        held = self._gated | paused
        if any(n for name, n in waiting.items() if name not in held):
            return False
        for name in sorted(held):
            if waiting.get(name):
                log.warning("worker.items_left_waiting", process=name, items=waiting[name],
                            reason="the process is paused" if name in paused
                            else "outside working hours or below its queue trigger")
        return True

    async def _idle(self) -> None:
        """Sleep until an item finishes, work may have arrived, or a short timeout.

        With every slot busy there is nothing to claim: the loop then waits for an
        item to finish only, instead of watching the database for new work (on
        SQLite a poll every 5 ms, which cost several ms of CPU per item).
        """
        stop = asyncio.create_task(self.stopping.wait())
        waiters: set[asyncio.Future[Any]] = {stop, *self.tasks}
        if any(not slot.busy for slot in self.slots):
            if self._wake is None or self._wake.done():
                self._wake = asyncio.create_task(
                    asyncio.to_thread(self.store.wait_for_work, self.opt.idle_wait))
            waiters.add(self._wake)
        await asyncio.wait(waiters, timeout=self.opt.idle_wait,
                           return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()

    # -- one item ----------------------------------------------------------------------
    async def _work(self, slot: Slot, item: ClaimedItem, served: Served) -> None:
        with structlog.contextvars.bound_contextvars(item_id=item.id, process=served.name,
                                                     attempt=item.attempt):
            try:
                outcome = await slot.run(served.bot, item, served.config, served.browser)
            except Exception as err:  # a slot must not raise; if one does, the item is
                # an application error (retried as usual), not a task that dies silently
                # and leaves the worker waiting for it
                log.exception("slot.failed", error=str(err))
                outcome = Outcome("application", error_type=type(err).__name__,
                                  message=f"the worker's slot failed: {err}"[:2000])
            self._recording.add(item.id)
            try:
                await self._record_through_outages(item, outcome)
            except LeaseLost as err:
                self.report.lease_lost += 1
                log.warning("item.lease_lost", error=str(err))
                return
            finally:
                self._recording.discard(item.id)
            self.report.count(served.name, outcome.kind)
            setattr(self.report, outcome.kind, getattr(self.report, outcome.kind) + 1)
            log.info("item.finished", outcome=outcome.kind, code=outcome.code,
                     seconds=round(outcome.seconds, 3))
            for hook in self.hooks:
                hook.finished(self, item, outcome)

    async def _record_through_outages(self, item: ClaimedItem, outcome: Outcome) -> None:
        """Record the outcome, retrying while the database is away (with backoff).

        Until the lease runs out the outcome is still ours to record; after that
        the item has come back through its lease and someone will try it again.
        A retry that finds the outcome already recorded (the first try committed,
        but its answer was lost with the connection) is not an error.
        """
        wait, retried = OUTAGE_BACKOFF[0], False
        give_up = time.time() + max(item.lease_expires_at - time.time(), 30.0)
        while True:
            try:
                await asyncio.to_thread(self._record, item, outcome)
                return
            except IllegalTransition:
                if not retried:
                    raise
                log.info("item.recorded_before_outage", item_id=item.id)
                return
            except StoreError as err:
                if time.time() + wait > give_up:
                    raise LeaseLost(f"item {item.id}: the database was away until its lease "
                                    "ran out; it comes back through the lease") from err
                log.warning("item.record_waiting_for_database", item_id=item.id,
                            error=str(err).splitlines()[0], retry_in_seconds=wait)
                await asyncio.sleep(wait)
                wait, retried = min(wait * 2, OUTAGE_BACKOFF[1]), True

    def _record(self, item: ClaimedItem, outcome: Outcome) -> None:
        if outcome.kind == "done":
            self.store.complete(item.id, self.id, outcome.output,
                                evidence=outcome.evidence or None)
        elif outcome.kind == "business":
            self.store.fail_business(item.id, self.id, code=outcome.code or "BUSINESS_RULE",
                                     message=outcome.message or "", evidence=outcome.evidence)
        else:
            self.store.fail_application(item.id, self.id,
                                        error_type=outcome.error_type or "Error",
                                        message=outcome.message or "",
                                        evidence=outcome.evidence)

    # -- leases ------------------------------------------------------------------------
    async def _heartbeats(self) -> None:
        while True:
            shortest = min((s.lease_seconds for s in self.served.values()), default=60.0)
            await asyncio.sleep(max(0.2, shortest / 3))
            by_lease: dict[float, list[int]] = {}
            for _, item, served in list(self.tasks.values()):
                # an item being recorded has left in_progress: not a lost lease
                if item.id not in self._recording:
                    by_lease.setdefault(served.lease_seconds, []).append(item.id)
            for lease, ids in by_lease.items():
                try:
                    held = await asyncio.to_thread(self.store.heartbeat, ids, self.id, lease)
                except StoreError as err:  # the next beat tries again; leases are long
                    log.warning("worker.heartbeat_failed", error=str(err).splitlines()[0])
                    continue
                for task, (_, item, _) in list(self.tasks.items()):
                    if item.id in ids and item.id not in held and item.id not in self._recording:
                        log.warning("item.lease_lost_mid_item", item_id=item.id)
                        task.cancel()

    # -- hooks ----------------------------------------------------------------------
    def claimed_at(self, item_id: int) -> float | None:
        """When this worker claimed an item it holds (epoch seconds)."""
        return self._claimed_at.get(item_id)

    async def _each_hook(self, moment: str) -> None:
        """Run one async moment of every hook; a failing hook is logged, never fatal."""
        for hook in self.hooks:
            try:
                await getattr(hook, moment)(self)
            except Exception as err:  # a hook is for people (beats, SLA): never stop work
                log.warning("worker.hook_failed", hook=type(hook).__name__, moment=moment,
                            error=str(err) or type(err).__name__)

    async def _drain(self) -> None:
        """Let items in flight finish for the grace period; give the rest back."""
        if self._wake is not None:
            self._wake.cancel()
        if not self.tasks:
            return
        pending = set(self.tasks)
        _, still = await asyncio.wait(pending, timeout=self.opt.grace_seconds)
        leftovers = [self.tasks[t] for t in still if t in self.tasks]
        for task in still:
            task.cancel()
        await asyncio.gather(*still, return_exceptions=True)
        for _, item, _ in leftovers:
            try:
                await asyncio.to_thread(self.store.release, item.id, self.id,
                                        reason="worker stopped before the item finished")
                self.report.released += 1
            except QueueError as err:
                log.warning("item.release_failed", item_id=item.id, error=str(err))
