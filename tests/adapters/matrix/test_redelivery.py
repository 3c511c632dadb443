"""Delivering an effect again (its result never recorded) repeats nothing on the homeserver.

Each test sets `delivery_key` as `bot.delivery` does and calls the adapter twice, or after an
earlier attempt whose answer the adapter never saw, against the real Synapse.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import pytest
from nio import AsyncClient, RoomPreset

from bot.adapters.matrix import MatrixAdapter
from bot.adapters.matrix.rooms import room_alias_name
from bot.port import Outbound, PlatformError, RoomSpec, delivery_key
from tests.adapters.matrix.conftest import MatrixWorld
from tests.adapters.matrix.support import ok

pytestmark = pytest.mark.matrix

TEXT = "🚨 INC-2026-0001 · Ransomware at hospital"


@contextmanager
def delivering(key: str) -> Iterator[None]:
    token = delivery_key.set(key)
    try:
        yield
    finally:
        delivery_key.reset(token)


@asynccontextmanager
async def bot_account(world: MatrixWorld) -> AsyncIterator[AsyncClient]:
    """The bot's own account on another device: the Space's owner, or an earlier process."""
    client = AsyncClient(world.synapse.base_url, world.bot_user_id)
    client.restore_login(world.bot_user_id, "ELSEWHERE", world.bot_token)
    try:
        yield client
    finally:
        await client.close()


def war_room(world: MatrixWorld) -> RoomSpec:
    alice, bob = world.analysts
    return RoomSpec(
        name="INC-2026-0001 · Ransomware at hospital",
        slug="inc-2026-0001-ransomware-at-hospital",
        topic="Level 2 · TLP:AMBER",
        invite=(alice.user_id, bob.user_id),
        coordinator=alice.user_id,
    )


async def joined_rooms(client: AsyncClient) -> set[str]:
    return set(ok(await client.joined_rooms()).rooms)


async def bodies(world: MatrixWorld, room_id: str) -> list[str]:
    alice = world.analysts[0]
    return [m["content"]["body"] for m in await alice.bot_messages(room_id, world.bot_user_id)]


async def open_room(world: MatrixWorld, adapter: MatrixAdapter) -> str:
    alice = world.analysts[0]
    room_id = await adapter.create_room(
        RoomSpec(name="INC", slug="inc", topic="t", invite=(alice.user_id,))
    )
    await alice.join(room_id)
    return room_id


async def test_a_message_sent_again_under_its_key_is_posted_once(world: MatrixWorld) -> None:
    adapter = world.adapter()
    await adapter.start()
    room_id = await open_room(world, adapter)

    with delivering("k1"):
        first = await adapter.send(room_id, Outbound(TEXT))
        second = await adapter.send(room_id, Outbound(TEXT))
    await adapter.stop()
    restarted = world.adapter()  # the process that delivers after a crash: the same device
    await restarted.start()
    with delivering("k1"):
        third = await restarted.send(room_id, Outbound(TEXT))

    assert first == second == third
    assert await bodies(world, room_id) == [TEXT]


async def test_only_the_same_key_makes_a_send_a_repeat(world: MatrixWorld) -> None:
    adapter = world.adapter()
    await adapter.start()
    room_id = await open_room(world, adapter)

    with delivering("k1"):
        first = await adapter.send(room_id, Outbound(TEXT))
    with delivering("k2"):
        second = await adapter.send(room_id, Outbound(TEXT))
    unkeyed = [await adapter.send(room_id, Outbound(TEXT)) for _ in range(2)]

    assert len({first, second, *unkeyed}) == 4
    assert await bodies(world, room_id) == [TEXT] * 4


async def test_a_room_created_again_under_its_key_is_the_same_room(world: MatrixWorld) -> None:
    alice, bob = world.analysts
    async with bot_account(world) as owner:
        space_id = ok(await owner.room_create(name="RRT incidents", space=True)).room_id
        adapter = world.adapter(space_room_id=space_id)
        await adapter.start()
        before = await joined_rooms(owner)

        with delivering("k1"):
            first = await adapter.create_room(war_room(world))
        # As if the first delivery had stopped before adding the room to the Space.
        ok(await owner.room_put_state(space_id, "m.space.child", {}, state_key=first))
        with delivering("k1"):
            second = await adapter.create_room(war_room(world))

        assert second == first
        assert await joined_rooms(owner) == before | {first}
        child = ok(await owner.room_get_state_event(space_id, "m.space.child", first))
        assert child.content == {"via": ["rrt.test"]}
    assert list(await alice.invited_rooms()) == [first]
    assert list(await bob.invited_rooms()) == [first]


async def test_the_room_keeps_its_privacy_and_its_alias_says_nothing(world: MatrixWorld) -> None:
    adapter = world.adapter()
    await adapter.start()
    alice = world.analysts[0]

    with delivering("k1"):
        room_id = await adapter.create_room(war_room(world))
    await alice.join(room_id)

    alias = (await alice.state(room_id, "m.room.canonical_alias"))["alias"]
    assert alias == f"#{room_alias_name(world.bot_user_id, 'k1')}:rrt.test"
    assert alias.startswith("#rrt-")
    assert "inc" not in alias.removeprefix("#rrt-").split(":")[0].lower()
    assert (await alice.state(room_id, "m.room.join_rules"))["join_rule"] == "invite"
    assert (await alice.state(room_id, "m.room.guest_access"))["guest_access"] == "forbidden"
    history = await alice.state(room_id, "m.room.history_visibility")
    assert history["history_visibility"] == "shared"
    levels = await alice.state(room_id, "m.room.power_levels")
    assert (levels["users"][alice.user_id], levels["invite"], levels["kick"]) == (50, 50, 50)
    public = ok(await alice.client.room_get_visibility(room_id))
    assert public.visibility == "private"  # not listed in the room directory


async def test_the_room_an_unanswered_attempt_made_is_taken_up(world: MatrixWorld) -> None:
    """The earlier attempt's `createRoom` succeeded, but its answer never reached the bot."""
    async with bot_account(world) as earlier:
        space_id = ok(await earlier.room_create(name="RRT incidents", space=True)).room_id
        made = ok(
            await earlier.room_create(
                alias=room_alias_name(world.bot_user_id, "k1"),
                name="INC-2026-0001 · Ransomware at hospital",
                preset=RoomPreset.private_chat,
            )
        ).room_id
        adapter = world.adapter(space_room_id=space_id)
        await adapter.start()
        before = await joined_rooms(earlier)

        with delivering("k1"):
            room_id = await adapter.create_room(war_room(world))

        assert room_id == made
        assert await joined_rooms(earlier) == before
        child = ok(await earlier.room_get_state_event(space_id, "m.space.child", made))
        assert child.content == {"via": ["rrt.test"]}


async def test_a_room_the_bot_is_not_yet_in_is_waited_for(world: MatrixWorld) -> None:
    """The alias already names a room whose creator has not joined it yet (a `createRoom`
    still in flight): the bot looks again, backing off, until it is in."""
    async with bot_account(world) as earlier:
        made = ok(
            await earlier.room_create(
                alias=room_alias_name(world.bot_user_id, "k1"), preset=RoomPreset.public_chat
            )
        ).room_id
        await world.analysts[0].join(made)  # keeps the room alive while the bot is out
        ok(await earlier.room_leave(made))
        waits: list[float] = []

        async def sleep(seconds: float) -> None:
            waits.append(seconds)
            if len(waits) == 1:
                ok(await earlier.join(made))

        adapter = world.adapter(sleep=sleep)
        await adapter.start()
        with delivering("k1"):
            room_id = await adapter.create_room(war_room(world))

    assert room_id == made
    assert waits == [0.05]


async def test_an_alias_taken_by_someone_else_is_refused(world: MatrixWorld) -> None:
    adapter = world.adapter()
    await adapter.start()
    alice = world.analysts[0]
    squatted = ok(
        await alice.client.room_create(
            alias=room_alias_name(world.bot_user_id, "k1"), preset=RoomPreset.public_chat
        )
    ).room_id
    async with bot_account(world) as bot:
        before = await joined_rooms(bot)
        ok(await bot.join(squatted))  # even with the bot inside, it is not the bot's room

        with delivering("k1"), pytest.raises(PlatformError) as refused:
            await adapter.create_room(war_room(world))

        assert refused.value.code == "M_ROOM_IN_USE"
        assert "did not create" in refused.value.detail
        assert await joined_rooms(bot) == before | {squatted}
