"""The scheduler only wakes the bot: one job at the next due timer, re-armed on every change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest_asyncio

from bot.bootstrap import Bot, build
from bot.core.clock import SystemClock
from tests.fixtures.roster import small_roster
from tests.fixtures.settings import settings_in

INC = "INC-2026-0001"


@pytest_asyncio.fixture
async def live_bot(tmp_path: Path) -> AsyncIterator[Bot]:
    bot = build(
        settings_in(tmp_path),
        clock=SystemClock(),
        roster=small_roster(),
    )
    yield bot
    bot.close()


async def test_apscheduler_wakes_the_bot_when_a_timer_falls_due(live_bot: Bot) -> None:
    await live_bot.scheduler.start()
    timers, clock = live_bot.services.timers, live_bot.services.clock
    timers.schedule(INC, "checkin", "slot", clock.now() + timedelta(milliseconds=200))
    await live_bot.scheduler.arm()

    for _ in range(50):  # the wake-up is real time here: poll briefly
        if live_bot.store.fired(INC):
            break
        await asyncio.sleep(0.05)

    (fired,) = live_bot.store.fired(INC)
    assert fired.late is False
    assert timers.next_due_at() is None


async def test_a_timer_already_due_at_start_fires_at_once_marked_late(live_bot: Bot) -> None:
    timers, clock = live_bot.services.timers, live_bot.services.clock
    timers.schedule(INC, "checkin", "slot", clock.now() - timedelta(hours=2))
    await live_bot.scheduler.start()
    for _ in range(50):
        if live_bot.store.fired(INC):
            break
        await asyncio.sleep(0.05)
    (fired,) = live_bot.store.fired(INC)
    assert fired.late is True


async def test_the_wake_job_follows_the_soonest_timer(live_bot: Bot) -> None:
    scheduler = live_bot.scheduler
    await scheduler.start()
    assert scheduler.next_wake() is None
    soon = live_bot.services.clock.now() + timedelta(hours=1)
    live_bot.services.timers.schedule(INC, "ack", "a", soon + timedelta(hours=1))
    live_bot.services.timers.schedule(INC, "ack", "b", soon)
    await scheduler.arm()
    assert scheduler.next_wake() == soon
    live_bot.services.timers.cancel(INC, "ack", "a")
    live_bot.services.timers.cancel(INC, "ack", "b")
    await scheduler.arm()
    assert scheduler.next_wake() is None
