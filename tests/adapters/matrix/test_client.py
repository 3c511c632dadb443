"""The adapter's ChatPlatform methods against a real Synapse."""

from __future__ import annotations

import pytest
from nio import AsyncClient

from bot.adapters.matrix import MatrixAdapter
from bot.adapters.matrix.state import MatrixState
from bot.port import (
    Button,
    ChatPlatform,
    InboundKind,
    Outbound,
    PlatformError,
    RoomSpec,
    SentMessage,
)
from tests.adapters.matrix.conftest import MatrixWorld
from tests.adapters.matrix.support import WAIT_SECONDS, eventually, ok

pytestmark = pytest.mark.matrix

CHOICES = (
    Button("Accept", "page accept INC-2026-0001", "primary"),
    Button("Decline", "page decline INC-2026-0001", "danger"),
)


async def open_war_room(world: MatrixWorld, adapter: MatrixAdapter, **spec_fields: object) -> str:
    alice, bob = world.analysts
    fields: dict[str, object] = {
        "name": "INC-2026-0001 · Ransomware at hospital",
        "slug": "inc-2026-0001-ransomware-at-hospital",
        "topic": "Level 2 · TLP:AMBER · Containment",
        "invite": (alice.user_id, bob.user_id),
        "coordinator": alice.user_id,
    }
    fields.update(spec_fields)
    room_id = await adapter.create_room(RoomSpec(**fields))  # type: ignore[arg-type]
    await alice.join(room_id)
    await bob.join(room_id)
    return room_id


async def test_adapter_is_a_chat_platform(world: MatrixWorld) -> None:
    adapter = world.adapter()
    assert isinstance(adapter, ChatPlatform)
    assert adapter.name == "matrix"


async def test_war_room_has_name_topic_invites_and_moderator(world: MatrixWorld) -> None:
    adapter = world.adapter()
    await adapter.start()
    alice, bob = world.analysts
    room_id = await adapter.create_room(
        RoomSpec(
            name="INC-2026-0002 · Phishing wave",
            slug="inc-2026-0002-phishing-wave",
            topic="Level 1 · TLP:GREEN",
            invite=(alice.user_id, bob.user_id),
            coordinator=alice.user_id,
        )
    )
    await alice.join(room_id)

    assert (await alice.state(room_id, "m.room.name"))["name"] == "INC-2026-0002 · Phishing wave"
    assert (await alice.state(room_id, "m.room.topic"))["topic"] == "Level 1 · TLP:GREEN"
    assert (await alice.state(room_id, "m.room.join_rules"))["join_rule"] == "invite"
    assert (await alice.state(room_id, "m.room.guest_access"))["guest_access"] == "forbidden"
    history = await alice.state(room_id, "m.room.history_visibility")
    assert history["history_visibility"] == "shared"
    assert (await alice.state(room_id, "m.room.member", bob.user_id))["membership"] == "invite"
    levels = await alice.state(room_id, "m.room.power_levels")
    assert levels["users"][alice.user_id] == 50
    assert levels["invite"] == 50
    assert levels["kick"] == 50
    assert bob.user_id not in levels["users"]
    assert "m.room.encryption" not in {
        event["type"] for event in await alice.recent_events(room_id, limit=50)
    }


async def test_coordinator_can_invite_and_kick(world: MatrixWorld) -> None:
    adapter = world.adapter()
    await adapter.start()
    alice, bob = world.analysts
    room_id = await adapter.create_room(
        RoomSpec(
            name="INC", slug="inc", topic="t", invite=(alice.user_id,), coordinator=alice.user_id
        )
    )
    await alice.join(room_id)

    ok(await alice.client.room_invite(room_id, bob.user_id))
    await bob.join(room_id)
    ok(await alice.client.room_kick(room_id, bob.user_id))

    assert (await alice.state(room_id, "m.room.member", bob.user_id))["membership"] == "leave"


async def test_red_room_shows_history_only_from_the_invite(world: MatrixWorld) -> None:
    adapter = world.adapter()
    await adapter.start()
    room_id = await open_war_room(world, adapter, history_from_join=True)

    history = await world.analysts[0].state(room_id, "m.room.history_visibility")

    # Not `joined`: members invited at creation join after the headline is posted.
    assert history["history_visibility"] == "invited"


async def test_war_room_is_added_to_the_space(world: MatrixWorld) -> None:
    # The Space belongs to the bot's account, as it would in production.
    owner = AsyncClient(world.synapse.base_url, world.bot_user_id)
    owner.restore_login(world.bot_user_id, "SPACE", world.bot_token)
    try:
        space_id = ok(await owner.room_create(name="RRT incidents", space=True)).room_id
        adapter = world.adapter(space_room_id=space_id)
        await adapter.start()

        room_id = await open_war_room(world, adapter)

        parent = await world.analysts[0].state(room_id, "m.space.parent", space_id)
        assert parent == {"via": ["rrt.test"], "canonical": True}
        child = ok(await owner.room_get_state_event(space_id, "m.space.child", room_id))
        assert child.content == {"via": ["rrt.test"]}
    finally:
        await owner.close()


async def test_send_edit_and_pin_headline(world: MatrixWorld) -> None:
    adapter = world.adapter()
    await adapter.start()
    room_id = await open_war_room(world, adapter)
    alice = world.analysts[0]

    sent = await adapter.send(room_id, Outbound("Headline: encryption spreading"))
    await adapter.edit(sent, Outbound("Headline: contained on 3 hosts"))
    await adapter.pin(sent)
    await adapter.pin(sent)

    assert sent == SentMessage(room_id=room_id, message_id=sent.message_id)
    latest = await alice.recent_events(room_id)
    edit = next(event for event in latest if event["type"] == "m.room.message")
    assert edit["content"]["m.relates_to"] == {"rel_type": "m.replace", "event_id": sent.message_id}
    assert edit["content"]["m.new_content"]["body"] == "Headline: contained on 3 hosts"
    assert (await alice.state(room_id, "m.room.pinned_events"))["pinned"] == [sent.message_id]


async def test_a_pin_reads_nothing_and_keeps_the_pins_someone_else_set(
    world: MatrixWorld,
) -> None:
    requests: list[str] = []
    adapter = world.adapter(on_request=requests.append)
    await adapter.start()
    room_id = await open_war_room(world, adapter)
    alice = world.analysts[0]
    hers = await alice.say(room_id, "Ransom note, as found")
    ok(await alice.client.room_put_state(room_id, "m.room.pinned_events", {"pinned": [hers]}))
    await eventually(
        lambda: _seen(MatrixState(world.store).pinned(room_id) == [hers]),
        "the bot to see her pin",
        WAIT_SECONDS,
    )

    requests.clear()
    sent = await adapter.send(room_id, Outbound("Headline"))
    await adapter.pin(sent)
    await adapter.pin(sent)

    made = [what for what in requests if what != "sync"]
    assert made == ["send m.room.message", "set m.room.pinned_events"]
    pinned = await alice.state(room_id, "m.room.pinned_events")
    assert pinned["pinned"] == [hers, sent.message_id]


async def _seen(condition: bool) -> bool | None:
    return True if condition else None


async def test_set_topic_invite_and_remove(world: MatrixWorld) -> None:
    adapter = world.adapter()
    await adapter.start()
    alice, bob = world.analysts
    room_id = await adapter.create_room(
        RoomSpec(name="INC", slug="inc", topic="old", invite=(alice.user_id,))
    )
    await alice.join(room_id)

    await adapter.set_topic(room_id, "Level 3 · TLP:RED")
    await adapter.invite(room_id, bob.user_id)
    await bob.join(room_id)
    await adapter.invite(room_id, bob.user_id)  # already a member: not an error
    await adapter.remove(room_id, bob.user_id)

    assert (await alice.state(room_id, "m.room.topic"))["topic"] == "Level 3 · TLP:RED"
    assert (await alice.state(room_id, "m.room.member", bob.user_id))["membership"] == "leave"


async def test_errors_become_platform_errors(world: MatrixWorld) -> None:
    adapter = world.adapter()
    await adapter.start()

    with pytest.raises(PlatformError) as raised:
        await adapter.send("!nowhere:rrt.test", Outbound("hello"))

    assert raised.value.code == "M_FORBIDDEN"


async def test_buttons_are_numbered_options(world: MatrixWorld) -> None:
    adapter = world.adapter()
    await adapter.start()
    room_id = await open_war_room(world, adapter)

    sent = await adapter.send(room_id, Outbound("You are paged for INC-2026-0001.", CHOICES))

    event = next(
        event
        for event in await world.analysts[0].recent_events(room_id)
        if event["event_id"] == sent.message_id
    )
    assert "1️⃣ Accept\n2️⃣ Decline" in event["content"]["body"]
    assert "<b>Decline</b>" in event["content"]["formatted_body"]


async def test_numbered_reply_and_keycap_reaction_are_clicks(world: MatrixWorld) -> None:
    adapter = world.adapter()
    await adapter.start()
    room_id = await open_war_room(world, adapter)
    alice, bob = world.analysts
    sent = await adapter.send(room_id, Outbound("You are paged.", CHOICES))

    await alice.reply(room_id, sent.message_id, "2")
    await bob.react(room_id, sent.message_id, "1️⃣")
    await bob.react(room_id, sent.message_id, "❌")

    [by_alice] = await world.inbox.wait_for_actions(alice.user_id, 1)
    assert (by_alice.kind, by_alice.text) == (InboundKind.BUTTON, "page decline INC-2026-0001")
    assert by_alice.target_message_id == sent.message_id
    by_bob = await world.inbox.wait_for_actions(bob.user_id, 2)
    assert [(i.kind, i.text, i.target_message_id) for i in by_bob] == [
        (InboundKind.BUTTON, "page accept INC-2026-0001", sent.message_id),
        (InboundKind.BUTTON, "page decline INC-2026-0001", sent.message_id),
    ]


async def test_direct_room_is_reused(world: MatrixWorld) -> None:
    adapter = world.adapter()
    await adapter.start()
    alice = world.analysts[0]

    first = await adapter.send_direct(alice.user_id, Outbound("You are on call."))
    second = await adapter.send_direct(alice.user_id, Outbound("Still on call."))

    assert first.room_id == second.room_id
    invites = await alice.invited_rooms()
    assert list(invites) == [first.room_id]
    await alice.join(first.room_id)
    member = await alice.state(first.room_id, "m.room.member", alice.user_id)
    assert member["membership"] == "join"
    await alice.say(first.room_id, "status")
    [direct] = await world.inbox.wait_for_actions(alice.user_id, 1)
    assert (direct.kind, direct.text, direct.is_direct) == (InboundKind.TEXT, "status", True)


async def test_upload_file_posts_an_m_file(world: MatrixWorld) -> None:
    adapter = world.adapter()
    await adapter.start()
    room_id = await open_war_room(world, adapter)
    alice = world.analysts[0]
    report = b"%PDF-1.4 incident report"

    await adapter.upload_file(room_id, "report.pdf", report, "application/pdf", "Final report")

    event = next(
        event for event in await alice.recent_events(room_id) if event["type"] == "m.room.message"
    )
    content = event["content"]
    assert content["msgtype"] == "m.file"
    assert (content["body"], content["filename"]) == ("Final report", "report.pdf")
    assert content["info"] == {"mimetype": "application/pdf", "size": len(report)}
    downloaded = ok(await alice.client.download(mxc=content["url"]))
    assert downloaded.body == report


async def test_password_login_keeps_its_device_between_restarts(world: MatrixWorld) -> None:
    first = world.adapter(access_token=None, password="bot-password")
    await first.start()
    await first.stop()
    second = world.adapter(access_token=None, password="bot-password")
    await second.start()

    device_id = world.store.get("matrix:device_id")
    assert device_id
    owner = AsyncClient(world.synapse.base_url, world.bot_user_id)
    owner.restore_login(world.bot_user_id, "CHECK", world.bot_token)
    try:
        devices = ok(await owner.devices()).devices
    finally:
        await owner.close()
    # One device from registration, one for the bot however often it starts.
    assert len(devices) == 2
    assert device_id in {device.id for device in devices}
    room_id = await open_war_room(world, second)
    await world.analysts[0].say(room_id, "!incident status")
    [status] = await world.inbox.wait_for_actions(world.analysts[0].user_id, 1)
    assert status.text == "status"
