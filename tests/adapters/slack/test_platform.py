"""Every ChatPlatform method against the recording Slack server."""

from __future__ import annotations

import json

import pytest

from bot.adapters.slack.platform import SlackPlatform
from bot.adapters.slack.state import SlackState
from bot.port import Button, ChatPlatform, Outbound, PlatformError, RoomSpec, SentMessage
from tests.adapters.slack.conftest import BOT_TOKEN
from tests.fixtures.memory import MemoryKeyValue
from tests.fixtures.slack_api import FakeSlack

SPEC = RoomSpec(
    name="INC-2026-0007 · Ransomware at hospital",
    slug="inc-2026-0007-ransomware-at-hospital",
    topic="EXERCISE · L2 · TLP:AMBER · triage",
    invite=("U0ALICE01", "U0BOB0001"),
)


def test_is_a_chat_platform(platform: SlackPlatform) -> None:
    assert isinstance(platform, ChatPlatform)
    assert platform.name == "slack"


async def test_create_room(platform: SlackPlatform, slack_api: FakeSlack) -> None:
    room = await platform.create_room(SPEC)
    assert slack_api.methods() == [
        "conversations.create",
        "conversations.setPurpose",
        "conversations.setTopic",
        "conversations.invite",
    ]
    create, purpose, topic, invite = slack_api.calls
    assert create.params["name"] == "inc-2026-0007-ransomware-at-hospital"
    assert create.params["is_private"] == "1"
    assert create.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert slack_api.channels[room]["name"] == "inc-2026-0007-ransomware-at-hospital"
    assert (purpose.params["channel"], purpose.params["purpose"]) == (room, SPEC.name)
    assert (topic.params["channel"], topic.params["topic"]) == (room, SPEC.topic)
    assert invite.params["channel"] == room
    assert invite.params["users"] == "U0ALICE01,U0BOB0001"


async def test_public_room_without_invites(platform: SlackPlatform, slack_api: FakeSlack) -> None:
    spec = RoomSpec(name="Drill", slug="Drill Room!", topic="t", private=False)
    await platform.create_room(spec)
    assert "conversations.invite" not in slack_api.methods()
    assert slack_api.calls[0].params["name"] == "drill-room"
    assert slack_api.calls[0].params["is_private"] == "0"


async def test_taken_names_get_a_number(platform: SlackPlatform, slack_api: FakeSlack) -> None:
    first = await platform.create_room(SPEC)
    second = await platform.create_room(SPEC)
    slack_api.fail_next("conversations.create", "name_taken")  # e.g. an archived channel
    third = await platform.create_room(SPEC)
    names = [call.params["name"] for call in slack_api.calls_to("conversations.create")]
    assert names == [
        "inc-2026-0007-ransomware-at-hospital",
        "inc-2026-0007-ransomware-at-hospital",
        "inc-2026-0007-ransomware-at-hospital-2",
        "inc-2026-0007-ransomware-at-hospital",
        "inc-2026-0007-ransomware-at-hospital-2",
        "inc-2026-0007-ransomware-at-hospital-3",
    ]
    assert slack_api.channels[second]["name"].endswith("-2")
    assert slack_api.channels[third]["name"].endswith("-3")
    assert len({first, second, third}) == 3


async def test_other_creation_errors_are_reported(
    platform: SlackPlatform, slack_api: FakeSlack
) -> None:
    slack_api.fail_next("conversations.create", "restricted_action")
    with pytest.raises(PlatformError) as raised:
        await platform.create_room(SPEC)
    assert raised.value.code == "restricted_action"
    assert slack_api.methods() == ["conversations.create"]


async def test_send_with_buttons(
    platform: SlackPlatform, slack_api: FakeSlack, store: MemoryKeyValue
) -> None:
    message = Outbound(
        "*Q4* Functional impact?", (Button("None", "answer q4 0"), Button("Total", "answer q4 4"))
    )
    sent = await platform.send("C0WARROOM", message)
    (call,) = slack_api.calls_to("chat.postMessage")
    assert call.params["channel"] == "C0WARROOM"
    assert call.params["text"] == "*Q4* Functional impact?\n1. None\n2. Total"
    blocks = call.params["blocks"]
    assert blocks[0]["text"]["text"] == "*Q4* Functional impact?"
    assert [b["value"] for b in blocks[1]["elements"]] == ["answer q4 0", "answer q4 4"]
    assert sent.room_id == "C0WARROOM"
    assert sent.message_id.count(".") == 1
    assert json.loads(store.values[f"slack:buttons:C0WARROOM:{sent.message_id}"]) == [
        "answer q4 0",
        "answer q4 4",
    ]


async def test_send_in_a_thread(
    platform: SlackPlatform, slack_api: FakeSlack, store: MemoryKeyValue
) -> None:
    await platform.send("C0WARROOM", Outbound("noted", thread_of="1764489700.000100"))
    (call,) = slack_api.calls_to("chat.postMessage")
    assert call.params["thread_ts"] == "1764489700.000100"
    assert store.values == {}


async def test_edit(platform: SlackPlatform, slack_api: FakeSlack, store: MemoryKeyValue) -> None:
    sent = SentMessage("C0WARROOM", "1764489700.000100")
    store.values["slack:buttons:C0WARROOM:1764489700.000100"] = '["answer q4 0"]'
    await platform.edit(sent, Outbound("*Q4* answered: None"))
    (call,) = slack_api.calls_to("chat.update")
    assert (call.params["channel"], call.params["ts"]) == ("C0WARROOM", "1764489700.000100")
    assert call.params["text"] == "*Q4* answered: None"
    assert [block["type"] for block in call.params["blocks"]] == ["section"]
    assert store.values["slack:buttons:C0WARROOM:1764489700.000100"] == "[]"


async def test_pin(platform: SlackPlatform, slack_api: FakeSlack) -> None:
    await platform.pin(SentMessage("C0WARROOM", "1764489700.000100"))
    (call,) = slack_api.calls_to("pins.add")
    assert (call.params["channel"], call.params["timestamp"]) == ("C0WARROOM", "1764489700.000100")


async def test_pinning_twice_is_fine(platform: SlackPlatform, slack_api: FakeSlack) -> None:
    slack_api.fail_next("pins.add", "already_pinned")
    await platform.pin(SentMessage("C0WARROOM", "1764489700.000100"))


async def test_set_topic_is_cut_to_slack_limit(
    platform: SlackPlatform, slack_api: FakeSlack
) -> None:
    await platform.set_topic("C0WARROOM", "x" * 300)
    (call,) = slack_api.calls_to("conversations.setTopic")
    assert call.params["channel"] == "C0WARROOM"
    assert call.params["topic"] == "x" * 250


async def test_invite(platform: SlackPlatform, slack_api: FakeSlack) -> None:
    await platform.invite("C0WARROOM", "U0CAROL01")
    (call,) = slack_api.calls_to("conversations.invite")
    assert (call.params["channel"], call.params["users"]) == ("C0WARROOM", "U0CAROL01")


async def test_inviting_a_member_again_is_fine(
    platform: SlackPlatform, slack_api: FakeSlack
) -> None:
    slack_api.fail_next("conversations.invite", "already_in_channel")
    await platform.invite("C0WARROOM", "U0CAROL01")


async def test_invite_unknown_user(platform: SlackPlatform, slack_api: FakeSlack) -> None:
    slack_api.fail_next("conversations.invite", "user_not_found")
    with pytest.raises(PlatformError) as raised:
        await platform.invite("C0WARROOM", "U0NOBODY1")
    assert raised.value.code == "user_not_found"
    assert raised.value.detail == "Slack does not know that user."


async def test_remove(platform: SlackPlatform, slack_api: FakeSlack) -> None:
    await platform.remove("C0WARROOM", "U0CAROL01")
    (call,) = slack_api.calls_to("conversations.kick")
    assert (call.params["channel"], call.params["user"]) == ("C0WARROOM", "U0CAROL01")


async def test_remove_from_archived_channel(platform: SlackPlatform, slack_api: FakeSlack) -> None:
    slack_api.fail_next("conversations.kick", "is_archived")
    with pytest.raises(PlatformError) as raised:
        await platform.remove("C0WARROOM", "U0CAROL01")
    assert raised.value.code == "is_archived"


async def test_send_direct_opens_the_conversation_once(
    platform: SlackPlatform, slack_api: FakeSlack, store: MemoryKeyValue
) -> None:
    first = await platform.send_direct("U0CAROL01", Outbound("You are paged for INC-2026-0007."))
    second = await platform.send_direct("U0CAROL01", Outbound("Reminder."))
    (opened,) = slack_api.calls_to("conversations.open")
    assert opened.params["users"] == "U0CAROL01"
    posts = slack_api.calls_to("chat.postMessage")
    assert [post.params["channel"] for post in posts] == [first.room_id, first.room_id]
    assert first.room_id.startswith("D")
    assert second.room_id == first.room_id
    assert store.values["slack:dm:U0CAROL01"] == first.room_id


async def test_upload_file(platform: SlackPlatform, slack_api: FakeSlack) -> None:
    content = b"%PDF-1.7 report"
    await platform.upload_file(
        "C0WARROOM", "INC-2026-0007.pdf", content, "application/pdf", "Report"
    )
    assert slack_api.methods() == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    get_url, complete = slack_api.calls
    assert get_url.params["filename"] == "INC-2026-0007.pdf"
    assert get_url.params["length"] == str(len(content))
    (file_id,) = slack_api.uploads
    assert slack_api.uploads[file_id] == content
    assert complete.params["channel_id"] == "C0WARROOM"
    assert json.loads(complete.params["files"]) == [{"id": file_id, "title": "Report"}]


async def test_channel_not_found(platform: SlackPlatform, slack_api: FakeSlack) -> None:
    slack_api.fail_next("chat.postMessage", "channel_not_found")
    with pytest.raises(PlatformError) as raised:
        await platform.send("C0GONE001", Outbound("hello"))
    assert raised.value.code == "channel_not_found"
    assert "cannot find the channel" in raised.value.detail
    assert raised.value.about_room
    assert raised.value.extra == {"method": "chat.postMessage"}


async def test_not_in_channel(platform: SlackPlatform, slack_api: FakeSlack) -> None:
    slack_api.fail_next("conversations.setTopic", "not_in_channel")
    with pytest.raises(PlatformError, match="not a member"):
        await platform.set_topic("C0OTHER01", "topic")


async def test_an_edit_without_buttons_sends_no_actions_block(
    platform: SlackPlatform, slack_api: FakeSlack, store: MemoryKeyValue
) -> None:
    page = Outbound("📟 You are paged", (Button("Accept", "page accept"),))
    sent = await platform.send("C0WARROOM", page)
    await platform.edit(sent, Outbound("📟 Accepted"))
    (update,) = slack_api.calls_to("chat.update")
    blocks = update.params["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert [block["type"] for block in blocks] == ["section"]
    assert SlackState(store).buttons("C0WARROOM", sent.message_id) == []
