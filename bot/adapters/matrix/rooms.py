"""The single `createRoom` request for a war room: privacy, history, moderators, Space.

A room's access (policy §5) maps to Matrix state the same way at creation and on every later
change of label (`access_state`): a private room's join rule is `invite` (only a TLP:CLEAR
room is `public`); a TLP:RED room's history visibility is `invited`, so that a member reads
what was sent from the point they were invited on (not `joined`: a member invited at creation
joins a moment later, and would not read the headline posted in between); every other room's
is `shared`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from nio import RoomPreset

from bot.port import RoomAccess, RoomSpec

MODERATOR = 50
ADMIN = 100
MEGOLM = "m.megolm.v1.aes-sha2"
# From room version 12 on, creators outrank every power level and must not be listed in it.
FIRST_CREATOR_PRIVILEGED_VERSION = 12
ALIAS_PREFIX = "rrt-"
ALIAS_DIGITS = 24  # hex digits of the digest: 96 bits


def room_alias_name(bot_user_id: str, key: str) -> str:
    """The local part of the alias a war room is created with, from the delivery key of the
    effect that opens it: the same on every delivery of that effect, so that a second
    `createRoom` finds the alias taken instead of making a second room. A digest, so that it
    names neither the incident nor its title; the bot's account is part of it, since two bots
    on one homeserver (each with its own database) may deliver effects of the same key."""
    digest = hashlib.sha256(f"{bot_user_id}\n{key}".encode()).hexdigest()
    return ALIAS_PREFIX + digest[:ALIAS_DIGITS]


def made_by_and_joined(state: Iterable[Mapping[str, Any]], user_id: str) -> tuple[bool, bool]:
    """(whether `user_id` created the room, whether it is joined) from the room's state."""
    created = joined = False
    for event in state:
        if event.get("type") == "m.room.create":
            created = event.get("sender") == user_id
        elif event.get("type") == "m.room.member" and event.get("state_key") == user_id:
            joined = event.get("content", {}).get("membership") == "join"
    return created, joined


def creator_is_privileged(room_version: str) -> bool:
    return room_version.isdecimal() and int(room_version) >= FIRST_CREATOR_PRIVILEGED_VERSION


def _state(event_type: str, content: dict[str, Any], state_key: str = "") -> dict[str, Any]:
    return {"type": event_type, "state_key": state_key, "content": content}


def join_rule(access: RoomAccess) -> str:
    return "invite" if access.private else "public"


def history_visibility(access: RoomAccess) -> str:
    return "invited" if access.history_from_join else "shared"


def access_state(access: RoomAccess) -> list[dict[str, Any]]:
    """The state events that make a room match `access`: join rule, history visibility."""
    return [
        _state("m.room.join_rules", {"join_rule": join_rule(access)}),
        _state("m.room.history_visibility", {"history_visibility": history_visibility(access)}),
    ]


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


def _level(levels: Mapping[str, Any], name: str, default: int) -> int:
    value = levels.get(name, default)
    return value if isinstance(value, int) else default


def moderator_level(levels: Mapping[str, Any], bot_level: int) -> int:
    """The level that lets a coordinator run the room: invite, kick, ban, redact and set its
    state, as the room asks (the spec's defaults where it is silent); below the bot's own, so
    that the bot can take it back."""
    needed = max(
        MODERATOR,
        _level(levels, "invite", 0),
        *(_level(levels, name, MODERATOR) for name in ("kick", "ban", "redact", "state_default")),
    )
    return min(needed, bot_level - 1)


def with_moderators(
    levels: Mapping[str, Any], bot_user_id: str, moderators: Iterable[str]
) -> dict[str, Any]:
    """The room's `m.room.power_levels` content with exactly `moderators` as moderators.

    Whoever held the moderator level and is not among them goes back to the default level;
    everyone else, the bot first, keeps theirs (a moderator already above it too). A creator
    in room version 12 or later is not listed and outranks every level: the bot is then
    counted as an admin.
    """
    users = {
        u: held for u, held in dict(levels.get("users") or {}).items() if isinstance(held, int)
    }
    level = moderator_level(levels, users.get(bot_user_id, ADMIN))
    wanted = set(moderators) - {bot_user_id}
    kept = {user: held for user, held in users.items() if held != level or user in wanted}
    raised = {user: max(kept.get(user, level), level) for user in sorted(wanted)}
    return {**levels, "users": {**kept, **raised}}


def room_create_arguments(
    spec: RoomSpec,
    *,
    bot_user_id: str,
    room_version: str,
    encrypt: bool,
    space: tuple[str, str] | None,  # (space room id, server name)
    alias: str | None = None,  # local part of the room's alias (see `room_alias_name`)
) -> dict[str, Any]:
    """Keyword arguments for nio's `AsyncClient.room_create`.

    The preset gives the power levels and defaults; the initial state, which overrides the
    preset's, sets join rule and history visibility explicitly (as `set_access` does later).
    """
    access = RoomAccess(private=spec.private, history_from_join=spec.history_from_join)
    initial_state = [
        _state("m.room.guest_access", {"guest_access": "forbidden"}),
        *access_state(access),
    ]
    if encrypt:
        initial_state.append(encryption_state())
    if space is not None:
        space_id, server_name = space
        initial_state.append(
            _state("m.space.parent", {"via": [server_name], "canonical": True}, space_id)
        )
    arguments: dict[str, Any] = {
        "name": spec.name,
        "topic": spec.topic,
        "room_version": room_version,
        "invite": list(spec.invite),
        "initial_state": initial_state,
        "power_level_override": power_levels(bot_user_id, spec.coordinator, room_version),
        "preset": RoomPreset.private_chat if access.private else RoomPreset.public_chat,
    }
    if alias is not None:
        # Local only: nio's default visibility keeps the room out of the public directory.
        arguments["alias"] = alias
    return arguments
