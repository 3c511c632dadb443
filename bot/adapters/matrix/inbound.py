"""Matrix timeline events (raw JSON) as platform-neutral `Inbound` values.

No I/O: what it needs to remember of a message (the answer an edit may change) goes through
the room context's callables.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.adapters.matrix.keycaps import button_for_reaction, button_for_reply
from bot.port import Button, Inbound, InboundKind

PLATFORM = "matrix"
COMMAND_PREFIXES = ("!incident", "/incident")
ANSWER_COMMAND = "answer"  # answering again replaces the answer, so an edit of one may run

Event = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Answered:
    """A message taken as an answer to one of the bot's prompts, kept for its edits."""

    sender: str
    targets: tuple[str, ...]  # the messages it replied to, most specific first
    thread_id: str | None

    def encode(self) -> str:
        return json.dumps([self.sender, list(self.targets), self.thread_id])

    @classmethod
    def decode(cls, stored: str) -> Answered:
        sender, targets, thread_id = json.loads(stored)
        return cls(sender, tuple(targets), thread_id)


@dataclass(frozen=True, slots=True)
class RoomContext:
    bot_user_id: str
    is_direct: bool
    buttons_of: Callable[[str], tuple[Button, ...]]  # options of a bot message, by event id
    # What an earlier message answered (`Answered.encode`), by event id; and keeping it.
    answered: Callable[[str], str | None]
    keep_answered: Callable[[str, str], None]


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


def _thread_root(relates: Mapping[str, Any]) -> str | None:
    root = relates.get("event_id")
    return root if relates.get("rel_type") == "m.thread" and isinstance(root, str) else None


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
    thread_id: str | None = None,
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
        thread_id=thread_id,
    )


def _message(
    room_id: str, event: Event, content: Mapping[str, Any], ctx: RoomContext
) -> Inbound | None:
    relates = _mapping(content.get("m.relates_to"))
    if relates.get("rel_type") == "m.replace":
        return _edit(room_id, event, content, relates, ctx)
    body = content.get("body")
    if content.get("msgtype") != "m.text" or not isinstance(body, str):
        return None
    targets = _reply_targets(relates)
    inbound, answered = _read(room_id, event, body, targets, _thread_root(relates), ctx)
    if answered is not None:
        ctx.keep_answered(event["event_id"], answered.encode())
    return inbound


def _edit(
    room_id: str,
    event: Event,
    content: Mapping[str, Any],
    relates: Mapping[str, Any],
    ctx: RoomContext,
) -> Inbound | None:
    """An edit of an answer is the changed answer (answering again replaces an answer).

    An edit of anything else is not acted on: a command ran, or was refused, as it was sent,
    and running it again would act twice (a second incident, a note logged twice); a
    corrected command is sent anew. Like clients, the bot takes an edit only from the sender
    of the message it edits. The edit's own event id keys it, so it is handled once.
    """
    original = relates.get("event_id")
    new = _mapping(content.get("m.new_content"))
    body = new.get("body")
    if not isinstance(original, str) or new.get("msgtype") != "m.text" or not isinstance(body, str):
        return None
    stored = ctx.answered(original)
    earlier = Answered.decode(stored) if stored is not None else None
    if earlier is None or earlier.sender != event["sender"]:
        return None
    inbound, answered = _read(room_id, event, body, list(earlier.targets), earlier.thread_id, ctx)
    return inbound if answered is not None else None


def _read(
    room_id: str,
    event: Event,
    body: str,
    targets: list[str],
    thread_id: str | None,
    ctx: RoomContext,
) -> tuple[Inbound | None, Answered | None]:
    """What a message's text stands for, and what it answered if it is an answer."""
    text = strip_reply_fallback(body) if targets else body.strip()
    answered = Answered(event["sender"], tuple(targets), thread_id)
    command = command_text(text)
    if command is not None:
        target = targets[0] if targets else None
        inbound = _inbound(
            room_id, event, ctx, InboundKind.TEXT, text=command, target=target, thread_id=thread_id
        )
        is_answer = command.lower().split(maxsplit=1)[:1] == [ANSWER_COMMAND]
        return inbound, answered if is_answer else None
    for target in targets:
        chosen = button_for_reply(text, ctx.buttons_of(target))
        if chosen is not None:
            inbound = _inbound(
                room_id,
                event,
                ctx,
                InboundKind.BUTTON,
                text=chosen.value,
                target=target,
                thread_id=thread_id,
            )
            return inbound, answered
    if targets:
        # A reply without the command prefix is conversation, unless it answers a prompt (a
        # bare option number to a triage question); in a direct message it is a command.
        inbound = _inbound(
            room_id,
            event,
            ctx,
            InboundKind.TEXT,
            text=text,
            target=targets[0],
            addressed=ctx.is_direct,
            thread_id=thread_id,
        )
        prompted = any(ctx.buttons_of(target) for target in targets)
        return inbound, answered if prompted else None
    if ctx.is_direct:
        return _inbound(room_id, event, ctx, InboundKind.TEXT, text=text), None
    return None, None


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
