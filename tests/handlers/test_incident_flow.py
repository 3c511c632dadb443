"""An incident from declaration to closing, read as a chat transcript."""

from __future__ import annotations

from datetime import timedelta

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot
from bot.core.clock import FakeClock
from bot.core.levels import Level
from bot.core.lifecycle import State
from tests.fixtures.triage import WORKED_EXAMPLE


async def declare(console: ConsolePlatform, title: str = "Ransomware at AZ Noord") -> str:
    await console.say("alice", console.lobby, f"declare {title}")
    return console.room_by_name("inc-2026-0001").id


async def test_declaration_opens_a_war_room_with_a_pinned_headline(
    bot: Bot, console: ConsolePlatform
) -> None:
    room_id = await declare(console)
    room = console.rooms[room_id]
    assert room.name == "inc-2026-0001-ransomware-at-az-noord"
    assert "alice" in room.members
    headline = console.messages[room.pinned[0]]
    assert headline.text.startswith("🚨 INC-2026-0001 · Ransomware at AZ Noord")
    assert "TLP:AMBER" in headline.text
    assert "pending triage" in headline.text
    assert "Triage 1/17 · Q1" in console.last(room_id).text
    assert console.last(console.lobby).text.startswith("Declared INC-2026-0001")
    incident = bot.store.get("INC-2026-0001")
    assert incident is not None
    assert incident.state is State.TRIAGE
    kinds = [r.event.kind for r in bot.store.log("INC-2026-0001")]
    # The opening is logged once the platform has made the room, with its real id.
    assert kinds == ["declared", "state_changed", "team_assembled", "paged", "war_room_opened"]


async def test_two_analysts_answer_the_worked_example_and_a_coordinator_confirms(
    bot: Bot, console: ConsolePlatform, clock: FakeClock
) -> None:
    room_id = await declare(console)
    for n, (question, option) in enumerate(WORKED_EXAMPLE.items()):
        clock.advance(timedelta(minutes=1))
        analyst = "bob" if n % 2 else "carla"
        await console.say(analyst, room_id, f"answer {question} {option}")
    said = console.text()
    assert "Proposed level L2: Score 63.1 (High) → L2, because S >= 55." in said
    assert "Police liaison required." in said
    incident = bot.store.get("INC-2026-0001")
    assert incident is not None
    assert incident.proposed_level is Level.L2
    assert incident.band == "High"
    assert incident.answers["Q3"].author == "carla"
    assert incident.answers["Q4"].author == "bob"

    await console.say("bob", room_id, "confirm")
    assert console.last(room_id).text == "Only a coordinator can confirm the level."
    await console.say("alice", room_id, "confirm")
    assert console.last(room_id).text == "Level L2 confirmed by Alice Martin."
    incident = bot.store.get("INC-2026-0001")
    assert incident is not None
    assert incident.state is State.RESPONSE
    assert (
        "Level L2 (national cyber security incident)"
        in console.messages[console.rooms[room_id].pinned[0]].text
    )

    # The worked example's reporting duties leave clocks unfiled: closing is confirmed.
    for command in ("contain", "resolve", "close confirm"):
        await console.say("alice", room_id, command)
    incident = bot.store.get("INC-2026-0001")
    assert incident is not None
    assert incident.state is State.CLOSED


async def test_buttons_reactions_and_replies_all_answer_the_prompt(
    bot: Bot, console: ConsolePlatform
) -> None:
    room_id = await declare(console)
    prompt = console.last(room_id)
    await console.click("bob", prompt.id, "Malicious code")
    q2 = console.last(room_id)
    assert "Q2" in q2.text
    await console.react("carla", q2.id, "1️⃣")
    q3 = console.last(room_id)
    assert "Q3" in q3.text
    await console.say("bob", room_id, "4", reply_to=q3.id)
    incident = bot.store.get("INC-2026-0001")
    assert incident is not None
    assert {q: a.option for q, a in incident.answers.items()} == {
        "Q1": "malicious-code",
        "Q2": "declared",
        "Q3": "essential",
    }
    assert "Q3 → essential (answered by Bob Peeters)." in console.text()


async def test_chatter_in_the_war_room_is_not_taken_for_a_command(
    bot: Bot, console: ConsolePlatform
) -> None:
    room_id = await declare(console)
    before = len(console.transcript)
    await console.say("bob", room_id, "looks like LockBit to me", reply_to="msg-unrelated")
    assert len(console.transcript) == before + 1  # only Bob's own line


async def test_illegal_transitions_are_refused_with_a_clear_message(
    bot: Bot, console: ConsolePlatform
) -> None:
    room_id = await declare(console)
    await console.say("alice", room_id, "close")
    assert console.last(room_id).text == (
        "Cannot close an incident that is triage (from triage you can: confirm)."
    )


async def test_unknown_people_and_bad_commands_get_clear_answers(
    bot: Bot, console: ConsolePlatform
) -> None:
    await console.say("mallory", console.lobby, "declare Something")
    assert console.last(console.lobby).text.startswith("You are not on this bot's roster")
    await console.say("bob", console.lobby, "declare --tlp purple Something")
    assert "Unknown TLP label 'purple'" in console.last(console.lobby).text
    assert "Usage: `declare [--exercise] [--tlp LABEL] <title>`" in console.last(console.lobby).text
    await console.say("bob", console.lobby, "frobnicate")
    assert console.last(console.lobby).text == "Unknown command `frobnicate`. Try `help`."
    assert bot.store.open_incidents() == []


async def test_the_headline_says_when_the_severity_is_provisional(
    bot: Bot, console: ConsolePlatform
) -> None:
    room_id = await declare(console)
    await console.say("bob", room_id, "answer Q4 denial")
    headline = console.messages[console.rooms[room_id].pinned[0]].text
    assert "Severity Low (20.0) so far" in headline


async def test_a_timeline_of_long_notes_stays_one_message_of_bounded_size(
    bot: Bot, console: ConsolePlatform
) -> None:
    room = await declare(console)
    for n in range(35):
        await console.say("alice", room, f"note {n} " + "x" * 3900)
    await console.say("alice", room, "timeline")
    shown = console.last(room).text
    assert shown.startswith("Timeline of INC-2026-0001:")
    assert len(shown) < 15_000  # Slack refuses messages over 40,000 characters
    assert shown.count("\n") == 30
    assert shown.rstrip().endswith("…")


async def test_a_reply_of_conversation_to_the_headline_gets_no_answer(
    bot: Bot, console: ConsolePlatform
) -> None:
    room = await declare(console)
    headline = console.rooms[room].pinned[0]
    said = len(console.rooms[room].messages)
    await console.say("bob", room, "on it, thanks", reply_to=headline)
    assert len(console.rooms[room].messages) == said + 1  # only Bob's own message


async def test_text_with_a_lone_surrogate_is_kept_escaped_not_dropped(
    bot: Bot, console: ConsolePlatform
) -> None:
    room = await declare(console)
    await console.say("alice", room, "note half \ud800 kept")  # valid JSON, not valid UTF-8
    assert console.last(room).text == "Noted in INC-2026-0001."
    (note,) = [r.event for r in bot.store.log() if r.event.kind == "note"]
    assert note.data["text"] == "half \\ud800 kept"
