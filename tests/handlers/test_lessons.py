"""Lessons learned: recorded with owner and due date, listed, done, and reminded when due."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot
from bot.core.clock import FakeClock
from tests.handlers.concluding import console_of, declare, reporting_bot, respond_and_resolve
from tests.handlers.conftest import dm_text, kinds


@pytest.fixture
def bot(tmp_path: Path, clock: FakeClock) -> Iterator[Bot]:
    yield from reporting_bot(tmp_path, clock)


@pytest.fixture
def chat(bot: Bot) -> ConsolePlatform:
    return console_of(bot)


async def test_lessons_are_numbered_with_owner_due_date_and_state(
    bot: Bot, chat: ConsolePlatform
) -> None:
    room = await declare(chat)
    await chat.say("alice", room, "lesson Rotate the VPN keys owner @bob due 2026-12-03")
    assert chat.last(room).text == (
        "Lesson recorded:\n1. Rotate the VPN keys · Bob Peeters · due 2026-12-03 · open"
    )
    await chat.say("carla", room, "lesson Keep the call list current")
    await chat.say("alice", room, "lesson done 1")
    assert chat.last(room).text == "Lesson 1 done, by Alice Martin."

    await chat.say("bob", room, "lessons")
    assert chat.last(room).text == (
        "Lessons learned of INC-2026-0001:\n"
        "1. Rotate the VPN keys · Bob Peeters · due 2026-12-03 · done\n"
        "2. Keep the call list current · no owner · no due date · open"
    )
    assert kinds(bot, "lesson", "lesson_done") == ["lesson", "lesson", "lesson_done"]
    first = bot.store.log("INC-2026-0001")[-1].event
    assert first.data == {
        "id": "1",
        "number": 1,
        "text": "Rotate the VPN keys",
        "owner": "bob",
        "due": "2026-12-03",
        "done": True,
    }


async def test_lesson_mistakes_are_refused_clearly(chat: ConsolePlatform) -> None:
    room = await declare(chat, "--tlp", "amber+strict")
    await chat.say("alice", room, "lessons")
    assert chat.last(room).text == "No lessons learned yet. Add one with `lesson <text>`."
    await chat.say("alice", room, "lesson done 4")
    assert chat.last(room).text == "There is no lesson 4. See `lessons`."
    await chat.say("alice", room, "lesson Patch owner @nobody")
    assert chat.last(room).text.startswith("No one on the roster is called `nobody`")
    await chat.say("alice", room, "lesson Brief the police owner @dirk")  # cleared for AMBER only
    assert chat.last(room).text == (
        "Dirk Janssens is cleared only up to TLP:AMBER; INC-2026-0001 is TLP:AMBER+STRICT. "
        "A lesson's owner must be able to see it: name someone who can."
    )
    await chat.say("alice", room, "lesson Patch due next-week")
    assert chat.last(room).text.startswith("`next-week` is not a date like 2026-12-31.\nUsage: `")
    await chat.say("alice", room, "lesson Patch")
    await chat.say("alice", room, "lesson done 1")
    await chat.say("alice", room, "lesson done 1")
    assert chat.last(room).text == "Lesson 1 is already done."
    await chat.say("alice", chat.lobby, "lesson Patch")
    assert chat.last(chat.lobby).text == "Use this command in an incident's war room."


async def test_an_owner_of_an_organisation_not_named_is_told_how_to_name_it(
    chat: ConsolePlatform,
) -> None:
    room = await declare(chat, "--tlp", "amber")
    await chat.say("alice", room, "lesson Brief the police owner @dirk")
    assert chat.last(room).text == (
        "Dirk Janssens is cleared for TLP:AMBER, but police, their organisation, is not named "
        "on INC-2026-0001: under TLP:AMBER only cert and the organisations it names may join. "
        "Name it with `share police`. A lesson's owner must be able to see it: name someone "
        "who can."
    )
    await chat.say("alice", room, "share police")
    await chat.say("alice", room, "lesson Brief the police owner @dirk")
    assert chat.last(room).text.startswith("Lesson recorded:\n1. Brief the police · Dirk Janssens")


async def test_the_owner_is_reminded_when_due_even_after_closing(
    bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await declare(chat)
    await chat.say("alice", room, "lesson Rotate the VPN keys owner bob due 2026-12-03")
    await chat.say("alice", room, "lesson Review the call tree owner carla due 2026-12-03")
    await chat.say("alice", room, "lesson done 2")  # done: never reminded
    await respond_and_resolve(chat, room, clock)
    await chat.say("alice", room, "close")

    clock.set(datetime(2026, 12, 3, 7, 59, tzinfo=UTC))
    assert [t.kind for t in await bot.scheduler.fire_due()] == []
    clock.advance(timedelta(minutes=1))
    fired = await bot.scheduler.fire_due()

    assert [(t.kind, t.key) for t in fired] == [("lesson", "1")]
    assert "⏰ Lesson 1 of INC-2026-0001 · Phishing wave is due today: Rotate the VPN keys" in (
        dm_text(chat, "bob")
    )
    assert "Review the call tree" not in dm_text(chat, "carla")
    reminded = bot.store.log("INC-2026-0001")[-1].event
    assert reminded.kind == "lesson_reminded"
    assert reminded.data == {"number": 1, "person": "bob", "delivered": True}
    assert await bot.scheduler.fire_due(clock.now() + timedelta(days=30)) == []


async def test_a_lesson_after_closing_is_recorded_and_the_report_shows_done_state(
    bot: Bot, chat: ConsolePlatform, clock: FakeClock, tmp_path: Path
) -> None:
    room = await declare(chat)
    await chat.say("alice", room, "lesson Rotate the VPN keys owner bob due 2026-12-03")
    await chat.say("alice", room, "lesson Keep the call list current")
    await chat.say("bob", room, "lesson done 1")
    await respond_and_resolve(chat, room, clock)
    await chat.say("alice", room, "close")

    report = (tmp_path / "reports" / "INC-2026-0001-report.md").read_text(encoding="utf-8")
    assert "1. Rotate the VPN keys · owner Bob Peeters · due 2026-12-03 · done" in report
    assert "2. Keep the call list current · owner — · due — · open" in report

    await chat.say("carla", room, "lesson Shorter pages owner carla due 2026-12-10")
    assert chat.last(room).text.endswith("3. Shorter pages · Carla Dubois · due 2026-12-10 · open")
    assert [t.key for t in bot.store.pending_timers("INC-2026-0001")] == ["3"]
