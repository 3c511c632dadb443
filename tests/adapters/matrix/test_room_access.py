"""A war room matches its label (policy §5), on a real Synapse, as other people find it.

Only a TLP:CLEAR room is public; every other war room is invite-only. A TLP:RED room's history
is `invited`: a member reads what was sent from their invite on. When the label changes, the
room is re-configured before the bot posts anything more in it.
"""

from __future__ import annotations

from typing import Any

import pytest
from nio import ErrorResponse, JoinError, MessageDirection

from bot.core.clock import FakeClock
from bot.port import RoomAccess, RoomSpec
from tests.adapters.matrix.conftest import MatrixWorld, Team, unique
from tests.adapters.matrix.support import Analyst, RoomWatch, eventually, ok
from tests.adapters.matrix.test_end_to_end import (
    START,
    WAIT_SECONDS,
    join_when_invited,
    lobby_with_bot,
)

pytestmark = pytest.mark.matrix

TITLE = "Phishing wave"
WAR_ROOM_NAME = f"INC-2026-0001 · {TITLE}"
HEADLINE = f"🚨 INC-2026-0001 · {TITLE}"
PAGE = 100


async def declared(team: Team, label: str | None = None) -> tuple[str, RoomWatch]:
    """(lobby, the coordinator's view of the war room): declared, and joined once invited."""
    lobby = await lobby_with_bot(team)
    option = f"--tlp {label} " if label else ""
    await team.alice.say(lobby, f"!incident declare {option}{TITLE}")
    war_room = await join_when_invited(team.alice, WAR_ROOM_NAME)
    return lobby, RoomWatch(team.alice, war_room, team.bot_user_id, WAIT_SECONDS)


def outsider(team: Team) -> Analyst:
    """Someone on the homeserver who is not on the roster."""
    user_id, token = team.synapse.register(unique("mallory"), "pw")
    return Analyst(team.synapse.base_url, user_id, token)


async def access_of(member: Analyst, room_id: str) -> tuple[str, str]:
    """(join rule, history visibility) as a member of the room reads them."""
    rule = (await member.state(room_id, "m.room.join_rules"))["join_rule"]
    history = (await member.state(room_id, "m.room.history_visibility"))["history_visibility"]
    return rule, history


async def readable(member: Analyst, room_id: str) -> list[dict[str, Any]]:
    """Every event of the room that `member` may read, oldest first (paged back to the start)."""
    events: list[dict[str, Any]] = []
    start: str | None = None
    while True:
        page = ok(
            await member.client.room_messages(
                room_id, start=start, direction=MessageDirection.back, limit=PAGE
            )
        )
        events.extend(event.source for event in page.chunk)
        if not page.chunk or not page.end or page.end == start:
            return list(reversed(events))
        start = page.end


def bodies(events: list[dict[str, Any]]) -> list[str]:
    return [e["content"].get("body", "") for e in events if e["type"] == "m.room.message"]


async def state_event_id(member: Analyst, room_id: str, event_type: str) -> str:
    """The id of the room's current `event_type` state event."""
    response = ok(await member.client.room_get_state(room_id))
    (found,) = [e["event_id"] for e in response.events if e["type"] == event_type]
    return str(found)


async def test_set_access_follows_the_label_and_repeats_harmlessly(world: MatrixWorld) -> None:
    adapter = world.adapter()
    await adapter.start()
    alice = world.analysts[0]
    room_id = await adapter.create_room(
        RoomSpec(name="INC", slug="inc", topic="t", invite=(alice.user_id,), private=True)
    )
    await alice.join(room_id)
    assert await access_of(alice, room_id) == ("invite", "shared")

    await adapter.set_access(room_id, RoomAccess.for_label("TLP:RED"))
    assert await access_of(alice, room_id) == ("invite", "invited")
    history = await state_event_id(alice, room_id, "m.room.history_visibility")
    rule = await state_event_id(alice, room_id, "m.room.join_rules")
    # Delivered again (after a crash): Synapse keeps the same state events, sends no new ones.
    await adapter.set_access(room_id, RoomAccess.for_label("TLP:RED"))
    assert await state_event_id(alice, room_id, "m.room.history_visibility") == history
    assert await state_event_id(alice, room_id, "m.room.join_rules") == rule

    await adapter.set_access(room_id, RoomAccess.for_label("TLP:AMBER"))
    assert await access_of(alice, room_id) == ("invite", "shared")
    await adapter.set_access(room_id, RoomAccess.for_label("TLP:CLEAR"))
    assert await access_of(alice, room_id) == ("public", "shared")


async def test_a_green_war_room_is_invite_only(team: Team) -> None:
    bot, adapter = await team.start_bot(FakeClock(START))
    stranger = outsider(team)
    try:
        _, watch = await declared(team, "green")
        await watch.message_with(HEADLINE)
        assert await access_of(team.alice, watch.room_id) == ("invite", "shared")

        refused = await stranger.client.join(watch.room_id)
        assert isinstance(refused, JoinError)
        assert refused.status_code == "M_FORBIDDEN"
        # Nor does a roster member get in uninvited: the coordinator brings people in.
        assert isinstance(await team.carla.client.join(watch.room_id), JoinError)
    finally:
        await stranger.client.close()
        await adapter.stop()
        bot.close()


async def test_a_clear_war_room_is_public_and_made_invite_only_when_raised(team: Team) -> None:
    bot, adapter = await team.start_bot(FakeClock(START))
    early, late = outsider(team), outsider(team)
    try:
        _, watch = await declared(team, "clear")
        await watch.message_with(HEADLINE)
        assert await access_of(team.alice, watch.room_id) == ("public", "shared")
        await early.join(watch.room_id)  # anyone on the homeserver may join a CLEAR room

        await team.alice.say(watch.room_id, "!incident tlp green")
        await watch.message_with("TLP raised from TLP:CLEAR to TLP:GREEN by Alice Martin.")
        assert await access_of(team.alice, watch.room_id) == ("invite", "shared")
        refused = await late.client.join(watch.room_id)
        assert isinstance(refused, JoinError)
        assert refused.status_code == "M_FORBIDDEN"
    finally:
        await early.client.close()
        await late.client.close()
        await adapter.stop()
        bot.close()


async def test_a_raise_to_red_hides_what_came_before_a_later_invite(team: Team) -> None:
    bot, adapter = await team.start_bot(FakeClock(START))
    alice, bob = team.alice, team.bob
    try:
        _, watch = await declared(team)  # TLP:AMBER
        await watch.message_with(HEADLINE)
        await watch.question("Q1")
        assert await access_of(alice, watch.room_id) == ("invite", "shared")

        command = await alice.say(watch.room_id, "!incident tlp red")
        raised = await watch.message_with("TLP raised from TLP:AMBER to TLP:RED by Alice Martin.")
        assert await access_of(alice, watch.room_id) == ("invite", "invited")

        async def red_topic() -> bool | None:
            topic = await alice.state(watch.room_id, "m.room.topic")
            return True if topic["topic"].startswith("TLP:RED") else None

        await eventually(red_topic, "the topic to show TLP:RED", WAIT_SECONDS)
        # The room was re-configured before the bot posted anything of the raise in it (what
        # the declaration still had on its way may come in between).
        events = await readable(alice, watch.room_id)
        ids = [event["event_id"] for event in events]
        changed = [e for e in events if e["type"] == "m.room.history_visibility"][-1]
        assert changed["content"] == {"history_visibility": "invited"}
        assert changed["sender"] == team.bot_user_id
        assert ids.index(command) < ids.index(changed["event_id"]) < ids.index(raised["event_id"])
        assert changed["origin_server_ts"] <= raised["origin_server_ts"]
        of_the_raise = [
            ids.index(e["event_id"])
            for e in events[ids.index(command) + 1 :]
            if e["sender"] == team.bot_user_id and "TLP:RED" in str(e["content"])
        ]
        assert len(of_the_raise) >= 3  # the reply, the headline's edit, the topic
        assert min(of_the_raise) > ids.index(changed["event_id"])

        between = await alice.say(watch.room_id, "Between the raise and Bob's invite.")
        ok(await alice.client.room_invite(watch.room_id, bob.user_id))  # alice is a moderator
        await join_when_invited(bob, WAR_ROOM_NAME)
        await alice.say(watch.room_id, "!incident note Bob is in")
        noted = await watch.message_with("Noted in INC-2026-0001.")

        seen = await readable(bob, watch.room_id)
        seen_ids = {event["event_id"] for event in seen}
        assert noted["event_id"] in seen_ids
        assert not {raised["event_id"], between} & seen_ids
        assert "Between the raise and Bob's invite." not in bodies(seen)
        # A known gap: what was sent while the room was `shared` (up to the raise, the command
        # included) stays readable to whoever joins later, since Matrix applies the history
        # visibility in force at each event. Raising to RED hides only what comes after.
        assert command in seen_ids
    finally:
        await adapter.stop()
        bot.close()


async def test_the_coordinator_reads_a_red_war_room_from_its_start(team: Team) -> None:
    bot, adapter = await team.start_bot(FakeClock(START))
    stranger = outsider(team)
    try:
        lobby, watch = await declared(team, "red")
        lobby_watch = RoomWatch(team.alice, lobby, team.bot_user_id, WAIT_SECONDS)
        await lobby_watch.message_with("Declared INC-2026-0001 (TLP:RED); you are invited")
        headline = await watch.message_with(HEADLINE)
        first = await watch.question("Q1")
        said = bodies(await readable(team.alice, watch.room_id))
        assert said[0] == headline["content"]["body"]
        assert first["content"]["body"] in said
        assert await access_of(team.alice, watch.room_id) == ("invite", "invited")
        pinned = await team.alice.state(watch.room_id, "m.room.pinned_events")
        assert pinned["pinned"] == [headline["event_id"]]
        refused = await stranger.client.join(watch.room_id)
        assert isinstance(refused, ErrorResponse)

        # Someone invited later reads from their invite on, not the room's start.
        ok(await team.alice.client.room_invite(watch.room_id, team.bob.user_id))
        await join_when_invited(team.bob, WAR_ROOM_NAME)
        await team.alice.say(watch.room_id, "!incident note Bob is in")
        noted = await watch.message_with("Noted in INC-2026-0001.")
        seen = {event["event_id"] for event in await readable(team.bob, watch.room_id)}
        assert noted["event_id"] in seen
        assert not {headline["event_id"], first["event_id"]} & seen
    finally:
        await stranger.client.close()
        await adapter.stop()
        bot.close()
