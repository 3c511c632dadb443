"""Slack failure paths: hostile titles, app_rate_limited callbacks, a form that cannot be
opened, and how Slack's error codes read."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from slack_sdk.errors import SlackApiError

from bot.adapters.slack import SlackAdapter
from bot.adapters.slack.platform import TOPIC_LIMIT, _limited
from bot.adapters.slack.web import platform_error
from bot.bootstrap import Bot, build
from bot.core.clock import FakeClock
from bot.port import PlatformError, SentMessage
from tests.adapters.slack.conftest import Received
from tests.adapters.slack.payloads import (
    CHANNEL,
    USER,
    form,
    interactive_form,
    signed_headers,
    slash_command,
    view_submission,
)
from tests.adapters.slack.test_end_to_end import (
    ALICE,
    LOBBY,
    SIGNING_SECRET,
    START,
    Deliveries,
    SignedHttp,
    Workspace,
    adapter_for,
    attached,
)
from tests.fixtures.roster import small_roster
from tests.fixtures.settings import settings_in
from tests.fixtures.slack_api import WAIT_SECONDS, FakeSlack, Params

FORM = "application/x-www-form-urlencoded"
RATE_LIMITED = {
    "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
    "type": "app_rate_limited",
    "team_id": "T0TEAM001",
    "minute_rate_limited": 1518467820,
    "api_app_id": "A0APP0001",
}


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    http: aiohttp.ClientSession, app: SlackAdapter, body: str, content_type: str = FORM
) -> int:
    headers = {"Content-Type": content_type, **signed_headers(body)}
    url = f"http://127.0.0.1:{app.http_port}/slack/events"
    async with http.post(url, data=body, headers=headers) as response:
        return response.status


# ---- a title that would mention everyone


@pytest.fixture
def whole_bot(tmp_path: Path) -> Iterator[Bot]:
    wired = build(settings_in(tmp_path), clock=FakeClock(START), roster=small_roster())
    yield wired
    wired.close()


@pytest_asyncio.fixture
async def workspace(whole_bot: Bot, slack_api: FakeSlack) -> AsyncIterator[Workspace]:
    deliveries = Deliveries()
    adapter = adapter_for(
        whole_bot,
        slack_api,
        deliveries,
        mode="http",
        signing_secret=SIGNING_SECRET,
        host="127.0.0.1",
        port=0,
    )
    await attached(whole_bot, adapter, deliveries)
    async with aiohttp.ClientSession() as session:
        signed = SignedHttp(session, f"http://127.0.0.1:{adapter.http_port}/slack/events")
        yield Workspace(whole_bot, slack_api, signed, deliveries)
    await adapter.stop()


async def test_a_hostile_title_reaches_purpose_and_topic_escaped(
    workspace: Workspace, slack_api: FakeSlack
) -> None:
    # Typed text comes escaped in a slash command; the bot reads it as `<!here> <https://evil|x>`.
    await workspace.command(ALICE, LOBBY, "declare Outage &lt;!here&gt; &lt;https://evil|x&gt;")
    (purpose,) = slack_api.calls_to("conversations.setPurpose")
    set_topics = slack_api.calls_to("conversations.setTopic")
    assert set_topics
    sent = [str(purpose.params["purpose"]), *(str(c.params["topic"]) for c in set_topics)]
    assert [text for text in sent if "<" in text or ">" in text] == []
    assert purpose.params["purpose"].endswith("Outage &lt;!here&gt; &lt;https://evil|x&gt;")
    # Posted messages were escaped already; they stay so.
    assert all("<!here>" not in str(p["raw_text"]) for p in slack_api.posted)


def test_escaped_text_is_cut_between_entities() -> None:
    text = "a" * (TOPIC_LIMIT - 2) + "&lt;b"
    assert _limited(text) == "a" * (TOPIC_LIMIT - 2)
    assert _limited("a" * (TOPIC_LIMIT - 4) + "&lt;b") == "a" * (TOPIC_LIMIT - 4) + "&lt;"
    assert _limited("&amp; short") == "&amp; short"


# ---- app_rate_limited


async def test_app_rate_limited_is_answered_200_and_logged_once(
    http_app: SlackAdapter,
    http: aiohttp.ClientSession,
    received: Received,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    body = json.dumps(RATE_LIMITED)
    assert await post(http, http_app, body, "application/json") == 200
    assert await post(http, http_app, body, "application/json") == 200  # Slack's retry
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "rate-limiting" in warnings[0].getMessage()
    assert received.items == []


async def test_app_rate_limited_is_acked_over_socket_mode(
    socket_app: SlackAdapter, slack_api: FakeSlack
) -> None:
    envelope = await slack_api.push("events_api", RATE_LIMITED)
    assert await slack_api.ack_for(envelope) == {"envelope_id": envelope}


# ---- the declaration form cannot be opened


async def test_a_form_that_cannot_be_opened_is_told_to_whoever_asked_for_it(
    http_app: SlackAdapter, http: aiohttp.ClientSession, slack_api: FakeSlack
) -> None:
    slack_api.fail_next("views.open", "expired_trigger_id")
    command = {
        **slash_command("", trigger_id="trig-late"),
        "response_url": slack_api.response_url(),
    }
    assert await post(http, http_app, form(command)) == 200
    await slack_api.wait_until(lambda: bool(slack_api.responses))
    (answer,) = slack_api.responses
    assert answer["text"] == (
        "The declaration form could not be opened (expired_trigger_id). "
        "Type `/incident declare <title>` instead."
    )
    assert (answer["response_type"], answer["replace_original"]) == ("ephemeral", False)
    assert slack_api.posted == []


async def test_without_a_response_url_the_notice_goes_ephemeral_then_to_a_direct_message(
    http_app: SlackAdapter, http: aiohttp.ClientSession, slack_api: FakeSlack
) -> None:
    channel = slack_api.add_channel("incidents", creator="U0OTHER01", private=False)
    slack_api.members[channel].add(USER)
    url = slack_api.response_url()
    slack_api.expire_response_urls()  # 30 minutes later
    slack_api.fail_next("views.open", "expired_trigger_id")
    command = {
        **slash_command("", trigger_id="trig-dm"),
        "channel_id": channel,
        "response_url": url,
    }
    assert await post(http, http_app, form(command)) == 200
    await slack_api.wait_until(lambda: bool(slack_api.posted))
    (ephemeral,) = slack_api.calls_to("chat.postEphemeral")
    assert ephemeral.params["user"] == USER
    assert slack_api.ephemeral == []  # the bot is not in the channel: refused
    (posted,) = slack_api.posted
    assert posted["channel"] == slack_api.direct_channel(USER)
    assert "(expired_trigger_id)" in posted["text"]


# ---- a blank title in the declaration form


async def test_a_blank_title_keeps_the_form_open_with_the_error_under_the_field(
    http_app: SlackAdapter,
    http: aiohttp.ClientSession,
    slack_api: FakeSlack,
    received: Received,
) -> None:
    body = interactive_form(view_submission("   ", exercise=False, tlp="amber"))
    headers = {"Content-Type": FORM, **signed_headers(body)}
    url = f"http://127.0.0.1:{http_app.http_port}/slack/events"
    async with http.post(url, data=body, headers=headers) as response:
        assert response.status == 200
        answer = await response.json()
    assert answer == {
        "response_action": "errors",
        "errors": {"title": "Give the incident a title."},
    }
    assert received.items == []
    assert [call.method for call in slack_api.calls] == ["auth.test"]  # Bolt asks who it is


async def test_a_titled_form_is_acked_empty_and_declares(
    http_app: SlackAdapter, http: aiohttp.ClientSession, received: Received
) -> None:
    body = interactive_form(view_submission("Phishing wave", exercise=False, tlp="amber"))
    headers = {"Content-Type": FORM, **signed_headers(body)}
    url = f"http://127.0.0.1:{http_app.http_port}/slack/events"
    async with http.post(url, data=body, headers=headers) as response:
        assert response.status == 200
        assert await response.text() == ""
    (inbound,) = await received.wait_for()
    assert inbound.text == "declare --tlp amber Phishing wave"


# ---- error wording


def refused(answer: dict[str, object]) -> SlackApiError:
    return SlackApiError("refused", answer)  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ({"ok": False, "error": "team_access_not_granted"}, "team_access_not_granted"),
        ({"ok": False}, "slack_error"),
    ],
)
def test_a_code_without_a_message_is_not_repeated_in_the_detail(
    answer: dict[str, object], code: str
) -> None:
    error = platform_error("pins.add", refused(answer))
    assert (error.code, error.detail) == (code, "Slack refused pins.add.")
    assert str(error).count(code) == 1
    assert error.extra == {"method": "pins.add"}


def test_a_known_code_keeps_its_message_and_needed_scope() -> None:
    error = platform_error(
        "pins.add", refused({"ok": False, "error": "missing_scope", "needed": "pins:write"})
    )
    assert error.detail == "The Slack app lacks a permission it needs."
    assert error.extra == {"method": "pins.add", "needed": "pins:write"}


async def test_an_unknown_code_over_the_web_api(
    http_app: SlackAdapter, slack_api: FakeSlack
) -> None:
    slack_api.fail_next("pins.add", "team_access_not_granted")
    with pytest.raises(PlatformError) as raised:
        await http_app.pin(SentMessage(CHANNEL, "1764489700.000100"))
    reason = f"{raised.value.detail.rstrip('.')} ({raised.value.code})"
    assert reason == "Slack refused pins.add (team_access_not_granted)"


# ---- a channel the bot cannot post in


def lobby_without_the_bot(slack: FakeSlack) -> str:
    """A public channel where Alice types commands and that nobody invited the bot to."""
    lobby = slack.add_channel("incidents", creator=ALICE, private=False)
    return lobby


def page_of(slack: FakeSlack, user: str) -> Params:
    dm = slack.direct_channel(user)
    pages = [p for p in slack.posted if p["channel"] == dm and "You are paged" in p["text"]]
    assert pages, f"{user} was never paged"
    return pages[-1]


async def test_a_declaration_from_a_channel_the_bot_is_not_in_goes_on_and_answers_privately(
    workspace: Workspace, slack_api: FakeSlack, whole_bot: Bot
) -> None:
    lobby = lobby_without_the_bot(slack_api)
    await workspace.command(ALICE, lobby, "declare Ransomware at hospital")
    room = workspace.war_room("inc-2026-0001-")
    # Everything after the war room is delivered: the headline, the coordinator's page, triage.
    assert str(workspace.posts_in(room)[0]["text"]).startswith("🚨 INC-2026-0001")
    assert "Triage 1/17 · Q1" in workspace.last_text(room)
    page_of(slack_api, ALICE)
    # The reply the lobby refused reaches Alice alone, through the command's response_url.
    assert workspace.posts_in(lobby) == []
    (answer,) = slack_api.responses
    assert answer["text"] == (
        "Declared INC-2026-0001 (TLP:AMBER); you are invited to its war room.\n"
        "_Only you can see this: the bot is not a member of this channel._"
    )
    assert answer["response_type"] == "ephemeral"
    assert whole_bot.store.pending_effects() == []
    assert whole_bot.store.unhandled() == []


async def test_an_archived_war_room_answers_whoever_typed_the_command(
    workspace: Workspace, slack_api: FakeSlack
) -> None:
    await workspace.command(ALICE, LOBBY, "declare Ransomware at hospital")
    room = workspace.war_room("inc-2026-0001-")
    slack_api.archive(room)
    before = len(workspace.posts_in(room))
    await workspace.command(ALICE, room, "note Backups offline")
    assert len(workspace.posts_in(room)) == before
    assert slack_api.responses[-1]["text"] == (
        "Noted in INC-2026-0001.\n_Only you can see this: this channel is archived._"
    )


async def test_a_war_room_the_bot_was_removed_from_answers_by_ephemeral_once_the_url_is_spent(
    workspace: Workspace, slack_api: FakeSlack
) -> None:
    await workspace.command(ALICE, LOBBY, "declare Ransomware at hospital")
    room = workspace.war_room("inc-2026-0001-")
    slack_api.remove_bot(room)
    slack_api.expire_response_urls()
    url = slack_api.response_url()
    slack_api.expire_response_urls()  # the command is answered after its 30 minutes
    payload = {
        **slash_command("note Backups offline", "trig-late-note"),
        "user_id": ALICE,
        "channel_id": room,
        "response_url": url,
    }
    await workspace.transport.deliver("command", payload)
    await workspace.deliveries.wait_for("command:trig-late-note")
    # chat.postEphemeral needs the bot in the channel too: the answer goes to Alice's DM.
    assert [c.params["channel"] for c in slack_api.calls_to("chat.postEphemeral")] == [room]
    assert workspace.last_text(str(slack_api.direct_channel(ALICE))).startswith(
        "Noted in INC-2026-0001."
    )


async def test_an_error_about_the_war_room_is_not_posted_in_it(
    workspace: Workspace, slack_api: FakeSlack
) -> None:
    await workspace.command(ALICE, LOBBY, "declare Ransomware at hospital")
    room = workspace.war_room("inc-2026-0001-")
    slack_api.fail_next("conversations.setTopic", "channel_not_found")
    await workspace.command(ALICE, room, "tlp amber+strict")
    notice = (
        "The chat platform refused part of that: Slack cannot find the channel, or the bot "
        "cannot see it (channel_not_found). What was recorded is kept."
    )
    assert notice not in [p["text"] for p in workspace.posts_in(room)]
    assert slack_api.responses[-1]["text"] == notice


# ---- a war room Slack does not open at once


async def wait_for_war_room(bot: Bot, slack: FakeSlack, seconds: float = 20.0) -> str:
    """The war room, once the bot has delivered everything (a retry comes seconds later)."""

    def triage_started() -> bool:
        return any("Triage 1/17 · Q1" in str(p["text"]) for p in slack.posted)

    await slack.wait_until(triage_started, seconds)
    await bot.dispatcher.settle(WAIT_SECONDS)  # the delivery under way is recorded
    assert bot.store.pending_effects() == []
    (room,) = slack.channels
    return room


WAITING = (
    "The chat platform could not do part of that yet: {reason}. The bot keeps trying and "
    "carries on as soon as it answers; what was recorded is kept."
)
SLACK_DOWN = "Slack is having trouble right now (http_500)"
SLACK_LIMITING = "Slack is limiting the bot's requests (ratelimited)"


def assert_declared_in_full(ws: Workspace, bot: Bot, room: str) -> None:
    incident = bot.store.get("INC-2026-0001")
    assert incident is not None
    assert incident.rooms["slack"].room_id == room
    assert bot.store.by_room("slack", room) is not None
    assert [c.params["name"] for c in ws.slack.calls_to("conversations.create")][-1] == (
        "inc-2026-0001-ransomware-at-hospital"
    )
    assert len(ws.slack.channels) == 1
    assert str(ws.posts_in(room)[0]["text"]).startswith("🚨 INC-2026-0001")
    page_of(ws.slack, ALICE)
    assert "Triage 1/17 · Q1" in ws.last_text(room)
    assert ws.last_text(LOBBY).startswith("Declared INC-2026-0001")


async def test_a_war_room_rate_limited_three_times_is_opened_when_slack_lets_it(
    workspace: Workspace, slack_api: FakeSlack, whole_bot: Bot
) -> None:
    slack_api.rate_limit_next("conversations.create", retry_after=1, times=3)
    await workspace.command(ALICE, LOBBY, "declare Ransomware at hospital")
    # Slack's Retry-After was waited between the client's own tries, then the bot said so.
    first, second, third = slack_api.calls_to("conversations.create")
    assert second.at - first.at >= 0.95
    assert third.at - second.at >= 0.95
    assert workspace.last_text(LOBBY) == WAITING.format(reason=SLACK_LIMITING)
    room = await wait_for_war_room(whole_bot, slack_api)
    assert len(slack_api.calls_to("conversations.create")) == 4
    assert_declared_in_full(workspace, whole_bot, room)


async def test_a_war_room_slack_answered_500_for_is_opened_on_a_later_try(
    workspace: Workspace, slack_api: FakeSlack, whole_bot: Bot
) -> None:
    slack_api.fail_next_with_status("conversations.create", 500, times=2)
    await workspace.command(ALICE, LOBBY, "declare Ransomware at hospital")
    assert workspace.last_text(LOBBY) == WAITING.format(reason=SLACK_DOWN)
    room = await wait_for_war_room(whole_bot, slack_api)
    assert_declared_in_full(workspace, whole_bot, room)
    # Told once that it waits, then the declaration's own answer.
    lobby = [p["text"] for p in workspace.posts_in(LOBBY)]
    assert lobby[0] == WAITING.format(reason=SLACK_DOWN)
    assert len(lobby) == 2


@pytest.mark.parametrize("failure", ["rate_limited", "server_error"])
async def test_a_war_room_still_failing_at_a_restart_is_opened_after_it(
    tmp_path: Path, slack_api: FakeSlack, failure: str
) -> None:
    if failure == "rate_limited":
        slack_api.rate_limit_next("conversations.create", retry_after=0, times=1000)
        reason = SLACK_LIMITING
    else:
        slack_api.fail_next_with_status("conversations.create", 500, times=1000)
        reason = SLACK_DOWN
    first = build(settings_in(tmp_path), clock=FakeClock(START), roster=small_roster())
    deliveries = Deliveries()
    adapter = await attached(first, http_adapter_for(first, slack_api, deliveries), deliveries)
    async with aiohttp.ClientSession() as session:
        signed = SignedHttp(session, f"http://127.0.0.1:{adapter.http_port}/slack/events")
        ws = Workspace(first, slack_api, signed, deliveries)
        await ws.command(ALICE, LOBBY, "declare Ransomware at hospital")
    assert ws.last_text(LOBBY) == WAITING.format(reason=reason)
    assert slack_api.channels == {}
    await adapter.stop()
    await first.dispatcher.settle(1.0)
    first.close()

    slack_api.heal("conversations.create")
    again = build(settings_in(tmp_path), clock=FakeClock(START), roster=small_roster())
    try:
        deliveries = Deliveries()
        adapter = await attached(again, http_adapter_for(again, slack_api, deliveries), deliveries)
        await again.start()
        room = await wait_for_war_room(again, slack_api, seconds=5.0)
        assert_declared_in_full(Workspace(again, slack_api, signed, deliveries), again, room)
        assert [p["text"] for p in ws.posts_in(LOBBY)].count(WAITING.format(reason=reason)) == 1
        await adapter.stop()
    finally:
        again.close()


def http_adapter_for(bot: Bot, slack: FakeSlack, deliveries: Deliveries) -> SlackAdapter:
    return adapter_for(
        bot,
        slack,
        deliveries,
        mode="http",
        signing_secret=SIGNING_SECRET,
        host="127.0.0.1",
        port=0,
    )


# ---- an answered page loses its buttons


async def test_an_answered_page_is_edited_without_its_buttons(
    workspace: Workspace, slack_api: FakeSlack
) -> None:
    await workspace.command(ALICE, LOBBY, "declare Ransomware at hospital")
    page = page_of(slack_api, ALICE)
    assert "actions" in [block["type"] for block in page["blocks"]]
    await workspace.click(ALICE, page, "page accept INC-2026-0001 coordinator")
    (update,) = [c for c in slack_api.calls_to("chat.update") if c.params["ts"] == page["ts"]]
    blocks = update.params["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert blocks
    assert [block["type"] for block in blocks] == ["section"] * len(blocks)
    (kept,) = [m for m in slack_api.messages_in(str(page["channel"])) if m["ts"] == page["ts"]]
    assert all(block["type"] != "actions" for block in kept["blocks"])
