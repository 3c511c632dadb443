"""The single `createRoom` request for a war room: privacy, history, moderators, Space."""

from __future__ import annotations

from typing import Any

from nio import RoomPreset

from bot.port import RoomSpec

MODERATOR = 50
ADMIN = 100
MEGOLM = "m.megolm.v1.aes-sha2"
# From room version 12 on, creators outrank every power level and must not be listed in it.
FIRST_CREATOR_PRIVILEGED_VERSION = 12


def creator_is_privileged(room_version: str) -> bool:
    return room_version.isdecimal() and int(room_version) >= FIRST_CREATOR_PRIVILEGED_VERSION


def _state(event_type: str, content: dict[str, Any], state_key: str = "") -> dict[str, Any]:
    return {"type": event_type, "state_key": state_key, "content": content}


def encryption_state() -> dict[str, Any]:
    return _state("m.room.encryption", {"algorithm": MEGOLM})


def power_levels(bot_user_id: str, coordinator: str | None, room_version: str) -> dict[str, Any]:
    """Overrides of the preset's power levels: moderators may invite and kick."""
    users: dict[str, int] = {}
    if not creator_is_privileged(room_version):
        users[bot_user_id] = ADMIN  # the override replaces the preset's users wholesale
    if coordinator and coordinator != bot_user_id:
        users[coordinator] = MODERATOR
    return {"users": users, "invite": MODERATOR, "kick": MODERATOR}


def room_create_arguments(
    spec: RoomSpec,
    *,
    bot_user_id: str,
    room_version: str,
    encrypt: bool,
    space: tuple[str, str] | None,  # (space room id, server name)
) -> dict[str, Any]:
    """Keyword arguments for nio's `AsyncClient.room_create`."""
    initial_state = [
        _state("m.room.guest_access", {"guest_access": "forbidden"}),
        _state(
            "m.room.history_visibility",
            {"history_visibility": "joined" if spec.history_from_join else "shared"},
        ),
    ]
    if encrypt:
        initial_state.append(encryption_state())
    if space is not None:
        space_id, server_name = space
        initial_state.append(
            _state("m.space.parent", {"via": [server_name], "canonical": True}, space_id)
        )
    return {
        "name": spec.name,
        "topic": spec.topic,
        "room_version": room_version,
        "invite": list(spec.invite),
        "initial_state": initial_state,
        "power_level_override": power_levels(bot_user_id, spec.coordinator, room_version),
        "preset": RoomPreset.private_chat if spec.private else RoomPreset.public_chat,
    }
