from __future__ import annotations

from typing import Any

from nio import RoomPreset

from bot.adapters.matrix.rooms import creator_is_privileged, power_levels, room_create_arguments
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
