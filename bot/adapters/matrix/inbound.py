"""Matrix timeline events (raw JSON) as platform-neutral `Inbound` values. No I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.adapters.matrix.keycaps import button_for_reaction, button_for_reply
from bot.port import Button, Inbound, InboundKind

PLATFORM = "matrix"
COMMAND_PREFIXES = ("!incident", "/incident")

Event = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RoomContext:
    bot_user_id: str
    is_direct: bool
    buttons_of: Callable[[str], tuple[Button, ...]]  # options of a bot message, by event id


def command_text(text: str) -> str | None:
    """What follows `!incident` or `/incident`, or None when the text is no command."""
    stripped = text.lstrip()
    for prefix in COMMAND_PREFIXES:
        head, rest = stripped[: len(prefix)], stripped[len(prefix) :]
        if head.lower() == prefix and (not rest or rest[0].isspace()):
            return rest.strip()
    return None


def strip_reply_fallback(body: str) -> str:
    """Drop the "> quoted original" lines clients put before a reply's own text."""
    lines = body.split("\n")
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    return "\n".join(lines).strip()


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _reply_targets(relates: Mapping[str, Any]) -> list[str]:
    """Messages a reply points at, most specific first."""
    reply_to = _mapping(relates.get("m.in_reply_to")).get("event_id")
    thread_root = relates.get("event_id") if relates.get("rel_type") == "m.thread" else None
    # In a thread, a fallback in_reply_to only points at the thread's latest message.
    ordered = [thread_root, reply_to] if relates.get("is_falling_back") else [reply_to, thread_root]
    return [target for target in ordered if isinstance(target, str)]


def _inbound(
    room_id: str,
    event: Event,
    ctx: RoomContext,
    kind: InboundKind,
    *,
    text: str = "",
    reaction: str = "",
    target: str | None = None,
    addressed: bool = True,
) -> Inbound:
    return Inbound(
        platform=PLATFORM,
        event_id=event["event_id"],
        kind=kind,
        user_id=event["sender"],
        room_id=room_id,
        text=text,
        reaction=reaction,
        target_message_id=target,
        is_direct=ctx.is_direct,
        addressed=addressed,
    )


def _message(
    room_id: str, event: Event, content: Mapping[str, Any], ctx: RoomContext
) -> Inbound | None:
    body = content.get("body")
    if content.get("msgtype") != "m.text" or not isinstance(body, str):
        return None
    relates = _mapping(content.get("m.relates_to"))
    if relates.get("rel_type") == "m.replace":
        return None  # an edited command is not run a second time
    targets = _reply_targets(relates)
    text = strip_reply_fallback(body) if targets else body.strip()

    command = command_text(text)
    if command is not None:
        target = targets[0] if targets else None
        return _inbound(room_id, event, ctx, InboundKind.TEXT, text=command, target=target)
    for target in targets:
        chosen = button_for_reply(text, ctx.buttons_of(target))
        if chosen is not None:
            return _inbound(
                room_id, event, ctx, InboundKind.BUTTON, text=chosen.value, target=target
            )
    if targets:
        # A reply without the command prefix is conversation, unless it answers a prompt (a
        # bare option number to a triage question); in a direct message it is a command.
        return _inbound(
            room_id,
            event,
            ctx,
            InboundKind.TEXT,
            text=text,
            target=targets[0],
            addressed=ctx.is_direct,
        )
    if ctx.is_direct:
        return _inbound(room_id, event, ctx, InboundKind.TEXT, text=text)
    return None


def _reaction(
    room_id: str, event: Event, content: Mapping[str, Any], ctx: RoomContext
) -> Inbound | None:
    relates = _mapping(content.get("m.relates_to"))
    target, key = relates.get("event_id"), relates.get("key")
    if relates.get("rel_type") != "m.annotation" or not isinstance(target, str):
        return None
    if not isinstance(key, str):
        return None
    chosen = button_for_reaction(key, ctx.buttons_of(target))
    if chosen is not None:
        return _inbound(room_id, event, ctx, InboundKind.BUTTON, text=chosen.value, target=target)
    return _inbound(room_id, event, ctx, InboundKind.REACTION, reaction=key, target=target)


def _is_join(event: Event) -> bool:
    previous = _mapping(_mapping(event.get("unsigned")).get("prev_content")).get("membership")
    return (
        event.get("type") == "m.room.member"
        and event.get("state_key") == event.get("sender")
        and _mapping(event.get("content")).get("membership") == "join"
        and previous != "join"  # a profile change repeats "join"
    )


def translate(room_id: str, event: Event, ctx: RoomContext) -> Inbound | None:
    """The `Inbound` an event stands for, or None for events the bot does not act on."""
    sender, event_id = event.get("sender"), event.get("event_id")
    if not isinstance(sender, str) or not isinstance(event_id, str) or sender == ctx.bot_user_id:
        return None
    content = _mapping(event.get("content"))
    kind = event.get("type")
    if kind == "m.room.message":
        return _message(room_id, event, content, ctx)
    if kind == "m.reaction":
        return _reaction(room_id, event, content, ctx)
    if _is_join(event):
        return _inbound(room_id, event, ctx, InboundKind.JOINED)
    return None


def after_own_join(events: Sequence[Event], bot_user_id: str) -> tuple[list[Event], bool]:
    """Events after the bot's own join, and whether it joined in this batch.

    A room the bot just joined may show history from before; old commands there are not acted on.
    """
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("sender") == bot_user_id and _is_join(events[index]):
            return list(events[index + 1 :]), True
    return list(events), False


def invite_sender(invite_state: Sequence[Event], bot_user_id: str) -> tuple[str, bool] | None:
    """(who invited the bot, whether as a direct chat) from a room's invite state."""
    for event in invite_state:
        content = _mapping(event.get("content"))
        if (
            event.get("type") == "m.room.member"
            and event.get("state_key") == bot_user_id
            and content.get("membership") == "invite"
            and isinstance(event.get("sender"), str)
        ):
            return event["sender"], content.get("is_direct") is True
    return None
