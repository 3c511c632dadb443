"""Pure translation of Slack payloads into the bot's `Inbound` events (no I/O)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from bot.adapters.slack.blocks import DECLARE_CALLBACK_ID, TITLE_BLOCK
from bot.port import Inbound, InboundKind

PLATFORM = "slack"
BLANK_TITLE = "Give the incident a title."
Payload = Mapping[str, Any]
ButtonLookup = Callable[[str, str], list[str]]
"""(channel, message ts) -> the button values the bot attached to that message."""

# Ordinary user messages; other subtypes are edits, deletions, joins and bot output.
_USER_MESSAGE_SUBTYPES = (None, "thread_broadcast", "file_share")
_NUMBER = re.compile(r"\s*(\d{1,2})\s*\.?\s*")
_LABELLED_MENTION = re.compile(r"<@([UW][A-Z0-9]+)\|[^>]*>")


def clean_text(text: str) -> str:
    """Undo Slack's escaping of `& < >` and drop display names from `<@U123|name>` mentions."""
    text = _LABELLED_MENTION.sub(r"<@\1>", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def _is_direct(channel_id: str) -> bool:
    return channel_id.startswith("D")


def command_event_id(body: Payload) -> str:
    # Slash commands carry no event id; the trigger id is unique per invocation.
    return f"command:{body.get('trigger_id', '')}"


def from_command(body: Payload) -> Inbound:
    """`/incident <text>`: the text is the command, exactly as typed elsewhere."""
    channel = str(body.get("channel_id", ""))
    return Inbound(
        platform=PLATFORM,
        event_id=command_event_id(body),
        kind=InboundKind.TEXT,
        user_id=str(body.get("user_id", "")),
        room_id=channel,
        text=clean_text(str(body.get("text", ""))),
        is_direct=_is_direct(channel) or body.get("channel_name") == "directmessage",
    )


def from_button(body: Payload) -> Inbound | None:
    actions = body.get("actions") or []
    if body.get("type") != "block_actions" or not actions:
        return None
    action = actions[0]
    container = body.get("container") or {}
    channel = str((body.get("channel") or {}).get("id") or container.get("channel_id", ""))
    message_ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    unique = body.get("trigger_id") or action.get("action_ts", "")
    return Inbound(
        platform=PLATFORM,
        event_id=f"action:{unique}",
        kind=InboundKind.BUTTON,
        user_id=str((body.get("user") or {}).get("id", "")),
        room_id=channel,
        text=str(action.get("value", "")),
        target_message_id=str(message_ts) if message_ts else None,
        is_direct=_is_direct(channel),
    )


def declaration_text(title: str, exercise: bool, tlp: str | None) -> str:
    parts = ["declare"]
    if exercise:
        parts.append("--exercise")
    if tlp:
        parts += ["--tlp", tlp]
    parts.append(" ".join(title.split()))
    return " ".join(parts)


def response_url_of(body: Payload) -> str | None:
    """Where Slack takes answers to a command or a click (a form's, if it asked for one)."""
    url = body.get("response_url")
    if not url:
        urls = body.get("response_urls") or []
        url = urls[0].get("response_url") if urls else None
    return str(url) if url else None


def _title(view: Payload) -> str:
    values = (view.get("state") or {}).get("values") or {}
    return str(values.get(TITLE_BLOCK, {}).get("value", {}).get("value") or "")


def declaration_errors(body: Payload) -> dict[str, str]:
    """What keeps the declaration form from being taken, by the block it is shown under."""
    view = body.get("view") or {}
    if view.get("callback_id") != DECLARE_CALLBACK_ID or _title(view).strip():
        return {}
    return {TITLE_BLOCK: BLANK_TITLE}


def from_view_submission(body: Payload) -> Inbound | None:
    """The declaration modal's answers, as the `declare` command a user would type."""
    view = body.get("view") or {}
    if body.get("type") != "view_submission" or view.get("callback_id") != DECLARE_CALLBACK_ID:
        return None
    values = (view.get("state") or {}).get("values") or {}
    title = _title(view)
    checked = values.get("exercise", {}).get("value", {}).get("selected_options") or []
    selected_tlp = values.get("tlp", {}).get("value", {}).get("selected_option") or {}
    channel = str(view.get("private_metadata", ""))
    return Inbound(
        platform=PLATFORM,
        event_id=f"view:{view.get('id', '')}",
        kind=InboundKind.TEXT,
        user_id=str((body.get("user") or {}).get("id", "")),
        room_id=channel,
        text=declaration_text(
            title,
            exercise=any(option.get("value") == "exercise" for option in checked),
            tlp=selected_tlp.get("value"),
        ),
        is_direct=_is_direct(channel),
    )


def _in_thread(event: Payload) -> bool:
    thread_ts = event.get("thread_ts")
    return bool(thread_ts) and thread_ts != event.get("ts")


def reads_buttons(body: Payload) -> bool:
    """Whether `from_event` may look up button values for this callback (a reply in a thread)."""
    event = body.get("event") or {}
    return event.get("type") == "message" and _in_thread(event)


def from_event(body: Payload, bot_user_id: str | None, buttons_of: ButtonLookup) -> Inbound | None:
    """An Events API callback; None for events the bot does not act on."""
    event = body.get("event") or {}
    user = str(event.get("user") or "")
    if not user or user == bot_user_id:
        return None
    kind = event.get("type")
    event_id = str(body.get("event_id") or f"{kind}:{event.get('event_ts', '')}")
    if kind == "message":
        return _from_message(event, event_id, bot_user_id, buttons_of)
    if kind == "reaction_added":
        item = event.get("item") or {}
        if item.get("type") != "message":
            return None
        channel = str(item.get("channel", ""))
        return Inbound(
            platform=PLATFORM,
            event_id=event_id,
            kind=InboundKind.REACTION,
            user_id=user,
            room_id=channel,
            reaction=str(event.get("reaction", "")),
            target_message_id=str(item.get("ts", "")),
            is_direct=_is_direct(channel),
        )
    if kind == "member_joined_channel":
        return Inbound(
            platform=PLATFORM,
            event_id=event_id,
            kind=InboundKind.JOINED,
            user_id=user,
            room_id=str(event.get("channel", "")),
        )
    return None


def _from_message(
    event: Payload, event_id: str, bot_user_id: str | None, buttons_of: ButtonLookup
) -> Inbound | None:
    if event.get("subtype") not in _USER_MESSAGE_SUBTYPES or event.get("bot_id"):
        return None
    text = clean_text(str(event.get("text") or ""))
    if not text:
        return None
    channel = str(event.get("channel", ""))
    is_direct = event.get("channel_type") == "im" or _is_direct(channel)
    thread_ts = event.get("thread_ts")
    kind = InboundKind.TEXT
    target = None
    if _in_thread(event):
        values = buttons_of(channel, str(thread_ts))
        replies_to_bot = bot_user_id is not None and event.get("parent_user_id") == bot_user_id
        if values or replies_to_bot:
            target = str(thread_ts)
        number = _NUMBER.fullmatch(text)
        if number and 1 <= int(number.group(1)) <= len(values):
            kind, text = InboundKind.BUTTON, values[int(number.group(1)) - 1]
    return Inbound(
        platform=PLATFORM,
        event_id=event_id,
        kind=kind,
        user_id=str(event.get("user", "")),
        room_id=channel,
        text=text,
        target_message_id=target,
        is_direct=is_direct,
        # In a channel, chatter is only an answer to a bot prompt; commands go via /incident.
        addressed=is_direct,
    )
