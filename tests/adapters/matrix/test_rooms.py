from __future__ import annotations

from typing import Any

from nio import RoomPreset

from bot.adapters.matrix.rooms import (
    creator_is_privileged,
    moderator_level,
    power_levels,
    room_create_arguments,
    with_moderators,
)
from bot.port import RoomSpec

BOT = "@rrt:rrt.test"
SPEC = RoomSpec(
    name="INC-2026-0007 · Ransomware",
    slug="inc-2026-0007-ransomware",
    topic="Level 3",
    invite=("@alice:rrt.test",),
    history_from_join=True,
    coordinator="@alice:rrt.test",
)


def state_types(arguments: dict[str, Any]) -> dict[tuple[str, str], object]:
    initial = arguments["initial_state"]
    assert isinstance(initial, list)
    return {(event["type"], event["state_key"]): event["content"] for event in initial}


def test_creators_are_privileged_from_version_12() -> None:
    assert [creator_is_privileged(v) for v in ("10", "11", "12", "13")] == [
        False,
        False,
        True,
        True,
    ]
    assert creator_is_privileged("org.example.custom") is False


def test_power_levels_keep_the_bot_admin_where_needed() -> None:
    assert power_levels(BOT, "@alice:rrt.test", "10")["users"] == {
        BOT: 100,
        "@alice:rrt.test": 50,
    }
    assert power_levels(BOT, "@alice:rrt.test", "12") == {
        "users": {"@alice:rrt.test": 50},
        "invite": 50,
        "kick": 50,
    }
    assert power_levels(BOT, None, "12")["users"] == {}


def test_red_room_arguments() -> None:
    arguments = room_create_arguments(
        SPEC,
        bot_user_id=BOT,
        room_version="12",
        encrypt=True,
        space=("!space:rrt.test", "rrt.test"),
    )

    assert arguments["name"] == SPEC.name
    assert arguments["topic"] == "Level 3"
    assert arguments["invite"] == ["@alice:rrt.test"]
    assert arguments["preset"] == RoomPreset.private_chat
    assert arguments["room_version"] == "12"
    assert state_types(arguments) == {
        ("m.room.guest_access", ""): {"guest_access": "forbidden"},
        ("m.room.join_rules", ""): {"join_rule": "invite"},
        # `invited`, not `joined`: the coordinator, invited here, reads the headline.
        ("m.room.history_visibility", ""): {"history_visibility": "invited"},
        ("m.room.encryption", ""): {"algorithm": "m.megolm.v1.aes-sha2"},
        ("m.space.parent", "!space:rrt.test"): {"via": ["rrt.test"], "canonical": True},
    }


def test_plain_room_arguments() -> None:
    spec = RoomSpec(name="n", slug="n", topic="t", private=False)

    arguments = room_create_arguments(
        spec, bot_user_id=BOT, room_version="10", encrypt=False, space=None
    )

    assert arguments["preset"] == RoomPreset.public_chat
    assert state_types(arguments) == {
        ("m.room.guest_access", ""): {"guest_access": "forbidden"},
        ("m.room.join_rules", ""): {"join_rule": "public"},
        ("m.room.history_visibility", ""): {"history_visibility": "shared"},
    }


ALICE, BOB, CARLA = "@alice:rrt.test", "@bob:rrt.test", "@carla:rrt.test"
# What Synapse makes of a war room's power levels (private_chat preset and our override).
ROOM_LEVELS: dict[str, Any] = {
    "users": {BOT: 100},
    "users_default": 0,
    "events_default": 0,
    "state_default": 50,
    "ban": 50,
    "kick": 50,
    "redact": 50,
    "invite": 50,
    "events": {"m.room.power_levels": 100},
}


def test_moderators_get_what_running_the_room_needs_below_the_bot() -> None:
    assert moderator_level(ROOM_LEVELS, 100) == 50
    assert moderator_level({**ROOM_LEVELS, "ban": 75}, 100) == 75
    assert moderator_level({"users": {}}, 100) == 50  # the spec's defaults
    assert moderator_level({**ROOM_LEVELS, "kick": 100}, 100) == 99  # the bot can demote them


def test_with_moderators_grants_and_takes_back_keeping_the_bot_and_others() -> None:
    granted = with_moderators({**ROOM_LEVELS, "users": {BOT: 100, CARLA: 10}}, BOT, [ALICE])
    swapped = with_moderators(granted, BOT, [BOB])

    assert granted["users"] == {BOT: 100, CARLA: 10, ALICE: 50}
    assert {k: v for k, v in granted.items() if k != "users"} == {
        k: v for k, v in ROOM_LEVELS.items() if k != "users"
    }
    assert swapped["users"] == {BOT: 100, CARLA: 10, BOB: 50}
    assert with_moderators(swapped, BOT, [])["users"] == {BOT: 100, CARLA: 10}
    assert with_moderators(granted, BOT, [ALICE]) == granted  # nothing to change


def test_with_moderators_in_a_room_the_bot_created_as_privileged_creator() -> None:
    levels = {**ROOM_LEVELS, "users": {}}  # from version 12 the creator is not listed

    assert with_moderators(levels, BOT, [ALICE, BOT])["users"] == {ALICE: 50}


def test_a_moderator_above_the_moderator_level_keeps_theirs() -> None:
    levels = {**ROOM_LEVELS, "users": {BOT: 100, ALICE: 90}}

    assert with_moderators(levels, BOT, [ALICE])["users"] == {BOT: 100, ALICE: 90}
