"""Wakes the bot when the next timer is due. The timers table is the truth, not this object.

One APScheduler job, always set to the soonest pending timer and re-armed after every change;
on wake it fires what is due. `fire_due` works without APScheduler (tests drive it by hand).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.core.store import Timer
from handlers.context import Services, log
from handlers.timers import fire_due, rebuild

WAKE_JOB = "rrt-wake"


class Scheduler:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._apscheduler: AsyncIOScheduler | None = None
        self._firing = asyncio.Lock()  # a wake-up and a direct call never fire side by side

    async def fire_due(self, now: datetime | None = None) -> list[Timer]:
        async with self._firing:
            fired = await fire_due(self.services, now)
        self.arm()
        return fired

    def start(self) -> None:
        """Rebuild the timers from the database and arm the wake-up; needs a running loop."""
        self._apscheduler = AsyncIOScheduler(timezone="UTC")
        self._apscheduler.start()
        self.services.on_timers_changed = self.arm
        rebuild(self.services)
        self.arm()

    def stop(self) -> None:
        self.services.on_timers_changed = None
        if self._apscheduler is not None:
            self._apscheduler.shutdown(wait=False)
            self._apscheduler = None

    def arm(self) -> None:
        """Set the one wake-up job to the soonest pending timer (or remove it)."""
        scheduler = self._apscheduler
        if scheduler is None:
            return
        due = self.services.timers.next_due_at()
        if due is None:
            if scheduler.get_job(WAKE_JOB) is not None:
                scheduler.remove_job(WAKE_JOB)
            return
        # A due time in the past runs at once; APScheduler's grace keeps it from being skipped.
        scheduler.add_job(
            self._wake,
            "date",
            run_date=max(due, self.services.clock.now()),
            id=WAKE_JOB,
            replace_existing=True,
            misfire_grace_time=None,
        )

    def next_wake(self) -> datetime | None:
        """When the bot will next wake, if armed."""
        job = self._apscheduler.get_job(WAKE_JOB) if self._apscheduler else None
        return job.next_run_time if job is not None else None

    async def _wake(self) -> None:
        try:
            await self.fire_due()
        except Exception:
            log.exception("firing due timers failed")
            self.arm()
