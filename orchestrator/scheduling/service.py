"""The scheduler service: time triggers fire exactly once across the cluster.

Every node runs this service; only the one holding the leader lock (the
store's `leadership()`) runs an APScheduler `AsyncIOScheduler`. Its jobs are
rebuilt from the registered processes' triggers whenever a node starts to lead,
and kept in memory: one job per time trigger, keyed by what the trigger says,
so editing a trigger replaces its job. Nothing of the schedule is read back
from the database but plain data: APScheduler's SQLAlchemy job store would
unpickle its rows, and one planted row would run code on the node that holds
the credentials' key.

APScheduler decides *when*; the fires table decides *whether*. Jobs run in
`FireExecutor`, which hands each scheduled time to `Dispatcher.fire`: already
fired there -> nothing; else run the feeder and record the fire and its items
in one transaction (`FireStore.record_fire`), which a unique (process, time)
makes happen once even if two nodes briefly both think they lead. A new
leader's jobs start from now, so it first catches up from the fires table:
every time since a trigger's last recorded fire (or, for a trigger that never
fired, since its process was registered) that is still within its misfire
grace fires now (only the latest, when the trigger coalesces), and older ones
are logged as missed. That covers a restart, a fail-over, and a leader killed
between two fires.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.base import BaseExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from orchestrator.scheduling.dispatch import Dispatcher
from orchestrator.scheduling.housekeeping import Housekeeping, default_chores
from orchestrator.scheduling.triggers import DEFAULT_TIMEZONE, TimedTrigger, timed_triggers
from queues import Store
from queues.leadership import Leadership
from queues.node_store import NodeStore

log = structlog.get_logger("scheduler")
ELECT_EVERY = 2.0
SYNC_EVERY = 10.0
MAX_PENDING = 100_000
MISSED_LIMIT = 10_000  # missed times recorded per trigger and catch-up (a week of minutes)


def scheduled_fire(**_: Any) -> None:
    """The jobs' nominal function: `FireExecutor` never calls it (see `_run_fires`)."""
    raise RuntimeError("scheduler jobs run through FireExecutor, not by calling them")


class FireExecutor(BaseExecutor):
    """Runs a due job's scheduled times one by one through the dispatcher, in the loop."""

    def __init__(self, run: Callable[[str, list[datetime]], Awaitable[bool]]):
        super().__init__()
        self._run = run
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        self._loop = scheduler._eventloop

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        assert self._loop is not None
        task = self._loop.create_task(self._execute(job, list(run_times)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, job: Any, run_times: list[datetime]) -> None:
        events, ok = [], False
        try:
            ok = await self._run(job.id, run_times)
        except Exception:  # logged here: nobody awaits this task
            log.exception("scheduler.job_failed", job=job.id)
            ok = False
        finally:
            code = EVENT_JOB_EXECUTED if ok else EVENT_JOB_ERROR
            events.append(JobExecutionEvent(code, job.id, job._jobstore_alias, run_times[-1]))
            self._run_job_success(job.id, events)

    def shutdown(self, wait: bool = True) -> None:
        for task in self._tasks:
            task.cancel()  # a fire commits whole or not at all: safe to cut


class SchedulerService:
    """Leader election, APScheduler's life cycle and the sync of jobs with processes."""

    def __init__(self, store: Store, *, node_id: str, node_name: str,
                 default_tz: str = DEFAULT_TIMEZONE, nodes: NodeStore | None = None,
                 own_node_row: bool = False, metrics: Any = None,
                 leadership: Leadership | None = None, elect_every: float = ELECT_EVERY,
                 sync_every: float = SYNC_EVERY, housekeeping: Housekeeping | None = None):
        self.store = store
        self.node_id, self.node_name = node_id, node_name
        self.default_tz = default_tz
        self.nodes, self.own_node_row = nodes, own_node_row
        self.metrics = metrics
        self.leadership = leadership or store.leadership()
        self.elect_every, self.sync_every = elect_every, sync_every
        self.dispatcher = Dispatcher(store, node_name, metrics=metrics, default_tz=default_tz,
                                     fence=self.leadership.fence)
        self.scheduler: AsyncIOScheduler | None = None
        self.triggers: dict[str, TimedTrigger] = {}
        self._registered_at: dict[str, float] = {}  # process -> last (re)registration
        self._synced = float("-inf")
        self._marked = False  # the leader flag is on this node's row
        self._job_locks: dict[str, asyncio.Lock] = {}
        self.housekeeping = housekeeping or Housekeeping(
            default_chores(store, actor=f"scheduler:{node_name}"))

    @property
    def is_leader(self) -> bool:
        return self.scheduler is not None

    # -- the election loop ------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Elect, lead and follow until `stop`; then step down and release the lock."""
        if self.nodes is not None and self.own_node_row:
            await asyncio.to_thread(self.nodes.register, self.node_id, node=self.node_name,
                                    role="scheduler")
        last_beat = time.monotonic()
        try:
            while not stop.is_set():
                try:
                    await self._tick()
                except Exception as err:  # a bad round must not end the service
                    log.exception("scheduler.error", error=str(err))
                    await self._step_down("error")
                if self.nodes is not None and self.own_node_row and (
                        time.monotonic() - last_beat >= self.nodes.beat_seconds):
                    await asyncio.to_thread(self.nodes.beat, self.node_id)
                    last_beat = time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.elect_every)
        finally:
            await self.housekeeping.stop()
            await self._step_down("stopping")
            await asyncio.to_thread(self.leadership.release)
            if self.nodes is not None and self.own_node_row:
                await asyncio.to_thread(self.nodes.stop, self.node_id)

    async def _tick(self) -> None:
        if self.scheduler is None:
            if await asyncio.to_thread(self.leadership.try_acquire):
                await self._lead()
        elif not await asyncio.to_thread(self.leadership.still_held):
            log.warning("scheduler.leadership_lost", node=self.node_name)
            await self._step_down("lost the leader lock")
        else:
            if not self._marked and self.nodes is not None:
                self._marked = await asyncio.to_thread(self.nodes.set_leader, self.node_id, True)
            if time.monotonic() - self._synced >= self.sync_every:
                await self._sync()
            await self.housekeeping.run_due()

    async def _lead(self) -> None:
        log.info("scheduler.leading", node=self.node_name)
        scheduler = AsyncIOScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": FireExecutor(self._run_fires)},
            # never "skip: max instances reached" (that would lose a fire); fires of one
            # trigger queue up behind each other instead (see _run_fires)
            job_defaults={"max_instances": MAX_PENDING}, timezone=self.default_tz)
        scheduler.start(paused=True)
        self.scheduler = scheduler
        await self._sync()
        scheduler.resume()
        if self.nodes is not None:
            self._marked = await asyncio.to_thread(self.nodes.set_leader, self.node_id, True)
        if self.metrics is not None:
            self.metrics.leader.set(1)

    async def _step_down(self, why: str) -> None:
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is None:
            return
        self._marked = False
        with contextlib.suppress(Exception):
            scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down via call_soon
        log.info("scheduler.stepped_down", node=self.node_name, reason=why)
        if self.metrics is not None:
            self.metrics.leader.set(0)
        if self.nodes is not None:
            await asyncio.to_thread(self.nodes.set_leader, self.node_id, False)

    # -- jobs ---------------------------------------------------------------------------
    def _wanted(self) -> dict[str, TimedTrigger]:
        wanted: dict[str, TimedTrigger] = {}
        infos = self.store.list_processes()
        self._registered_at = {info.spec.name: info.updated_at for info in infos}
        for info in infos:
            try:
                found = timed_triggers(info.spec.name, info.spec.definition, self.default_tz)
            except ValueError as err:  # registered by another version, say: skip, loudly
                log.error("scheduler.bad_triggers", process=info.spec.name, error=str(err))
                continue
            wanted.update((t.key, t) for t in found)
        return wanted

    async def _sync(self) -> None:
        """Make the jobs match the processes' triggers, then catch up missed fires."""
        scheduler = self.scheduler
        assert scheduler is not None
        wanted = await asyncio.to_thread(self._wanted)
        self.triggers = wanted

        def apply() -> None:
            have = {job.id for job in scheduler.get_jobs()}
            for key in have - set(wanted):
                scheduler.remove_job(key)
                log.info("scheduler.job_removed", job=key)
            for key in sorted(set(wanted) - have):
                t = wanted[key]
                scheduler.add_job(scheduled_fire, trigger=t.trigger, id=key,
                                  name=f"{t.process}: {t.spec.describe()}",
                                  kwargs={"process": t.process}, coalesce=t.spec.coalesces,
                                  misfire_grace_time=int(max(1, t.grace)))
                log.info("scheduler.job_added", job=key, trigger=t.spec.describe(),
                         timezone=t.timezone)
        await asyncio.to_thread(apply)
        for trigger in wanted.values():
            await self._catch_up(trigger)
        self._synced = time.monotonic()

    async def _catch_up(self, trigger: TimedTrigger) -> None:
        last = await asyncio.to_thread(self.store.fires.last_fire, trigger.key)
        if last is None:  # never fired: due since its process was (re)registered
            last = self._registered_at.get(trigger.process)
            if last is None:
                return
        now = datetime.now(UTC)
        last_at = datetime.fromtimestamp(last, UTC)
        horizon = max(last_at, now - timedelta(seconds=trigger.grace))
        missed = list(trigger.times_between(last_at, horizon, limit=MISSED_LIMIT))
        due = list(trigger.times_between(horizon, now))
        async with self._job_locks.setdefault(trigger.key, asyncio.Lock()):
            if missed:  # down longer than the grace: each is recorded, and alerted
                recorded = await self.dispatcher.record_missed(trigger, missed)
                log.warning("schedule.catch_up", process=trigger.process, trigger=trigger.key,
                            missed=len(missed), recorded=recorded, grace_seconds=trigger.grace)
            for when in due[-1:] if trigger.spec.coalesces else due:
                await self.dispatcher.fire(trigger, when)

    async def _run_fires(self, job_id: str, run_times: list[datetime]) -> bool:
        """A due job's scheduled times: those within grace fire, older ones are missed."""
        trigger = self.triggers.get(job_id)
        if trigger is None:
            return True  # its process changed since: the next sync removes the job
        async with self._job_locks.setdefault(job_id, asyncio.Lock()):  # one feeder at a time
            return await self._fire_in_turn(trigger, job_id, run_times)

    async def _fire_in_turn(self, trigger: TimedTrigger, job_id: str,
                            run_times: list[datetime]) -> bool:
        now = datetime.now(UTC)  # after the wait: a fire that waited too long is missed
        late = [t for t in run_times if (now - t).total_seconds() > trigger.grace]
        if late:
            recorded = await self.dispatcher.record_missed(trigger, late)
            log.warning("schedule.missed", process=trigger.process, trigger=job_id,
                        count=len(late), recorded=recorded, first=late[0].isoformat(),
                        last=late[-1].isoformat(), grace_seconds=trigger.grace)
        ok = True
        for when in run_times[len(late):]:
            result = await self.dispatcher.fire(trigger, when)
            ok = ok and (result is None or result.status != "failed")
        return ok
