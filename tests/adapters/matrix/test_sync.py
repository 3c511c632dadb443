"""The sync loop against a real Synapse: delivery, restarts, invites."""

from __future__ import annotations

import asyncio

import pytest

from bot.port import Inbound, InboundKind, Outbound, RoomSpec
from tests.adapters.matrix.conftest import MatrixWorld
from tests.adapters.matrix.support import Analyst, ok

pytestmark = pytest.mark.matrix


async def war_room(world: MatrixWorld) -> str:
    adapter = world.adapters[-1]
    alice, bob = world.analysts
    room_id = await adapter.create_room(
        RoomSpec(name="INC", slug="inc", topic="t", invite=(alice.user_id, bob.user_id))
    )
    await alice.join(room_id)
    await bob.join(room_id)
    return room_id


def texts(inbounds: list[Inbound]) -> list[str]:
    return [inbound.text for inbound in inbounds]


async def test_declare_command_reaches_the_handler(world: MatrixWorld) -> None:
    await world.adapter().start()
    room_id = await war_room(world)
    alice = world.analysts[0]

    event_id = await alice.say(room_id, "!incident declare Ransomware")

    [declared] = await world.inbox.wait_for_actions(alice.user_id, 1)
    assert declared == Inbound(
        platform="matrix",
        event_id=event_id,
        kind=InboundKind.TEXT,
        user_id=alice.user_id,
        room_id=room_id,
        text="declare Ransomware",
    )


async def test_slash_command_and_chatter(world: MatrixWorld) -> None:
    await world.adapter().start()
    room_id = await war_room(world)
    alice = world.analysts[0]

    await alice.say(room_id, "coffee anyone?")
    await alice.say(room_id, "/incident status")

    [status] = await world.inbox.wait_for_actions(alice.user_id, 1)
    assert (status.kind, status.text) == (InboundKind.TEXT, "status")


async def test_joining_members_are_announced(world: MatrixWorld) -> None:
    await world.adapter().start()
    room_id = await war_room(world)

    joined = await world.inbox.wait_for(lambda i: i.user_id == world.analysts[1].user_id)

    assert (joined.kind, joined.room_id) == (InboundKind.JOINED, room_id)


async def test_bot_ignores_its_own_messages(world: MatrixWorld) -> None:
    adapter = world.adapter()
    await adapter.start()
    room_id = await war_room(world)
    alice = world.analysts[0]

    await adapter.send(room_id, Outbound("!incident declare Loop"))
    await alice.say(room_id, "!incident help")

    await world.inbox.wait_for_actions(alice.user_id, 1)
    assert [i for i in world.inbox.received if i.user_id == world.bot_user_id] == []
    assert "declare Loop" not in texts(world.inbox.received)


async def test_events_sent_while_stopped_arrive_once_after_restart(world: MatrixWorld) -> None:
    first = world.adapter()
    await first.start()
    room_id = await war_room(world)
    alice = world.analysts[0]
    await alice.say(room_id, "!incident note before")
    await world.inbox.wait_for_actions(alice.user_id, 1)
    await first.stop()

    for number in range(1, 6):
        await alice.say(room_id, f"!incident note while down {number}")
    # A short timeline forces paging back for the events it leaves out.
    second = world.adapter(timeline_limit=2)
    await second.start()
    await second.stop()
    third = world.adapter()
    await third.start()

    assert texts(world.inbox.actions_of(alice.user_id)) == [
        "note before",
        *(f"note while down {number}" for number in range(1, 6)),
    ]
    event_ids = [inbound.event_id for inbound in world.inbox.received]
    assert len(event_ids) == len(set(event_ids))


async def test_history_before_the_bot_joined_is_not_acted_on(world: MatrixWorld) -> None:
    await world.adapter().start()
    alice, bob = world.analysts
    room_id = ok(await alice.client.room_create(name="Side room", invite=[bob.user_id])).room_id
    await alice.say(room_id, "!incident declare Old news")

    ok(await alice.client.room_invite(room_id, world.bot_user_id))
    assert await bot_membership(world, alice, room_id) == "join"
    await alice.say(room_id, "!incident declare Fresh")

    await world.inbox.wait_for(lambda i: i.text == "declare Fresh")
    assert "declare Old news" not in texts(world.inbox.received)


async def test_invites_are_accepted_only_from_allowed_senders(world: MatrixWorld) -> None:
    alice, bob = world.analysts
    adapter = world.adapter(accept_invite_from=lambda sender: sender == alice.user_id)
    await adapter.start()
    from_alice = ok(await alice.client.room_create(name="Ask the bot")).room_id
    from_bob = ok(await bob.client.room_create(name="Stranger")).room_id

    ok(await bob.client.room_invite(from_bob, world.bot_user_id))
    ok(await alice.client.room_invite(from_alice, world.bot_user_id))

    assert await bot_membership(world, alice, from_alice) == "join"
    assert await bot_membership(world, bob, from_bob) == "leave"


async def bot_membership(world: MatrixWorld, analyst: Analyst, room_id: str) -> str:
    """The bot's membership once it has answered its invite (polled: the bot acts on sync)."""
    for _ in range(200):
        state = await analyst.state(room_id, "m.room.member", world.bot_user_id)
        if state["membership"] != "invite":
            return str(state["membership"])
        await asyncio.sleep(0.05)
    return "invite"


async def test_direct_invite_makes_a_direct_room(world: MatrixWorld) -> None:
    await world.adapter().start()
    alice = world.analysts[0]
    room_id = ok(await alice.client.room_create(is_direct=True, invite=[world.bot_user_id])).room_id
    assert await bot_membership(world, alice, room_id) == "join"

    await alice.say(room_id, "status")

    [status] = await world.inbox.wait_for_actions(alice.user_id, 1)
    assert (status.text, status.is_direct) == ("status", True)


async def test_adapter_survives_a_homeserver_restart(world: MatrixWorld) -> None:
    adapter = world.adapter()
    await adapter.start()
    room_id = await war_room(world)
    alice = world.analysts[0]

    await asyncio.to_thread(world.synapse.restart)
    await alice.say(room_id, "!incident status")
    sent = await adapter.send(room_id, Outbound("Still here."))

    [status] = await world.inbox.wait_for_actions(alice.user_id, 1)
    assert status.text == "status"
    assert sent.message_id.startswith("$")
