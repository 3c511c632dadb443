"""Wakes the bot when the next timer is due. The timers table is the truth, not this object.

One APScheduler job, always set to the soonest pending timer and re-armed after every change;
on wake the runtime fires what is due, each timer as a unit of work in its incident's lane.
A wake-up that fails (the database is down) is retried soon, so timers that fell due meanwhile
fire once the database is back, without a restart. Replicas sharing a PostgreSQL database each
wake for every timer (each also looks now and then for the timers the others scheduled); the
first to claim one fires it, the others skip it. That look also handles the events a replica
recorded and then died before handling.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.exc import SQLAlchemyError

from bot.core.store import StorageLost, Timer
from bot.runtime import RETRY_SECONDS, Runtime, short_reason
from handlers.context import Services, log
from handlers.timers import rebuild

WAKE_JOB = "rrt-wake"
SWEEP_JOB = "rrt-sweep"
REPLICA_SWEEP = 15.0  # seconds between looks for what other replicas left
# A timer another replica is firing, or whose incident it is deciding an event of, is looked
# at again this soon.
ELSEWHERE_SECONDS = 1.0
# An event unhandled this long after it was received is taken over from the replica that
# recorded it: long enough that one still alive has handled what it just queued.
ORPHAN_GRACE = timedelta(seconds=30)


class Scheduler:
    def __init__(
        self,
        services: Services,
        runtime: Runtime,
        sweep: float | None = None,
        grace: timedelta = ORPHAN_GRACE,
    ) -> None:
        self.services = services
        self.runtime = runtime
        # Every `sweep` seconds, with replicas: arm for the timers others scheduled, deliver
        # the effects whose claim ran out (their replica died mid-effect), and handle the
        # events left unhandled for longer than `grace`.
        self._sweep = sweep
        self._grace = grace
        self._apscheduler: AsyncIOScheduler | None = None
        self._changed = False
        self._arming: set[asyncio.Future[None]] = set()
        self._firing = asyncio.Lock()  # a wake-up and a direct call never fire side by side

    async def fire_due(self, now: datetime | None = None) -> list[Timer]:
        moment = now or self.services.clock.now()
        async with self._firing:
            fired = await self.runtime.fire_due(moment)
        await self.arm(passed=moment if self.runtime.timers_left else None)
        return fired

    async def start(self) -> None:
        """Rebuild the timers from the database and arm the wake-up; needs a running loop."""
        self._apscheduler = AsyncIOScheduler(timezone="UTC", event_loop=asyncio.get_running_loop())
        self._apscheduler.start()
        await self.runtime.offload(lambda: rebuild(self.services))
        # Decisions run in database threads and mark the timers changed; the loop re-arms
        # once the decision has committed.
        self.services.on_timers_changed = self._mark_changed
        self.runtime.after_commit = self._rearm_if_changed
        await self.arm()
        if self._sweep is not None:
            self._apscheduler.add_job(
                self._swept, "interval", seconds=self._sweep, id=SWEEP_JOB, coalesce=True
            )

    def stop(self) -> None:
        self.services.on_timers_changed = None
        self.runtime.after_commit = None
        if self._apscheduler is not None:
            self._apscheduler.shutdown(wait=False)
            self._apscheduler = None

    def _mark_changed(self) -> None:
        self._changed = True

    def _rearm_if_changed(self) -> None:
        if self._changed:
            self._changed = False
            task = asyncio.ensure_future(self._arm_or_retry())
            self._arming.add(task)
            task.add_done_callback(self._arming.discard)

    async def arm(self, passed: datetime | None = None) -> None:
        """Set the one wake-up job to the soonest pending timer (or remove it). `passed`: the
        moment of a firing that left due timers to another process."""
        scheduler = self._apscheduler
        if scheduler is None:
            return
        due = await self.runtime.offload(self.services.timers.next_due_at)
        if self._apscheduler is None:
            return
        if due is None:
            if scheduler.get_job(WAKE_JOB) is not None:
                scheduler.remove_job(WAKE_JOB)
            return
        now = self.services.clock.now()
        if passed is not None and due <= passed:
            # Still pending: another replica is firing it. Look again shortly, not at once
            # and over and over until it has committed (if it fails, it fires here then).
            now += timedelta(seconds=ELSEWHERE_SECONDS)
        self._wake_at(max(due, now))

    def _wake_at(self, moment: datetime) -> None:
        assert self._apscheduler is not None
        # A due time in the past runs at once; APScheduler's grace keeps it from being skipped.
        self._apscheduler.add_job(
            self._wake,
            "date",
            run_date=moment,
            id=WAKE_JOB,
            replace_existing=True,
            misfire_grace_time=None,
        )

    def next_wake(self) -> datetime | None:
        """When the bot will next wake, if armed."""
        job = self._apscheduler.get_job(WAKE_JOB) if self._apscheduler else None
        return job.next_run_time if job is not None else None

    async def _arm_or_retry(self) -> None:
        try:
            await self.arm()
        except Exception as error:
            _failed("arming the timers failed; trying again shortly", error)
            self._retry()

    async def _swept(self) -> None:
        try:
            await self.arm()
            await self.runtime.replay(received_before=self.services.clock.now() - self._grace)
        except Exception as error:
            _failed("looking for the work of other replicas failed; trying again later", error)

    async def _wake(self) -> None:
        try:
            await self.fire_due()
        except Exception as error:
            _failed("firing due timers failed; trying again shortly", error)
            self._retry()

    def _retry(self) -> None:
        if self._apscheduler is not None:
            self._wake_at(self.services.clock.now() + timedelta(seconds=RETRY_SECONDS))


def _failed(what: str, error: Exception) -> None:
    """A database that cannot be reached is expected while it is down: one line each time.
    Anything else is a fault of the bot's own: with its traceback."""
    if isinstance(error, SQLAlchemyError | StorageLost):
        log.error("%s: %s", what, short_reason(error))
    else:
        log.exception(what)
