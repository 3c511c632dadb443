"""The console platform keeps its rooms in a KeyValue store and finds them again."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.console import ConsolePlatform
from bot.effects import perform
from bot.port import Button, Inbound, Outbound, PlatformError, RoomSpec
from storage.sql_store import open_store


async def test_rooms_and_messages_outlive_the_platform_object(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'chat.db'}")
    try:
        first = ConsolePlatform(state=store.kv)
        room = await first.create_room(
            RoomSpec(name="INC · Probe", slug="inc-probe", topic="TLP:AMBER", invite=("alice",))
        )
        sent = await first.send(room, Outbound(text="Q1?", buttons=(Button("Yes", "answer Q1 1"),)))
        await first.pin(sent)
        await first.send_direct("bob", Outbound(text="paged"))
        await first.upload_file(room, "r.md", b"\x00report", "text/markdown", "Report")

        again = ConsolePlatform(state=store.kv)
        assert again.lobby == first.lobby
        restored = again.rooms[room]
        assert restored.members == {"bot", "alice"}
        assert restored.topic == "TLP:AMBER"
        assert restored.pinned == [sent.message_id]
        assert restored.files == [("r.md", b"\x00report", "text/markdown")]
        assert again.messages[sent.message_id].buttons == (("Yes", "answer Q1 1"),)
        direct = again.direct_room("bob")
        assert direct is not None
        assert [m.text for m in direct.messages] == ["paged"]
        newer = await again.send(room, Outbound(text="next"))
        assert newer.message_id not in first.messages  # ids are never handed out twice
        with pytest.raises(PlatformError) as unknown:
            await again.send("room-999", Outbound(text="nobody"))
        assert unknown.value.code == "channel_not_found"
    finally:
        store.close()


async def test_an_event_delivered_again_keeps_its_id() -> None:
    seen: list[str] = []

    async def record(inbound: Inbound) -> None:
        seen.append(inbound.event_id)

    chat = ConsolePlatform(on_inbound=record)
    await chat.say("alice", chat.lobby, "status", event_id="script-3")
    await chat.say("alice", chat.lobby, "status", event_id="script-3")
    await chat.say("alice", chat.lobby, "status")
    assert seen[:2] == ["script-3", "script-3"]
    assert seen[2].startswith("msg-")


async def test_moderators_are_set_as_a_whole_and_kept(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'chat.db'}")
    try:
        chat = ConsolePlatform(state=store.kv)
        spec = RoomSpec(name="INC · Probe", slug="inc-probe", topic="t", coordinator="alice")
        room = await chat.create_room(spec)

        await perform(chat, "set_moderators", {"room_id": room, "user_ids": ["bob"]})
        assert chat.rooms[room].moderators == {"bob"}
        await chat.set_moderators(room, ())

        assert chat.rooms[room].moderators == set()
        assert ConsolePlatform(state=store.kv).rooms[room].moderators == set()
        assert chat.text().splitlines()[-2:] == [
            "[#inc-probe] *: moderators: bob",
            "[#inc-probe] *: moderators: none",
        ]
    finally:
        store.close()
