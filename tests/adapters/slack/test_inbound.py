from __future__ import annotations

from bot.adapters.slack.inbound import (
    BLANK_TITLE,
    clean_text,
    declaration_errors,
    declaration_text,
    from_button,
    from_command,
    from_event,
    from_view_submission,
    response_url_of,
)
from bot.port import InboundKind
from tests.adapters.slack.payloads import (
    CHANNEL,
    USER,
    block_action,
    event_callback,
    member_joined,
    message,
    reaction_added,
    slash_command,
    view_submission,
)

BOT = "UBOTUSER1"
PROMPT_TS = "1764489700.000100"
BUTTON_VALUES = {(CHANNEL, PROMPT_TS): ["answer q3 0", "answer q3 1", "answer q3 unknown"]}


def lookup(channel: str, ts: str) -> list[str]:
    return BUTTON_VALUES.get((channel, ts), [])


def test_slash_command_text_is_the_command() -> None:
    inbound = from_command(slash_command("  status  ", trigger_id="T-1"))
    assert inbound.kind is InboundKind.TEXT
    assert inbound.text == "status"
    assert (inbound.user_id, inbound.room_id) == (USER, CHANNEL)
    assert inbound.event_id == "command:T-1"
    assert inbound.addressed
    assert not inbound.is_direct


def test_slash_command_unescapes_text_and_simplifies_mentions() -> None:
    inbound = from_command(slash_command("assign <@U0BOB0001|bob> analyst &amp; 1 &lt; 2"))
    assert inbound.text == "assign <@U0BOB0001> analyst & 1 < 2"


def test_slash_command_in_a_direct_message() -> None:
    body = {**slash_command("help"), "channel_id": "D0DM00001", "channel_name": "directmessage"}
    assert from_command(body).is_direct


def test_button_click() -> None:
    inbound = from_button(block_action("answer q3 3", PROMPT_TS, trigger_id="trig-9"))
    assert inbound is not None
    assert inbound.kind is InboundKind.BUTTON
    assert inbound.text == "answer q3 3"
    assert inbound.target_message_id == PROMPT_TS
    assert inbound.room_id == CHANNEL
    assert inbound.user_id == USER
    assert inbound.event_id == "action:trig-9"


def test_other_interactions_are_not_buttons() -> None:
    assert from_button({"type": "block_actions", "actions": []}) is None
    assert from_button({"type": "message_action"}) is None


def test_declaration_modal_becomes_declare_command() -> None:
    inbound = from_view_submission(view_submission("Ransomware  at\nhospital", True, "red"))
    assert inbound is not None
    assert inbound.kind is InboundKind.TEXT
    assert inbound.text == "declare --exercise --tlp red Ransomware at hospital"
    assert inbound.room_id == CHANNEL
    assert inbound.event_id == "view:V0MODAL01"


def test_declaration_without_exercise() -> None:
    inbound = from_view_submission(view_submission("DDoS", False, "amber+strict"))
    assert inbound is not None
    assert inbound.text == "declare --tlp amber+strict DDoS"


def test_declaration_text() -> None:
    assert declaration_text("Title", exercise=False, tlp=None) == "declare Title"


def test_other_views_are_ignored() -> None:
    body = view_submission("x", False, "red")
    body["view"]["callback_id"] = "something_else"
    assert from_view_submission(body) is None


def test_channel_message_is_unaddressed_text() -> None:
    inbound = from_event(event_callback(message("hello all"), "Ev1"), BOT, lookup)
    assert inbound is not None
    assert inbound.kind is InboundKind.TEXT
    assert inbound.text == "hello all"
    assert inbound.event_id == "Ev1"
    assert inbound.target_message_id is None
    assert not inbound.addressed


def test_direct_message_is_addressed() -> None:
    event = message("status", channel="D0DM00001", channel_type="im")
    inbound = from_event(event_callback(event), BOT, lookup)
    assert inbound is not None
    assert inbound.is_direct
    assert inbound.addressed


def test_thread_reply_to_a_bot_message_targets_it() -> None:
    event = message("we saw it at 9:10", thread_ts="1764489000.000001", parent_user_id=BOT)
    inbound = from_event(event_callback(event), BOT, lookup)
    assert inbound is not None
    assert inbound.kind is InboundKind.TEXT
    assert inbound.target_message_id == "1764489000.000001"


def test_thread_reply_to_a_person_targets_nothing() -> None:
    event = message("+1", thread_ts="1764489000.000001", parent_user_id="U0CAROL01")
    inbound = from_event(event_callback(event), BOT, lookup)
    assert inbound is not None
    assert inbound.target_message_id is None


def test_number_reply_to_a_message_with_buttons_is_a_click() -> None:
    event = message(" 2 ", thread_ts=PROMPT_TS, parent_user_id=BOT)
    inbound = from_event(event_callback(event, "Ev2"), BOT, lookup)
    assert inbound is not None
    assert inbound.kind is InboundKind.BUTTON
    assert inbound.text == "answer q3 1"
    assert inbound.target_message_id == PROMPT_TS
    assert inbound.event_id == "Ev2"


def test_out_of_range_number_stays_text() -> None:
    event = message("7", thread_ts=PROMPT_TS, parent_user_id=BOT)
    inbound = from_event(event_callback(event), BOT, lookup)
    assert inbound is not None
    assert inbound.kind is InboundKind.TEXT
    assert inbound.text == "7"
    assert inbound.target_message_id == PROMPT_TS


def test_bot_messages_and_other_subtypes_are_ignored() -> None:
    own = message("I said this", user=BOT)
    bot_message = {**message("from a webhook"), "subtype": "bot_message", "bot_id": "B0OTHER01"}
    edited = {**message("edited"), "subtype": "message_changed"}
    joined = {**message("<@U0> has joined"), "subtype": "channel_join"}
    for event in (own, bot_message, edited, joined):
        assert from_event(event_callback(event), BOT, lookup) is None


def test_broadcast_thread_reply_is_kept() -> None:
    event = {**message("shared"), "subtype": "thread_broadcast"}
    assert from_event(event_callback(event), BOT, lookup) is not None


def test_reaction_added() -> None:
    inbound = from_event(event_callback(reaction_added("two", PROMPT_TS), "Ev3"), BOT, lookup)
    assert inbound is not None
    assert inbound.kind is InboundKind.REACTION
    assert inbound.reaction == "two"
    assert inbound.target_message_id == PROMPT_TS
    assert inbound.room_id == CHANNEL
    assert inbound.event_id == "Ev3"


def test_reaction_to_a_file_is_ignored() -> None:
    event = {**reaction_added("eyes", PROMPT_TS), "item": {"type": "file", "file": "F1"}}
    assert from_event(event_callback(event), BOT, lookup) is None


def test_member_joined() -> None:
    inbound = from_event(event_callback(member_joined(), "Ev4"), BOT, lookup)
    assert inbound is not None
    assert inbound.kind is InboundKind.JOINED
    assert (inbound.user_id, inbound.room_id, inbound.event_id) == (USER, CHANNEL, "Ev4")


def test_the_bot_joining_is_ignored() -> None:
    assert from_event(event_callback(member_joined(BOT)), BOT, lookup) is None


def test_unknown_events_are_ignored() -> None:
    event = {"type": "channel_rename", "channel": {"id": CHANNEL}, "user": USER}
    assert from_event(event_callback(event), BOT, lookup) is None


def test_clean_text_keeps_plain_mentions() -> None:
    assert clean_text("ping <@U0BOB0001> &amp;&amp;") == "ping <@U0BOB0001> &&"


def test_a_blank_title_is_an_error_under_the_title_field() -> None:
    assert declaration_errors(view_submission(" \n ", False, "amber")) == {"title": BLANK_TITLE}
    assert declaration_errors(view_submission("DDoS", False, "amber")) == {}


def test_the_response_url_of_a_command_a_click_and_a_form() -> None:
    assert response_url_of(slash_command("status")) == (
        "https://hooks.slack.test/commands/T0TEAM001/1/abc"
    )
    assert response_url_of(block_action("answer q3 1", PROMPT_TS)) == (
        "https://hooks.slack.test/actions/T0TEAM001/1/abc"
    )
    form = view_submission("DDoS", False, "amber")
    assert response_url_of(form) is None
    form["response_urls"] = [
        {"block_id": "b", "action_id": "a", "channel_id": CHANNEL, "response_url": "https://x/1"}
    ]
    assert response_url_of(form) == "https://x/1"
