"""Delivering an effect again after a crash does it once, as people in Slack see it.

`bot.delivery` sets `delivery_key` while it delivers an effect, and `delivery_retried` when an
earlier attempt's result was never recorded. Each test runs the first attempt to the end (the
platform answered; the crash lost only the outbox's record) and then the retry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bot.adapters.slack import RateLimiter
from bot.adapters.slack.platform import LIST_PAGE_SIZE, SlackPlatform
from bot.adapters.slack.web import SlackWeb, web_client
from bot.port import (
    Button,
    Outbound,
    PlatformError,
    RoomSpec,
    SentMessage,
    delivery_key,
    delivery_retried,
)
from tests.adapters.slack.conftest import BOT_TOKEN
from tests.fixtures.memory import MemoryKeyValue
from tests.fixtures.slack_api import BOT_USER_ID, FakeSlack

KEY = "slack:Ev0REDELIV1#3"
SPEC = RoomSpec(
    name="INC-2026-0007 · Ransomware at hospital",
    slug="inc-2026-0007-ransomware-at-hospital",
    topic="EXERCISE · L2 · TLP:AMBER · triage",
    invite=("U0ALICE01", "U0BOB0001"),
)
BASE_NAME = "inc-2026-0007-ransomware-at-hospital"


@contextmanager
def delivering(key: str, retried: bool = False) -> Iterator[None]:
    """What `bot.delivery` sets around one attempt at an effect."""
    key_token = delivery_key.set(key)
    retried_token = delivery_retried.set(retried)
    try:
        yield
    finally:
        delivery_key.reset(key_token)
        delivery_retried.reset(retried_token)


def restarted(slack_api: FakeSlack, store: MemoryKeyValue) -> SlackPlatform:
    """The adapter of a new process, on the same store (or a new one: a note never written)."""
    return SlackPlatform(
        SlackWeb(web_client(BOT_TOKEN, slack_api.base_url), RateLimiter({})), store
    )


def bot_channels(slack_api: FakeSlack) -> list[str]:
    return [cid for cid, channel in slack_api.channels.items() if channel["creator"] == BOT_USER_ID]


# ---- messages


async def test_a_send_delivered_again_posts_once(
    platform: SlackPlatform, slack_api: FakeSlack
) -> None:
    message = Outbound("*INC-2026-0007* declared")
    with delivering(KEY):
        first = await platform.send("C0WARROOM", message)
    with delivering(KEY, retried=True):
        again = await platform.send("C0WARROOM", message)
    assert again == first
    assert len(slack_api.calls_to("chat.postMessage")) == 1
    (posted,) = slack_api.messages_in("C0WARROOM")
    assert posted["metadata"] == {"event_type": "rrt_effect", "event_payload": {"key": KEY}}
    (looked,) = slack_api.calls_to("conversations.history")
    assert looked.params["channel"] == "C0WARROOM"
    assert looked.params["include_all_metadata"] in ("1", "true")
    assert int(looked.params["limit"]) <= 100


async def test_the_message_carries_its_effect_key(
    platform: SlackPlatform, slack_api: FakeSlack
) -> None:
    with delivering(KEY):
        await platform.send("C0WARROOM", Outbound("hello"))
    (post,) = slack_api.calls_to("chat.postMessage")
    assert post.params["metadata"] == {"event_type": "rrt_effect", "event_payload": {"key": KEY}}
    assert slack_api.calls_to("conversations.history") == []  # a first attempt looks nowhere


async def test_a_retry_whose_first_attempt_never_posted_posts(
    platform: SlackPlatform, slack_api: FakeSlack
) -> None:
    with delivering("slack:Ev0OTHER01#1"):
        other = await platform.send("C0WARROOM", Outbound("another effect's message"))
    with delivering(KEY, retried=True):
        sent = await platform.send("C0WARROOM", Outbound("hello"))
    assert sent != other
    assert [m["text"] for m in slack_api.messages_in("C0WARROOM")] == [
        "another effect's message",
        "hello",
    ]


async def test_a_retry_restores_the_remembered_buttons(
    slack_api: FakeSlack, platform: SlackPlatform, store: MemoryKeyValue
) -> None:
    message = Outbound("*Q4* Functional impact?", (Button("None", "answer q4 0"),))
    with delivering(KEY):
        first = await platform.send("C0WARROOM", message)
    assert f"slack:buttons:C0WARROOM:{first.message_id}" in store.values
    # The crash came before the buttons were noted: the new process finds none.
    fresh = MemoryKeyValue()
    with delivering(KEY, retried=True):
        sent = await restarted(slack_api, fresh).send("C0WARROOM", message)
    assert sent == first
    assert len(slack_api.calls_to("chat.postMessage")) == 1
    assert json.loads(fresh.values[f"slack:buttons:C0WARROOM:{first.message_id}"]) == [
        "answer q4 0"
    ]


async def test_a_send_without_a_key_is_as_before(
    platform: SlackPlatform, slack_api: FakeSlack, store: MemoryKeyValue
) -> None:
    first = await platform.send("C0WARROOM", Outbound("hello"))
    second = await platform.send("C0WARROOM", Outbound("hello"))
    assert first != second
    assert slack_api.methods() == ["chat.postMessage", "chat.postMessage"]
    assert all("metadata" not in call.params for call in slack_api.calls)
    assert store.values == {}


async def test_a_reply_in_a_thread_is_looked_for_in_the_thread(
    platform: SlackPlatform, slack_api: FakeSlack
) -> None:
    parent = await platform.send("C0WARROOM", Outbound("headline"))
    reply = Outbound("noted", thread_of=parent.message_id)
    with delivering(KEY):
        first = await platform.send("C0WARROOM", reply)
    with delivering(KEY, retried=True):
        again = await platform.send("C0WARROOM", reply)
    assert again == first
    assert len(slack_api.calls_to("chat.postMessage")) == 2
    (looked,) = slack_api.calls_to("conversations.replies")
    assert looked.params["ts"] == parent.message_id


async def test_a_direct_message_delivered_again_is_sent_once(
    platform: SlackPlatform, slack_api: FakeSlack
) -> None:
    page = Outbound("You are paged for INC-2026-0007.", (Button("Accept", "accept"),))
    with delivering(KEY):
        first = await platform.send_direct("U0CAROL01", page)
    with delivering(KEY, retried=True):
        again = await restarted(slack_api, MemoryKeyValue()).send_direct("U0CAROL01", page)
    assert again == first
    assert first.room_id == slack_api.direct_channel("U0CAROL01")
    assert len(slack_api.calls_to("chat.postMessage")) == 1


async def test_a_failed_lookup_posts_rather_than_loses_the_message(
    platform: SlackPlatform, slack_api: FakeSlack
) -> None:
    slack_api.fail_next("conversations.history", "missing_scope")
    with delivering(KEY, retried=True):
        await platform.send("C0WARROOM", Outbound("hello"))
    assert len(slack_api.calls_to("chat.postMessage")) == 1


async def test_edit_pin_invite_remove_and_topic_repeat_harmlessly(
    platform: SlackPlatform, slack_api: FakeSlack
) -> None:
    room = await platform.create_room(SPEC)
    sent = await platform.send(room, Outbound("headline"))
    for retried in (False, True):
        with delivering(KEY, retried=retried):
            await platform.edit(sent, Outbound("headline, edited"))
            await platform.pin(sent)
            await platform.invite(room, "U0CAROL01")
            await platform.remove(room, "U0BOB0001")
            await platform.set_topic(room, "TLP:AMBER · response")
    assert slack_api.pins == {(room, sent.message_id)}
    assert slack_api.members[room] == {BOT_USER_ID, "U0ALICE01", "U0CAROL01"}
    assert slack_api.messages_in(room)[0]["text"] == "headline, edited"
    assert slack_api.channels[room]["topic"]["value"] == "TLP:AMBER · response"
    # The topic the crashed attempt set is not set (and announced) again.
    topics = [c.params["topic"] for c in slack_api.calls_to("conversations.setTopic")]
    assert topics == [SPEC.topic, "TLP:AMBER · response"]


async def test_real_refusals_are_still_reported(
    platform: SlackPlatform, slack_api: FakeSlack
) -> None:
    room = await platform.create_room(SPEC)
    slack_api.fail_next("conversations.invite", "user_not_found")
    with pytest.raises(PlatformError) as raised:
        await platform.invite(room, "U0NOBODY1")
    assert raised.value.code == "user_not_found"


# ---- war rooms


async def test_a_war_room_created_again_is_created_once(
    platform: SlackPlatform, slack_api: FakeSlack
) -> None:
    with delivering(KEY):
        first = await platform.create_room(SPEC)
    with delivering(KEY, retried=True):
        again = await platform.create_room(SPEC)
    assert again == first
    assert bot_channels(slack_api) == [first]
    assert slack_api.channels[first]["name"] == BASE_NAME
    assert slack_api.members[first] == {BOT_USER_ID, "U0ALICE01", "U0BOB0001"}
    # Purpose and topic were set by the first attempt; the invitation repeats harmlessly.
    assert len(slack_api.calls_to("conversations.setPurpose")) == 1
    assert len(slack_api.calls_to("conversations.setTopic")) == 1
    assert len(slack_api.calls_to("conversations.invite")) == 2


async def test_a_war_room_retried_after_some_joined_invites_the_others(
    platform: SlackPlatform, slack_api: FakeSlack
) -> None:
    slack_api.fail_next("conversations.invite", "fatal_error")  # the "crash"
    with delivering(KEY), pytest.raises(PlatformError):
        await platform.create_room(SPEC)
    (room,) = bot_channels(slack_api)
    slack_api.members[room].add("U0ALICE01")  # Alice joined by herself meanwhile
    with delivering(KEY, retried=True):
        assert await platform.create_room(SPEC) == room
    assert slack_api.members[room] == {BOT_USER_ID, "U0ALICE01", "U0BOB0001"}
    invited = [c.params["users"] for c in slack_api.calls_to("conversations.invite")]
    assert invited == ["U0ALICE01,U0BOB0001", "U0ALICE01,U0BOB0001", "U0BOB0001"]


async def test_a_war_room_whose_id_was_never_noted_is_found_by_name(
    platform: SlackPlatform, slack_api: FakeSlack
) -> None:
    for n in range(LIST_PAGE_SIZE + 20):  # the room is on the second page of the list
        slack_api.add_channel(f"other-{n:03d}", creator="U0SOMEONE", private=False)
    with delivering(KEY):
        first = await platform.create_room(SPEC)
    with delivering(KEY, retried=True):
        again = await restarted(slack_api, MemoryKeyValue()).create_room(SPEC)
    assert again == first
    assert bot_channels(slack_api) == [first]
    listed = slack_api.calls_to("conversations.list")
    assert len(listed) == 2
    assert listed[0].params["types"] == "public_channel,private_channel"
    assert listed[1].params["cursor"]


async def test_a_war_room_stopped_before_its_purpose_is_finished(
    platform: SlackPlatform, slack_api: FakeSlack
) -> None:
    slack_api.fail_next("conversations.setPurpose", "fatal_error")  # the "crash"
    with delivering(KEY), pytest.raises(PlatformError):
        await platform.create_room(SPEC)
    (first,) = bot_channels(slack_api)
    with delivering(KEY, retried=True):
        again = await restarted(slack_api, MemoryKeyValue()).create_room(SPEC)
    assert again == first
    assert slack_api.channels[first]["purpose"]["value"] == SPEC.name
    assert slack_api.channels[first]["topic"]["value"] == SPEC.topic
    assert slack_api.members[first] == {BOT_USER_ID, "U0ALICE01", "U0BOB0001"}


async def test_someone_elses_channel_of_that_name_is_not_taken_over(
    platform: SlackPlatform, slack_api: FakeSlack
) -> None:
    theirs = slack_api.add_channel(BASE_NAME, creator="U0SOMEONE", purpose=SPEC.name)
    with delivering(KEY):
        first = await platform.create_room(SPEC)
    with delivering(KEY, retried=True):
        again = await restarted(slack_api, MemoryKeyValue()).create_room(SPEC)
    assert again == first != theirs
    assert slack_api.channels[first]["name"] == f"{BASE_NAME}-2"
    assert bot_channels(slack_api) == [first]


async def test_another_rooms_channel_of_that_name_is_not_taken_over(
    platform: SlackPlatform, slack_api: FakeSlack
) -> None:
    earlier = await platform.create_room(
        RoomSpec(name="INC-2026-0007 · something else", slug=SPEC.slug, topic="t")
    )
    with delivering(KEY, retried=True):  # a retry whose first attempt made nothing
        room = await platform.create_room(SPEC)
    assert room != earlier
    assert slack_api.channels[room]["name"] == f"{BASE_NAME}-2"


async def test_a_room_created_twice_without_a_retry_still_gets_a_number(
    platform: SlackPlatform, slack_api: FakeSlack
) -> None:
    with delivering("slack:Ev0FIRST01#1"):
        first = await platform.create_room(SPEC)
    with delivering("slack:Ev0SECOND1#1"):
        second = await platform.create_room(SPEC)
    assert first != second
    assert slack_api.channels[second]["name"] == f"{BASE_NAME}-2"
    assert slack_api.calls_to("conversations.list") == []


# ---- files


async def upload(platform: SlackPlatform) -> None:
    await platform.upload_file(
        "C0WARROOM", "INC-2026-0007-report.md", b"# Report", "text/markdown", "Report"
    )


async def test_an_upload_delivered_again_is_shared_once(
    platform: SlackPlatform, slack_api: FakeSlack, store: MemoryKeyValue
) -> None:
    with delivering(KEY):
        await upload(platform)
    with delivering(KEY, retried=True):
        await upload(platform)
    assert len(slack_api.shared_files("C0WARROOM")) == 1
    assert slack_api.calls_to("conversations.history") == []  # the note says it is done


async def test_an_upload_that_crashed_before_its_note_is_found_in_the_channel(
    platform: SlackPlatform, slack_api: FakeSlack, store: MemoryKeyValue
) -> None:
    with delivering(KEY):
        await upload(platform)
    # As if the process died after Slack shared the file, before the note said so.
    store.values[f"slack:effect:{KEY}:upload"] = "started 1764489000.000000"
    with delivering(KEY, retried=True):
        await upload(platform)
    assert len(slack_api.shared_files("C0WARROOM")) == 1
    (looked,) = slack_api.calls_to("conversations.history")
    assert float(looked.params["oldest"]) < 1764489000


async def test_an_upload_that_crashed_before_uploading_uploads(
    platform: SlackPlatform, slack_api: FakeSlack, store: MemoryKeyValue
) -> None:
    with delivering("slack:Ev0EARLIER#2"):
        await upload(platform)  # the same report, shared by an earlier effect
    store.values[f"slack:effect:{KEY}:upload"] = "started 9999999999.000000"
    with delivering(KEY, retried=True):
        await upload(platform)
    assert len(slack_api.shared_files("C0WARROOM")) == 2
    assert store.values[f"slack:effect:{KEY}:upload"].startswith("file F")


async def test_a_pin_of_a_message_pinned_before_is_fine(
    platform: SlackPlatform, slack_api: FakeSlack
) -> None:
    sent = await platform.send("C0WARROOM", Outbound("headline"))
    await platform.pin(sent)
    await platform.pin(SentMessage(sent.room_id, sent.message_id))
    assert [c.params["timestamp"] for c in slack_api.calls_to("pins.add")] == [sent.message_id] * 2
