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
from tests.adapters.slack.payloads import CHANNEL, USER, form, signed_headers, slash_command
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
from tests.fixtures.slack_api import FakeSlack

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


async def test_a_form_that_cannot_be_opened_is_reported_in_the_channel(
    http_app: SlackAdapter, http: aiohttp.ClientSession, slack_api: FakeSlack
) -> None:
    slack_api.fail_next("views.open", "expired_trigger_id")
    assert await post(http, http_app, form(slash_command("", trigger_id="trig-late"))) == 200
    (call,) = await slack_api.wait_for_calls("chat.postMessage")
    assert call.params["channel"] == CHANNEL
    (posted,) = slack_api.posted
    assert posted["text"] == (
        "The declaration form could not be opened (expired_trigger_id). "
        "Type `/incident declare <title>` instead."
    )


async def test_when_the_channel_refuses_the_notice_it_goes_to_the_user(
    http_app: SlackAdapter, http: aiohttp.ClientSession, slack_api: FakeSlack
) -> None:
    slack_api.fail_next("views.open", "expired_trigger_id")
    slack_api.fail_next("chat.postMessage", "not_in_channel")
    assert await post(http, http_app, form(slash_command("", trigger_id="trig-dm"))) == 200
    await slack_api.wait_for_calls("chat.postMessage", 2)
    (posted,) = slack_api.posted
    assert posted["channel"] == slack_api.direct_channel(USER)
    assert "(expired_trigger_id)" in posted["text"]


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
