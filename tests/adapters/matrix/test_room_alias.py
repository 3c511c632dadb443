"""The war room's alias under a delivery key, and what the adapter reads of a found room."""

from __future__ import annotations

from bot.adapters.matrix.rooms import made_by_and_joined, room_alias_name, room_create_arguments
from bot.port import RoomSpec

BOT = "@rrt:rrt.test"
SPEC = RoomSpec(name="INC-2026-0007 · Ransomware", slug="inc-2026-0007-ransomware", topic="t")


def test_the_alias_is_stable_opaque_and_the_bots_own() -> None:
    alias = room_alias_name(BOT, "matrix:$declared#1")

    assert alias == room_alias_name(BOT, "matrix:$declared#1")
    assert alias.startswith("rrt-")
    assert len(alias) == len("rrt-") + 24
    assert set(alias.removeprefix("rrt-")) <= set("0123456789abcdef")  # nothing of the incident
    assert alias != room_alias_name(BOT, "matrix:$declared#2")
    assert alias != room_alias_name("@other:rrt.test", "matrix:$declared#1")


def test_the_alias_is_asked_for_only_when_given() -> None:
    common = {"bot_user_id": BOT, "room_version": "12", "encrypt": False, "space": None}

    plain = room_create_arguments(SPEC, **common)  # type: ignore[arg-type]
    keyed = room_create_arguments(SPEC, **common, alias="rrt-0123")  # type: ignore[arg-type]

    assert "alias" not in plain
    assert keyed == {**plain, "alias": "rrt-0123"}


def test_made_by_and_joined_reads_the_create_event_and_the_bots_membership() -> None:
    create = {"type": "m.room.create", "state_key": "", "sender": BOT, "content": {}}
    joined = {
        "type": "m.room.member",
        "state_key": BOT,
        "sender": BOT,
        "content": {"membership": "join"},
    }
    left = {**joined, "content": {"membership": "leave"}}
    someone = {**joined, "state_key": "@alice:rrt.test", "sender": "@alice:rrt.test"}

    assert made_by_and_joined([create, joined], BOT) == (True, True)
    assert made_by_and_joined([create, left, someone], BOT) == (True, False)
    assert made_by_and_joined([{**create, "sender": "@alice:rrt.test"}, joined], BOT) == (
        False,
        True,
    )
    assert made_by_and_joined([], BOT) == (False, False)
