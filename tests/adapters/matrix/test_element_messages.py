"""What an Element-style client sends over the raw Matrix API, on a real Synapse: option keys
past ten, an answer in a thread (answered in that thread), an edited answer (the changed
answer), Markdown shown as HTML, and the war room's moderator rights following the
coordinator role.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.adapters.matrix.keycaps import OPTION_KEYS
from bot.bootstrap import Bot
from bot.core.clock import FakeClock
from config.triage import load_questionnaire
from tests.adapters.matrix.conftest import Team
from tests.adapters.matrix.support import Analyst, RoomWatch, eventually, ok
from tests.adapters.matrix.test_end_to_end import (
    START,
    WAIT_SECONDS,
    answer_page,
    join_when_invited,
)

pytestmark = pytest.mark.matrix

TITLE = "Phishing wave"
WAR_ROOM_NAME = f"INC-2026-0001 · {TITLE}"
MODERATOR = 50


def option_key(question_id: str, number: int) -> str:
    question = load_questionnaire().question(question_id)
    assert question is not None
    return [option.key for option in question.options][number - 1]


async def bob_declares(team: Team) -> RoomWatch:
    """An analyst (no coordinator) declares; the war room as he sees it, once he joined."""
    bob = team.bob
    lobby = await bob.open_room(team.bot_user_id)

    async def bot_joined() -> bool | None:
        members = ok(await bob.client.joined_members(lobby)).members
        return True if any(m.user_id == team.bot_user_id for m in members) else None

    await eventually(bot_joined, "the bot to join the lobby", WAIT_SECONDS)
    await bob.say(lobby, f"!incident declare {TITLE}")
    war_room = await join_when_invited(bob, WAR_ROOM_NAME)
    return RoomWatch(bob, war_room, team.bot_user_id, WAIT_SECONDS)


async def in_thread(member: Analyst, room_id: str, root: str, body: str) -> str:
    """A message in the thread of `root`, as Element sends it."""
    relation = {
        "rel_type": "m.thread",
        "event_id": root,
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": root},
    }
    return await member.say(room_id, body, **{"m.relates_to": relation})


async def edit(member: Analyst, room_id: str, original: str, body: str) -> str:
    """An edit as Element sends it: the new content apart, without the reply relation."""
    return await member.say(
        room_id,
        f"* {body}",
        **{
            "m.new_content": {"msgtype": "m.text", "body": body},
            "m.relates_to": {"rel_type": "m.replace", "event_id": original},
        },
    )


async def power_levels(member: Analyst, room_id: str) -> dict[str, Any]:
    return await member.state(room_id, "m.room.power_levels")


def answer_of(bot: Bot, question_id: str) -> str | None:
    incident = bot.store.get("INC-2026-0001")
    assert incident is not None
    answer = incident.answers.get(question_id)
    return answer.option if answer else None


async def test_threads_edits_keys_and_markdown_from_an_element_client(team: Team) -> None:
    bot, adapter = await team.start_bot(FakeClock(START))
    try:
        watch = await bob_declares(team)
        bob, room = team.bob, watch.room_id

        q1 = await watch.question("Q1")
        lines = q1["content"]["body"].split("\n")[-13:]  # an option a line, then the hint
        assert [line.split(" ", 1)[0] for line in lines[:12]] == list(OPTION_KEYS[:12])
        assert lines[11:] == ["🕛 Unknown", "Reply with a number or react with it."]
        assert "🕚 <b>" in q1["content"]["formatted_body"]
        await bob.react(room, q1["event_id"], "🕚")
        await watch.message_with(f"Q1 → {option_key('Q1', 11)} (answered by Bob Peeters).")

        q2 = await watch.question("Q2")
        assert "<code>declared</code>" in q2["content"]["formatted_body"]
        assert "`declared`" in q2["content"]["body"]
        await in_thread(bob, room, q2["event_id"], "1")
        said = await watch.message_with("Q2 → declared (answered by Bob Peeters).")
        relation = said["content"]["m.relates_to"]
        assert (relation["rel_type"], relation["event_id"]) == ("m.thread", q2["event_id"])
        assert relation["is_falling_back"] is True
        assert relation["m.in_reply_to"] == {"event_id": q2["event_id"]}

        q3 = await watch.question("Q3")
        first = await bob.reply(room, q3["event_id"], "2")
        await watch.message_with(f"Q3 → {option_key('Q3', 2)} (answered by Bob Peeters).")
        await edit(bob, room, first, "3")
        changed = await watch.message_with(f"Q3 → {option_key('Q3', 3)} (answered by Bob Peeters).")
        assert "m.relates_to" not in changed["content"]  # the reply was in the main timeline
        assert answer_of(bot, "Q3") == option_key("Q3", 3)

        note = await bob.say(room, "!incident note first")
        await watch.message_with("Noted in INC-2026-0001.")
        await edit(bob, room, note, "!incident note second")  # an edited command is not run
        await bob.say(room, "!incident note third")

        async def noted_twice() -> bool | None:
            said = [m for m in await watch.messages() if m["content"]["body"].startswith("Noted")]
            return True if len(said) == 2 else None

        await eventually(noted_twice, "the third note", WAIT_SECONDS)
        log = bot.store.log("INC-2026-0001")
        assert [r.event.data["text"] for r in log if r.event.kind == "note"] == ["first", "third"]
    finally:
        await adapter.stop()
        bot.close()


async def test_the_coordinator_who_accepts_is_the_war_rooms_moderator_until_released(
    team: Team,
) -> None:
    bot, adapter = await team.start_bot(FakeClock(START))
    try:
        watch = await bob_declares(team)
        bob, room, alice = team.bob, watch.room_id, team.alice
        assert alice.user_id not in (await power_levels(bob, room))["users"]

        await answer_page(team, "alice", "coordinator", True, "reaction")
        await join_when_invited(alice, WAR_ROOM_NAME)

        async def moderator() -> bool | None:
            users = (await power_levels(bob, room))["users"]
            return True if users.get(alice.user_id) == MODERATOR else None

        await eventually(moderator, "the coordinator to be a moderator", WAIT_SECONDS)
        ok(await alice.client.room_invite(room, team.carla.user_id))  # she can run the room

        await alice.say(room, "!incident release alice")
        released = await watch.message_with("Alice Martin released from coordinator.")
        html = released["content"]["formatted_body"]
        assert "<code>page &lt;person&gt; as coordinator</code>" in html

        async def demoted() -> dict[str, Any] | None:
            levels = await power_levels(bob, room)
            return None if alice.user_id in levels["users"] else levels

        levels = await eventually(demoted, "the coordinator's rights taken back", WAIT_SECONDS)
        assert levels["users"].get(team.bot_user_id, 100) == 100
    finally:
        await adapter.stop()
        bot.close()
