"""Translation of raw Matrix events into Inbound values (pure)."""

from __future__ import annotations

from typing import Any

from bot.adapters.matrix.inbound import (
    RoomContext,
    after_own_join,
    command_text,
    invite_sender,
    strip_reply_fallback,
    translate,
)
from bot.port import Button, Inbound, InboundKind

BOT = "@rrt:rrt.test"
ALICE = "@alice:rrt.test"
ROOM = "!war:rrt.test"
PAGE = "$page"
OPTIONS = (
    Button("Accept", "page accept", "primary"),
    Button("Decline", "page decline", "danger"),
    Button("Later", "page later"),
)


def context(is_direct: bool = False, kept: dict[str, str] | None = None) -> RoomContext:
    memory = {} if kept is None else kept
    return RoomContext(
        bot_user_id=BOT,
        is_direct=is_direct,
        buttons_of=lambda event_id: OPTIONS if event_id == PAGE else (),
        answered=memory.get,
        keep_answered=memory.__setitem__,
    )


def message(body: str, sender: str = ALICE, **content: Any) -> dict[str, Any]:
    return {
        "type": "m.room.message",
        "event_id": "$m",
        "sender": sender,
        "content": {"msgtype": "m.text", "body": body, **content},
    }


def reply_to(target: str) -> dict[str, Any]:
    return {"m.relates_to": {"m.in_reply_to": {"event_id": target}}}


def reaction(key: str, target: str = PAGE) -> dict[str, Any]:
    return {
        "type": "m.reaction",
        "event_id": "$r",
        "sender": ALICE,
        "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": key}},
    }


def member(user: str, membership: str, previous: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "m.room.member",
        "event_id": f"$member-{user}-{membership}",
        "sender": user,
        "state_key": user,
        "content": {"membership": membership},
    }
    if previous:
        event["unsigned"] = {"prev_content": {"membership": previous}}
    return event


def test_command_prefixes_are_stripped() -> None:
    assert command_text("!incident declare Ransomware") == "declare Ransomware"
    assert command_text("  /incident   status ") == "status"
    assert command_text("!INCIDENT help") == "help"
    assert command_text("!incident") == ""


def test_text_that_only_starts_like_a_command_is_not_one() -> None:
    assert command_text("!incidents are up") is None
    assert command_text("the !incident bot") is None


def test_reply_fallback_is_removed() -> None:
    assert strip_reply_fallback("> <@rrt:rrt.test> Pick one\n> 1️⃣ Accept\n\n2") == "2"
    assert strip_reply_fallback("no quote") == "no quote"


def test_command_in_a_room_is_text() -> None:
    inbound = translate(ROOM, message("!incident declare Ransomware"), context())

    assert inbound == Inbound(
        platform="matrix",
        event_id="$m",
        kind=InboundKind.TEXT,
        user_id=ALICE,
        room_id=ROOM,
        text="declare Ransomware",
    )


def test_chatter_in_a_room_is_ignored_but_not_in_a_direct_room() -> None:
    assert translate(ROOM, message("coffee?"), context()) is None

    direct = translate(ROOM, message("status"), context(is_direct=True))

    assert direct is not None
    assert (direct.kind, direct.text, direct.is_direct) == (InboundKind.TEXT, "status", True)


def test_own_events_are_ignored() -> None:
    assert translate(ROOM, message("!incident help", sender=BOT), context()) is None
    assert translate(ROOM, member(BOT, "join"), context()) is None


def test_numbered_reply_to_options_is_a_click() -> None:
    inbound = translate(ROOM, message("> <@rrt:rrt.test> page\n\n2", **reply_to(PAGE)), context())

    assert inbound is not None
    assert (inbound.kind, inbound.text, inbound.target_message_id) == (
        InboundKind.BUTTON,
        "page decline",
        PAGE,
    )


def test_reply_in_a_thread_of_options_is_a_click() -> None:
    relates: dict[str, Any] = {
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": PAGE,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": "$latest-in-thread"},
        }
    }

    inbound = translate(ROOM, message("3", **relates), context())

    assert inbound is not None
    assert (inbound.kind, inbound.text, inbound.target_message_id, inbound.thread_id) == (
        InboundKind.BUTTON,
        "page later",
        PAGE,
        PAGE,
    )


def test_a_command_in_a_thread_carries_the_thread_root() -> None:
    relates = {"m.relates_to": {"rel_type": "m.thread", "event_id": "$root"}}

    in_thread = translate(ROOM, message("!incident status", **relates), context())
    in_timeline = translate(ROOM, message("!incident status"), context())

    assert in_thread is not None
    assert (in_thread.text, in_thread.thread_id) == ("status", "$root")
    assert in_timeline is not None
    assert in_timeline.thread_id is None


def test_reply_out_of_range_or_to_other_messages_is_text() -> None:
    out_of_range = translate(ROOM, message("7", **reply_to(PAGE)), context())
    elsewhere = translate(ROOM, message("> quoted\n\nsee logs", **reply_to("$other")), context())

    assert out_of_range is not None
    assert (out_of_range.kind, out_of_range.text) == (InboundKind.TEXT, "7")
    assert elsewhere is not None
    assert (elsewhere.kind, elsewhere.text, elsewhere.target_message_id) == (
        InboundKind.TEXT,
        "see logs",
        "$other",
    )


def test_command_in_a_reply_keeps_its_target() -> None:
    inbound = translate(ROOM, message("!incident ack", **reply_to(PAGE)), context())

    assert inbound is not None
    assert (inbound.kind, inbound.text, inbound.target_message_id) == (
        InboundKind.TEXT,
        "ack",
        PAGE,
    )


def edit_of(original: str, body: str, sender: str = ALICE) -> dict[str, Any]:
    """An edit as Element sends it: the new content apart, no reply relation in it."""
    return {
        "type": "m.room.message",
        "event_id": f"$edit-{body}",
        "sender": sender,
        "content": {
            "msgtype": "m.text",
            "body": f"* {body}",
            "m.new_content": {"msgtype": "m.text", "body": body},
            "m.relates_to": {"rel_type": "m.replace", "event_id": original},
        },
    }


def test_an_edited_numbered_reply_is_the_changed_answer() -> None:
    kept: dict[str, str] = {}
    ctx = context(kept=kept)
    first = translate(ROOM, message("> <@rrt:rrt.test> page\n\n1", **reply_to(PAGE)), ctx)

    changed = translate(ROOM, edit_of("$m", "3"), ctx)
    again = translate(ROOM, edit_of("$m", "2"), ctx)

    assert first is not None
    assert first.text == "page accept"
    assert changed is not None
    assert (changed.event_id, changed.kind, changed.text, changed.target_message_id) == (
        "$edit-3",
        InboundKind.BUTTON,
        "page later",
        PAGE,
    )
    assert again is not None
    assert (again.event_id, again.text) == ("$edit-2", "page decline")


def test_an_edited_answer_command_is_the_changed_answer() -> None:
    ctx = context(kept={})
    assert translate(ROOM, message("!incident answer Q3 2"), ctx) is not None

    changed = translate(ROOM, edit_of("$m", "!incident answer Q3 4"), ctx)
    into_other = translate(ROOM, edit_of("$m", "!incident close"), ctx)

    assert changed is not None
    assert (changed.kind, changed.text) == (InboundKind.TEXT, "answer Q3 4")
    assert into_other is None  # an answer edited into another command is not run


def test_an_edited_answer_in_a_thread_stays_in_the_thread() -> None:
    ctx = context(kept={})
    in_thread = {"m.relates_to": {"rel_type": "m.thread", "event_id": PAGE}}
    translate(ROOM, message("1", **in_thread), ctx)

    changed = translate(ROOM, edit_of("$m", "2"), ctx)

    assert changed is not None
    assert (changed.text, changed.thread_id) == ("page decline", PAGE)


def test_edits_of_commands_of_chatter_and_of_others_messages_are_ignored() -> None:
    ctx = context(kept={})
    note = {**message("!incident note first"), "event_id": "$m-note"}
    assert translate(ROOM, note, ctx) is not None
    translate(ROOM, message("> <@rrt:rrt.test> page\n\n1", **reply_to(PAGE)), ctx)

    assert translate(ROOM, edit_of("$m-note", "!incident note second"), ctx) is None
    assert translate(ROOM, edit_of("$unknown", "!incident close"), ctx) is None
    assert translate(ROOM, edit_of("$m", "2", sender="@mallory:rrt.test"), ctx) is None


def test_edits_and_notices_are_ignored() -> None:
    edit: dict[str, Any] = {"m.relates_to": {"rel_type": "m.replace", "event_id": "$m0"}}

    assert translate(ROOM, message("* !incident close", **edit), context()) is None
    notice = message("!incident help")
    notice["content"]["msgtype"] = "m.notice"
    assert translate(ROOM, notice, context()) is None


def test_keycap_reactions_pick_options() -> None:
    picks = [translate(ROOM, reaction(key), context()) for key in ("1️⃣", "3⃣", "✅", "❌")]

    assert [(p.kind, p.text) for p in picks if p] == [
        (InboundKind.BUTTON, "page accept"),
        (InboundKind.BUTTON, "page later"),
        (InboundKind.BUTTON, "page accept"),
        (InboundKind.BUTTON, "page decline"),
    ]


def test_other_reactions_are_reactions() -> None:
    on_options = translate(ROOM, reaction("👀"), context())
    elsewhere = translate(ROOM, reaction("1️⃣", target="$other"), context())

    assert on_options is not None
    assert elsewhere is not None
    assert (on_options.kind, on_options.reaction) == (InboundKind.REACTION, "👀")
    assert (elsewhere.kind, elsewhere.reaction, elsewhere.target_message_id) == (
        InboundKind.REACTION,
        "1️⃣",
        "$other",
    )


def test_joins_are_announced_once() -> None:
    joined = translate(ROOM, member(ALICE, "join"), context())

    assert joined is not None
    assert joined.kind == InboundKind.JOINED
    assert translate(ROOM, member(ALICE, "join", previous="join"), context()) is None
    assert translate(ROOM, member(ALICE, "leave", previous="join"), context()) is None


def test_malformed_events_are_ignored() -> None:
    assert translate(ROOM, {"type": "m.room.message"}, context()) is None
    assert translate(ROOM, {**message("x"), "content": "not an object"}, context()) is None
    assert translate(ROOM, {**reaction("1️⃣"), "content": {}}, context()) is None


def test_history_before_own_join_is_dropped() -> None:
    old, new = message("!incident declare Old"), message("!incident declare New")

    assert after_own_join([old, member(BOT, "join"), new], BOT) == ([new], True)
    assert after_own_join([old, new], BOT) == ([old, new], False)


def test_invite_sender_and_directness() -> None:
    invite = {
        "type": "m.room.member",
        "sender": ALICE,
        "state_key": BOT,
        "content": {"membership": "invite", "is_direct": True},
    }
    other = {**invite, "state_key": "@bob:rrt.test"}

    assert invite_sender([other, invite], BOT) == (ALICE, True)
    assert invite_sender([other], BOT) is None


def test_a_reply_without_the_prefix_is_conversation_in_a_room_and_a_command_in_a_dm() -> None:
    chatter = translate(ROOM, message("on it, thanks", **reply_to("$headline")), context())
    direct = translate(ROOM, message("status", **reply_to("$page")), context(is_direct=True))

    assert chatter is not None
    assert chatter.addressed is False  # only a bare answer to a question counts
    assert direct is not None
    assert direct.addressed is True
