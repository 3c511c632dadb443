"""Exercises (policy §8): everything the bot says is marked, `endex` ends one, `realworld`
suspends one at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot
from bot.core.clock import FakeClock
from bot.core.lifecycle import State
from tests.handlers.concluding import (
    accept,
    bot_messages,
    console_of,
    declare,
    reporting_bot,
    respond_and_resolve,
)
from tests.handlers.conftest import dm, dm_text, kinds


@pytest.fixture
def bot(tmp_path: Path, clock: FakeClock) -> Iterator[Bot]:
    yield from reporting_bot(tmp_path, clock)


@pytest.fixture
def chat(bot: Bot) -> ConsolePlatform:
    return console_of(bot)


async def play_exercise(bot: Bot, chat: ConsolePlatform, clock: FakeClock) -> str:
    """Declaration to ENDEX, touching every kind of message the bot sends."""
    room = await declare(chat, "--exercise")
    await chat.say("bob", room, "answer Q14a yes")  # clocks start, the headline is edited
    await chat.say("bob", room, "confirm")  # a refusal
    await chat.say("bob", room, "frobnicate")  # a parse error
    await chat.say("mallory", room, "status")  # someone not on the roster
    await accept(chat, "alice")
    await chat.say("alice", room, "level L1 --reason tabletop")
    await chat.react("bob", dm(chat, "bob"), "2️⃣")  # Bob declines: Carla is paged
    await accept(chat, "carla")
    await chat.say("alice", room, "clocks")
    await chat.say("alice", room, "status")
    await chat.say("alice", room, "timeline")
    await chat.say("carla", room, "lesson Test the call tree owner carla due 2026-12-10")
    clock.advance(timedelta(hours=18))
    await bot.scheduler.fire_due()  # a clock reminder
    clock.advance(timedelta(hours=7))
    await bot.scheduler.fire_due()  # another, the overdue clock and the check-in
    await chat.say("alice", room, "update C: drill running. A: none. N: none.")
    for command in ("contain", "resolve", "endex"):  # a clock is unfiled
        clock.advance(timedelta(minutes=30))
        await chat.say("alice", room, command)
    await chat.say("carla", room, "lessons")
    clock.set(datetime(2026, 12, 10, 8, 0, tzinfo=UTC))
    await bot.scheduler.fire_due()  # Carla's lesson falls due
    return room


async def test_every_outbound_message_of_an_exercise_says_exercise(
    bot: Bot, chat: ConsolePlatform, clock: FakeClock, tmp_path: Path
) -> None:
    room = await play_exercise(bot, chat, clock)

    said = bot_messages(chat)
    rooms_spoken_in = {name for name, _ in said}
    assert {"lobby", "dm-alice", "dm-bob", "dm-carla"} <= rooms_spoken_in
    assert len(said) > 30
    unmarked = [(name, text) for name, text in said if not text.startswith("[EXERCISE] ")]
    assert unmarked == []
    # Pages, refusals, reminders, the hot wash and the lesson reminder were among them.
    texts = "\n".join(text for _, text in said)
    for expected in (
        "📟 INC-2026-0001 · your page as analyst: declined.",
        "Only a coordinator can confirm the level.",
        "Unknown command `frobnicate`",
        "You are not on this bot's roster.",
        "⏰ NIS2 early warning (simulated) reminder",
        "🕑 Check-in due",
        "🏁 ENDEX",
        "⏰ Lesson 1 of EXERCISE · INC-2026-0001",
    ):
        assert expected in texts, expected

    war_room = chat.rooms[room]
    assert war_room.name.startswith("exercise-inc-2026-0001")
    assert war_room.topic.startswith("[EXERCISE] ")
    assert chat.messages[war_room.pinned[0]].text.startswith("[EXERCISE] 🚨 INC-2026-0001")
    assert [entry for entry in chat.transcript if "[file " in entry] == [
        f"[#{war_room.name}] bot: [file INC-2026-0001-report-EXERCISE.{ext} · "
        f"[EXERCISE] Incident report INC-2026-0001 (TLP:AMBER) · {len(content)} bytes]"
        for ext, (_, content, _) in zip(("md", "html"), war_room.files, strict=True)
    ]
    for name, content, _ in war_room.files:
        assert "EXERCISE" in content.decode()
        assert (tmp_path / "reports" / name).exists()


async def test_exercise_clocks_are_simulated_in_the_headline_and_the_list(
    chat: ConsolePlatform,
) -> None:
    room = await declare(chat, "--exercise")
    await chat.say("bob", room, "answer Q14a yes")
    headline = chat.messages[chat.rooms[room].pinned[0]].text
    assert "Next deadline: NIS2 early warning due 2026-12-01 08:00 UTC (simulated)" in headline
    assert "[EXERCISE] Regulatory clocks started (simulated):" in chat.text()
    await chat.say("bob", room, "clocks")
    assert chat.last(room).text.startswith(
        "[EXERCISE] Regulatory clocks of INC-2026-0001 (simulated):"
    )


async def test_a_real_incident_is_never_marked(
    bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await declare(chat)
    await chat.say("bob", room, "answer Q14a yes")
    await respond_and_resolve(chat, room, clock)
    await chat.say("alice", room, "close confirm")  # with the NIS2 clocks unfiled
    assert all("EXERCISE" not in text for _, text in bot_messages(chat))
    assert "simulated" not in chat.text()
    assert chat.rooms[room].files[0][0] == "INC-2026-0001-report.md"


async def test_endex_needs_a_resolved_exercise_and_a_coordinator(
    bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await declare(chat, "--exercise")
    await chat.say("alice", room, "endex")
    assert chat.last(room).text == (
        "[EXERCISE] The exercise is triage: resolve it first (`resolve`), then `endex`."
    )
    await respond_and_resolve(chat, room, clock)
    await chat.say("bob", room, "endex")
    assert chat.last(room).text == "[EXERCISE] Only a coordinator can end an exercise."

    await chat.say("alice", room, "endex")
    incident = bot.store.get("INC-2026-0001")
    assert incident is not None
    assert incident.state is State.CLOSED
    hot_wash = [m.text for m in chat.rooms[room].messages if "ENDEX" in m.text]
    assert hot_wash[0].startswith("[EXERCISE] 🏁 ENDEX: the exercise is over. Hot wash:")
    assert "`lesson <text> [owner @person] [due YYYY-MM-DD]`" in hot_wash[0]
    assert kinds(bot, "exercise_ended", "state_changed", "report_written")[-3:] == [
        "exercise_ended",
        "state_changed",
        "report_written",
    ]
    assert chat.last(room).text.startswith("[EXERCISE] INC-2026-0001 closed by Alice Martin.")


async def test_endex_closes_in_one_step_listing_the_simulated_clocks_left_unfiled(
    bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await declare(chat, "--exercise")
    await chat.say("bob", room, "answer Q14a yes")  # the NIS2 clocks start
    await respond_and_resolve(chat, room, clock)

    await chat.say("alice", room, "endex")

    incident = bot.store.get("INC-2026-0001")
    assert incident is not None
    assert incident.state is State.CLOSED
    texts = [m.text for m in chat.rooms[room].messages]
    assert sum("🏁 ENDEX" in text for text in texts) == 1
    assert not any("close confirm" in text for text in texts)
    closing = chat.last(room).text
    assert closing.startswith("[EXERCISE] INC-2026-0001 closed by Alice Martin.")
    assert "Still to file (simulated): NIS2 early warning (due " in closing
    closed = [r.event for r in bot.store.log("INC-2026-0001") if r.event.kind == "state_changed"]
    assert closed[-1].data["unfiled"] == ["nis2_early_warning", "nis2_notification"]


async def test_a_closed_exercise_cannot_be_suspended(
    bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await declare(chat, "--exercise")
    await respond_and_resolve(chat, room, clock)
    await chat.say("alice", room, "endex")
    await chat.say("alice", room, "realworld")
    assert chat.last(room).text.startswith(
        "[EXERCISE] INC-2026-0001 is closed: its record is concluded. Still possible:"
    )
    assert kinds(bot, "exercise_suspended") == []


async def test_endex_is_for_exercises_only(chat: ConsolePlatform) -> None:
    room = await declare(chat)
    await chat.say("alice", room, "endex")
    assert chat.last(room).text == "INC-2026-0001 is not an exercise."
    await chat.say("alice", room, "realworld")
    assert chat.last(room).text == "INC-2026-0001 is not an exercise."


async def test_realworld_suspends_the_exercise_at_once_and_tells_everyone_paged(
    bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await declare(chat, "--exercise")
    await chat.say("bob", room, "answer Q14a yes")
    await accept(chat, "alice")
    await chat.say("alice", room, "level L1 --reason tabletop")  # Bob is paged, not yet answered
    assert {t.kind for t in bot.store.pending_timers("INC-2026-0001")} >= {"ack", "clock"}

    await chat.say("erik", room, "realworld")  # not on the team
    assert chat.last(room).text == "[EXERCISE] Only the exercise's team can suspend it."
    clock.advance(timedelta(minutes=3))
    await chat.say("bob", room, "realworld")

    assert chat.last(room).text.startswith(
        "[EXERCISE] 🛑 REAL WORLD: exercise INC-2026-0001 suspended by Bob Peeters."
    )
    for person in ("alice", "bob"):
        assert dm_text(chat, person).endswith(
            "[EXERCISE] 🛑 REAL WORLD: exercise INC-2026-0001 suspended. "
            "Stand down from the exercise."
        )
    assert kinds(bot, "exercise_suspended") == ["exercise_suspended"]
    assert bot.store.pending_timers("INC-2026-0001") == []
    headline = chat.messages[chat.rooms[room].pinned[0]].text
    assert "REAL WORLD: exercise suspended 2026-11-30 08:03 UTC." in headline

    clock.advance(timedelta(days=2))  # past every ack deadline, check-in and clock
    assert await bot.scheduler.fire_due() == []
    assert kinds(bot, "page_timed_out", "checkin_requested", "clock_reminder") == []
    await chat.say("alice", room, "realworld")
    assert chat.last(room).text == "[EXERCISE] INC-2026-0001 is already suspended."

    accepted = kinds(bot, "page_accepted")  # Alice, as coordinator, before the suspension
    page = next(m for m in reversed(chat.direct_room("bob").messages) if m.buttons)
    await chat.click("bob", page.id, "Accept")  # the page was still open when it was suspended
    assert chat.last(page.room_id).text.endswith(
        "was suspended for a real-world incident; stand down."
    )
    assert kinds(bot, "page_accepted") == accepted
