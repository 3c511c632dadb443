"""Check-ins on the level's cadence, regulatory clocks from Q14, and timers across a restart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot, build
from bot.core.clock import FakeClock
from tests.fixtures.settings import settings_in
from tests.handlers.conftest import declare, kinds, team_roster, wire


async def test_check_in_requested_answered_then_missed(
    team_bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await declare(chat)
    await chat.say("alice", room, "level L1 --reason one workstation")
    assert kinds(team_bot, "checkins_planned") == ["checkins_planned"]

    clock.advance(timedelta(hours=24))
    await team_bot.scheduler.fire_due()
    assert "🕑 Check-in due, Alice Martin: post Conditions / Actions / Needs" in chat.text()
    await chat.say("alice", room, "update C: contained. A: reimaging. N: nothing.")
    assert chat.last(room).text == "Check-in recorded. Next one due 2026-12-02 08:00 UTC."

    clock.advance(timedelta(hours=26))  # the next one is due and its grace passes unanswered
    await team_bot.scheduler.fire_due()
    assert "⚠️ Missed check-in. Alice Martin, please post" in chat.last(room).text
    assert kinds(team_bot, "checkin_requested", "checkin", "checkin_missed") == [
        "checkin_requested",
        "checkin",
        "checkin_requested",
        "checkin_missed",
    ]


async def test_a_level_change_replans_the_cadence(
    team_bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await declare(chat)
    await chat.say("alice", room, "level L1 --reason one workstation")
    clock.advance(timedelta(hours=1))
    await chat.say("alice", room, "level L2 --reason spreading")
    clock.advance(timedelta(hours=2))
    await team_bot.scheduler.fire_due()
    assert kinds(team_bot, "checkins_planned", "checkin_requested") == [
        "checkins_planned",
        "checkins_planned",
        "checkin_requested",
    ]


async def test_update_before_response_is_refused(team_bot: Bot, chat: ConsolePlatform) -> None:
    room = await declare(chat)
    await chat.say("alice", room, "update all calm")
    assert chat.last(room).text == "Check-ins start when a coordinator confirms the level."


async def test_clocks_start_from_q14_remind_and_file(
    team_bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await declare(chat)
    await chat.say("bob", room, "answer Q14a yes")
    await chat.say("bob", room, "answer Q14b yes")
    started = [m.text for m in chat.rooms[room].messages if "clocks started" in m.text]
    assert started[0].startswith(
        "Regulatory clocks started:\n• NIS2 early warning: due 2026-12-01 08:00 UTC"
    )
    headline = chat.messages[chat.rooms[room].pinned[0]].text
    assert "Next deadline: NIS2 early warning due 2026-12-01 08:00 UTC" in headline

    clock.advance(timedelta(hours=18))
    await team_bot.scheduler.fire_due()
    assert "⏰ NIS2 early warning reminder (due in 6h, at 2026-12-01 08:00 UTC)." in chat.text()

    await chat.say("alice", room, "filed nis2_notification")
    assert "NIS2 final report now due 2027-01-01 02:00 UTC." in chat.last(room).text
    await chat.say("alice", room, "filed nis2_notification")
    assert chat.last(room).text == (
        "NIS2 incident notification was already filed at 2026-12-01 02:00 UTC."
    )
    await chat.say("alice", room, "clocks")
    listing = chat.last(room).text
    assert "NIS2 incident notification (`nis2_notification`) · due 2026-12-03 08:00 UTC" in listing
    assert "(on time)" in listing
    assert "GDPR breach notification (`gdpr_breach`) · due 2026-12-03 08:00 UTC · running" in (
        listing
    )
    await chat.say("alice", room, "filed dora_initial")
    assert chat.last(room).text.startswith("No clock `dora_initial`.")
    assert kinds(team_bot, "clock_started", "clock_reminder", "clock_filed") == [
        "clock_started",
        "clock_started",
        "clock_started",
        "clock_reminder",
        "clock_filed",
        "clock_started",
    ]


async def test_a_timer_due_while_the_bot_was_down_fires_once_marked_late(
    db: Path, clock: FakeClock
) -> None:
    first = wire(db, clock)
    chat = first.platform("console")
    assert isinstance(chat, ConsolePlatform)
    room = await declare(chat)
    await chat.say("alice", room, "level L1 --reason one workstation")
    first.close()  # the bot goes down with the coordinator's page open

    clock.advance(timedelta(hours=3))
    second = wire(db, clock, chat)  # the chat platform outlives the bot
    try:
        await second.scheduler.start()
        fired = await second.scheduler.fire_due()
        again = await second.scheduler.fire_due()
    finally:
        second.close()

    assert {t.kind for t in fired} == {"ack"}
    assert again == []
    log = second.store.log("INC-2026-0001")
    timed_out = [r.event for r in log if r.event.kind == "page_timed_out"]
    assert [(e.data["person"], e.data["late"]) for e in timed_out] == [("alice", True)]
    (late,) = [t for t in second.store.fired("INC-2026-0001") if t.kind == "ack"]
    assert late.late
    # Paging went on from the late firing: the next cycle pages her again, deadline from now.
    assert [r.event.data["person"] for r in log if r.event.kind == "paged"] == ["alice", "alice"]
    assert chat.last(room).text == (
        "No answer from Alice Martin as coordinator in time; paging on. (late: the bot was offline)"
    )


async def test_a_check_in_missed_while_the_bot_was_down_is_marked_late(
    db: Path, clock: FakeClock
) -> None:
    first = wire(db, clock)
    chat = first.platform("console")
    assert isinstance(chat, ConsolePlatform)
    room = await declare(chat)
    await chat.say("alice", room, "level L1 --reason one workstation")
    first.close()

    clock.advance(timedelta(days=2))  # past the check-in and its grace
    second = wire(db, clock, chat)
    try:
        await second.scheduler.start()
        await second.scheduler.fire_due()
    finally:
        second.close()

    log = second.store.log("INC-2026-0001")
    missed = [r.event.data for r in log if r.event.kind == "checkin_missed"]
    assert missed
    assert all(data["late"] is True for data in missed)
    assert "(late: the bot was offline)" in chat.text()


async def test_clock_times_are_local_with_utc_beside_deadlines(
    tmp_path: Path, clock: FakeClock
) -> None:
    settings = settings_in(tmp_path, display_timezone="Europe/Brussels")
    local = build(settings, clock=clock, roster=team_roster())
    chat = ConsolePlatform(on_inbound=local.dispatcher)
    local.attach(chat)
    try:
        room = await declare(chat)
        await chat.say("bob", room, "answer Q14a yes")
        headline = chat.messages[chat.rooms[room].pinned[0]].text
        assert "T0 2026-11-30 09:00 CET · declared 2026-11-30 09:00 CET" in headline
        assert "Next deadline: NIS2 early warning due 2026-12-01 09:00 CET (08:00 UTC)" in headline

        clock.advance(timedelta(hours=25))
        await chat.say("alice", room, "clocks")
        listing = chat.last(room).text
        assert (
            "NIS2 early warning (`nis2_early_warning`) · due 2026-12-01 09:00 CET (08:00 UTC)"
            " · overdue — not filed"
        ) in listing
        await chat.say("alice", room, "filed nis2_early_warning")
        await chat.say("alice", room, "clocks")
        assert "· filed 2026-12-01 10:00 CET (late)" in chat.last(room).text
    finally:
        local.close()
