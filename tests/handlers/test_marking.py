"""The exercise marking point: what an exercise sends through it is marked, once."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.adapters.console import ConsolePlatform
from bot.core.incident import Incident
from bot.port import Button, Outbound, RoomSpec, SentMessage
from handlers.headline import marked
from handlers.marking import ExercisePlatform, speaker, speaking

AT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def incident(*, is_exercise: bool) -> Incident:
    return Incident(
        id="INC-2026-0001",
        title="Drill",
        org="cert",
        declared_by="alice",
        declared_at=AT,
        t0=AT,
        is_exercise=is_exercise,
    )


async def test_everything_an_exercise_sends_is_marked() -> None:
    chat = ConsolePlatform()
    platform = speaking(chat, incident(is_exercise=True))
    assert isinstance(platform, ExercisePlatform)
    assert platform.name == "console"

    room_id = await platform.create_room(
        RoomSpec(name="INC-2026-0001 · Drill", slug="inc-2026-0001-drill", topic="TLP:AMBER")
    )
    room = chat.rooms[room_id]
    assert room.name == "exercise-inc-2026-0001-drill"
    assert room.topic == "[EXERCISE] TLP:AMBER"
    assert "room “[EXERCISE] INC-2026-0001 · Drill” opened" in chat.text()

    sent = await platform.send(room_id, Outbound("hello", buttons=(Button("OK", "ok"),)))
    assert chat.messages[sent.message_id].text == "[EXERCISE] hello"
    assert chat.messages[sent.message_id].buttons == (("OK", "ok"),)
    await platform.edit(sent, Outbound("edited"))
    assert chat.messages[sent.message_id].text == "[EXERCISE] edited"
    await platform.pin(sent)
    assert room.pinned == [sent.message_id]
    await platform.set_topic(room_id, "TLP:RED")
    assert room.topic == "[EXERCISE] TLP:RED"
    direct = await platform.send_direct("bob", Outbound("paged"))
    assert chat.messages[direct.message_id].text == "[EXERCISE] paged"
    await platform.upload_file(room_id, "r.md", b"# r", "text/markdown", "Report")
    assert chat.transcript[-1].endswith("bot: [file r.md · [EXERCISE] Report · 3 bytes]")
    await platform.invite(room_id, "carla")
    await platform.remove(room_id, "carla")
    assert "carla" not in room.members


async def test_a_real_incident_speaks_unmarked_through_the_platform_itself() -> None:
    chat = ConsolePlatform()
    assert speaking(chat, incident(is_exercise=False)) is chat
    assert speaking(chat, None) is chat
    assert speaker({"console": chat}, incident(is_exercise=False), "console") is chat
    assert speaker({"console": chat}, incident(is_exercise=True), "slack") is None


async def test_marking_twice_marks_once_and_long_slugs_stay_within_limits() -> None:
    exercise = incident(is_exercise=True)
    assert marked(exercise, marked(exercise, "hi")) == "[EXERCISE] hi"
    assert marked(incident(is_exercise=False), "hi") == "hi"

    chat = ConsolePlatform()
    platform = speaking(chat, exercise)
    slug = "inc-2026-0001-" + "a" * 66
    room_id = await platform.create_room(RoomSpec(name="n", slug=slug, topic="t"))
    assert chat.rooms[room_id].name == ("exercise-" + slug)[:80]
    again = await platform.create_room(RoomSpec(name="n", slug="exercise-x", topic="t"))
    assert chat.rooms[again].name == "exercise-x"
    assert isinstance(await platform.send(again, Outbound("x")), SentMessage)
