"""The scheduler only wakes the bot: one job at the next due timer, re-armed on every change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest_asyncio
from sqlalchemy import event

from bot.bootstrap import Bot, build
from bot.core.clock import SystemClock
from bot.core.incident import Incident
from bot.core.levels import Level
from bot.core.paging import Page, PageStatus, RolePaging, TeamPaging
from tests.fixtures.roster import small_roster
from tests.fixtures.settings import settings_in
from tests.storage.test_sql_store import declared, make_incident

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


def busy_incident(number: int, now: datetime) -> Incident:
    page = Page(
        person_id="bob",
        role="analyst",
        paged_at=now,
        deadline=now + timedelta(days=1),
        cycle=1,
        status=PageStatus.PAGED,
    )
    team = TeamPaging(
        level=Level.L1,
        roles=[RolePaging(role="analyst", needed=1, candidates=["bob"], pages=[page])],
    )
    return make_incident(f"INC-2026-{number:04d}", rooms={}, team=team)


async def statements_at_start(folder: Path, incidents: int) -> list[str]:
    """The SQL a bot runs to start with this many open incidents whose timers are missing."""
    bot = build(settings_in(folder), clock=SystemClock(), roster=small_roster())
    try:
        now = bot.services.clock.now()
        for number in range(1, incidents + 1):
            incident = busy_incident(number, now)
            bot.store.save(incident, [declared(incident)])
        seen: list[str] = []
        for engine in {bot.store.engine, bot.store.reader}:
            event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
        await bot.scheduler.start()
        assert len(bot.services.timers.all_pending_timers()) == incidents
        assert bot.scheduler.next_wake() == now + timedelta(days=1)
        return seen
    finally:
        bot.close()


async def test_start_rebuilds_the_timers_in_as_many_statements_however_many_incidents(
    tmp_path: Path,
) -> None:
    few = await statements_at_start(tmp_path / "few", 2)
    many = await statements_at_start(tmp_path / "many", 30)

    assert len(many) == len(few)
    arms = [sql for sql in many if "min(timers.due_at)" in sql]
    assert len(arms) == 1


async def test_start_drops_timers_no_snapshot_wants_and_adds_the_missing_ones(
    live_bot: Bot,
) -> None:
    now = live_bot.services.clock.now()
    wanted, stale = busy_incident(1, now), busy_incident(2, now)
    for incident in (wanted, stale):
        live_bot.store.save(incident, [declared(incident)])
    timers = live_bot.services.timers
    timers.schedule(stale.id, "ack", "analyst/carol/earlier", now + timedelta(hours=1))
    timers.schedule("INC-2025-0009", "lesson", "1", now + timedelta(days=3))  # closed: kept

    await live_bot.scheduler.start()

    pending = {(t.incident_id, t.kind, t.key[:11]) for t in timers.all_pending_timers()}
    assert pending == {
        (wanted.id, "ack", "analyst/bob"),
        (stale.id, "ack", "analyst/bob"),
        ("INC-2025-0009", "lesson", "1"),
    }
