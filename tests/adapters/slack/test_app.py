"""The running app: signed HTTP requests and Socket Mode envelopes in, Inbound events out."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.adapters.slack import SlackAdapter
from bot.port import Button, InboundKind, Outbound
from tests.adapters.slack.conftest import APP_TOKEN, BOT_TOKEN, WAIT_SECONDS, Received
from tests.adapters.slack.payloads import (
    CHANNEL,
    USER,
    block_action,
    event_callback,
    form,
    interactive_form,
    member_joined,
    message,
    reaction_added,
    signed_headers,
    slash_command,
    view_submission,
)
from tests.fixtures.memory import MemoryKeyValue
from tests.fixtures.slack_api import BOT_USER_ID, FakeSlack

FORM = "application/x-www-form-urlencoded"


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def url(app: SlackAdapter) -> str:
    return f"http://127.0.0.1:{app.http_port}/slack/events"


async def post(
    http: aiohttp.ClientSession,
    app: SlackAdapter,
    body: str,
    content_type: str = FORM,
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    sent = {"Content-Type": content_type, **(signed_headers(body) if headers is None else headers)}
    async with http.post(url(app), data=body, headers=sent) as response:
        return response.status, await response.text()


# ---- HTTP mode


async def test_slash_command_is_acked_before_the_work_is_done(
    http_app: SlackAdapter, http: aiohttp.ClientSession, received: Received
) -> None:
    received.gate = asyncio.Event()  # the handler blocks until the test ends
    started = time.monotonic()
    status, _ = await post(http, http_app, form(slash_command("status", trigger_id="trig-7")))
    assert status == 200
    assert time.monotonic() - started < 3.0
    (inbound,) = await received.wait_for(1)
    assert not received.gate.is_set()
    assert inbound.kind is InboundKind.TEXT
    assert inbound.text == "status"
    assert (inbound.platform, inbound.user_id, inbound.room_id) == ("slack", USER, CHANNEL)
    assert inbound.event_id == "command:trig-7"


def _missing(body: str) -> dict[str, str]:
    return {}


def _tampered(body: str) -> dict[str, str]:
    return signed_headers(body + "&text=tampered")


def _wrong_secret(body: str) -> dict[str, str]:
    return signed_headers(body, secret="not-the-secret")


def _malformed(body: str) -> dict[str, str]:
    return {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=00"}


def _stale(body: str) -> dict[str, str]:
    return signed_headers(body, at=int(time.time()) - 6 * 60)  # outside the 5-minute window


@pytest.mark.parametrize("sign", [_missing, _tampered, _wrong_secret, _malformed, _stale])
async def test_bad_signatures_are_refused(
    http_app: SlackAdapter,
    http: aiohttp.ClientSession,
    received: Received,
    slack_api: FakeSlack,
    sign: Callable[[str], dict[str, str]],
) -> None:
    body = form(slash_command("declare Ransomware"))
    status, _ = await post(http, http_app, body, headers=sign(body))
    assert status == 401
    assert received.items == []
    assert slack_api.calls == []


async def test_retried_event_is_handled_once(
    http_app: SlackAdapter, http: aiohttp.ClientSession, received: Received
) -> None:
    first = json.dumps(event_callback(reaction_added("one", "1764489700.000100"), "Ev0REACT1"))
    status, _ = await post(http, http_app, first, "application/json")
    assert status == 200
    await received.wait_for(1)
    retry_headers = {
        **signed_headers(first),
        "X-Slack-Retry-Num": "1",
        "X-Slack-Retry-Reason": "http_timeout",
    }
    status, _ = await post(http, http_app, first, "application/json", headers=retry_headers)
    assert status == 200
    later = json.dumps(event_callback(member_joined(), "Ev0JOIN01"))
    await post(http, http_app, later, "application/json")
    items = await received.wait_for(2)
    assert [inbound.event_id for inbound in items] == ["Ev0REACT1", "Ev0JOIN01"]


async def test_bare_command_opens_the_declaration_modal(
    http_app: SlackAdapter, http: aiohttp.ClientSession, received: Received, slack_api: FakeSlack
) -> None:
    status, _ = await post(http, http_app, form(slash_command("", trigger_id="trig-modal")))
    assert status == 200
    (call,) = await slack_api.wait_for_calls("views.open")
    assert call.params["trigger_id"] == "trig-modal"
    view = (
        json.loads(call.params["view"])
        if isinstance(call.params["view"], str)
        else call.params["view"]
    )
    assert view["callback_id"] == "rrt_declare"
    assert view["private_metadata"] == CHANNEL
    assert received.items == []


async def test_modal_submission_declares(
    http_app: SlackAdapter, http: aiohttp.ClientSession, received: Received
) -> None:
    body = interactive_form(view_submission("Ransomware at hospital", True, "amber"))
    status, text = await post(http, http_app, body)
    assert status == 200
    assert text == ""  # an empty ack closes the modal
    (inbound,) = await received.wait_for(1)
    assert inbound.text == "declare --exercise --tlp amber Ransomware at hospital"
    assert inbound.room_id == CHANNEL


async def test_button_click_over_http(
    http_app: SlackAdapter, http: aiohttp.ClientSession, received: Received
) -> None:
    status, _ = await post(
        http, http_app, interactive_form(block_action("answer q3 3", "1764489700.000100"))
    )
    assert status == 200
    (inbound,) = await received.wait_for(1)
    assert inbound.kind is InboundKind.BUTTON
    assert (inbound.text, inbound.target_message_id) == ("answer q3 3", "1764489700.000100")


async def test_url_verification(http_app: SlackAdapter, http: aiohttp.ClientSession) -> None:
    body = json.dumps(
        {"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV", "type": "url_verification"}
    )
    status, text = await post(http, http_app, body, "application/json")
    assert status == 200
    assert json.loads(text) == {"challenge": "3eZbrw1aBm2rZgRNFdxV"}


def test_modes_need_their_secrets(store: object, received: Received) -> None:
    with pytest.raises(ValueError, match="app-level token"):
        SlackAdapter(bot_token="xoxb-1", store=store, on_inbound=received)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="signing secret"):
        SlackAdapter(bot_token="xoxb-1", store=store, on_inbound=received, mode="http")  # type: ignore[arg-type]


# ---- Socket Mode


async def test_socket_mode_connects_with_the_app_token(
    socket_app: SlackAdapter, slack_api: FakeSlack
) -> None:
    (call,) = slack_api.calls_to("apps.connections.open")
    assert call.headers["Authorization"] == f"Bearer {APP_TOKEN}"


async def test_socket_slash_command_is_acked_and_delivered(
    socket_app: SlackAdapter, slack_api: FakeSlack, received: Received
) -> None:
    envelope = await slack_api.push(
        "slash_commands", slash_command("level L2 --reason spread", "trig-s")
    )
    assert await slack_api.ack_for(envelope) == {"envelope_id": envelope}
    (inbound,) = await received.wait_for(1)
    assert inbound.text == "level L2 --reason spread"
    assert inbound.event_id == "command:trig-s"


async def test_socket_block_action(
    socket_app: SlackAdapter, slack_api: FakeSlack, received: Received
) -> None:
    envelope = await slack_api.push("interactive", block_action("confirm", "1764489700.000100"))
    await slack_api.ack_for(envelope)
    (inbound,) = await received.wait_for(1)
    assert (inbound.kind, inbound.text) == (InboundKind.BUTTON, "confirm")


async def test_socket_view_submission(
    socket_app: SlackAdapter, slack_api: FakeSlack, received: Received
) -> None:
    envelope = await slack_api.push("interactive", view_submission("Phishing wave", False, "green"))
    await slack_api.ack_for(envelope)
    (inbound,) = await received.wait_for(1)
    assert inbound.text == "declare --tlp green Phishing wave"


async def test_socket_events(
    socket_app: SlackAdapter, slack_api: FakeSlack, received: Received
) -> None:
    for payload in (
        event_callback(reaction_added("two", "1764489700.000100"), "Ev0R"),
        event_callback(member_joined(), "Ev0J"),
    ):
        await slack_api.ack_for(await slack_api.push("events_api", payload))
    items = await received.wait_for(2)
    kinds = {inbound.event_id: inbound for inbound in items}
    assert kinds["Ev0R"].kind is InboundKind.REACTION
    assert kinds["Ev0R"].reaction == "two"
    assert kinds["Ev0J"].kind is InboundKind.JOINED


async def test_number_reply_to_a_sent_question_is_a_click(
    socket_app: SlackAdapter, slack_api: FakeSlack, received: Received
) -> None:
    question = Outbound(
        "*Q8* Suspected actor?", (Button("None", "answer q8 0"), Button("Criminal", "answer q8 2"))
    )
    sent = await socket_app.send(CHANNEL, question)
    reply = message("2", thread_ts=sent.message_id, parent_user_id=BOT_USER_ID)
    await slack_api.ack_for(await slack_api.push("events_api", event_callback(reply, "Ev0NUM")))
    (inbound,) = await received.wait_for(1)
    assert inbound.kind is InboundKind.BUTTON
    assert inbound.text == "answer q8 2"
    assert inbound.target_message_id == sent.message_id


async def test_own_messages_are_ignored(
    socket_app: SlackAdapter, slack_api: FakeSlack, received: Received
) -> None:
    own = {**message("*Q8* Suspected actor?"), "user": BOT_USER_ID, "bot_id": "BBOTID001"}
    await slack_api.ack_for(await slack_api.push("events_api", event_callback(own, "Ev0OWN")))
    other = {**message("a webhook"), "subtype": "bot_message", "bot_id": "B0HOOK001"}
    del other["user"]
    await slack_api.ack_for(await slack_api.push("events_api", event_callback(other, "Ev0HOOK")))
    await slack_api.ack_for(
        await slack_api.push("events_api", event_callback(message("hi"), "Ev0HI"))
    )
    items = await received.wait_for(1)
    assert [inbound.event_id for inbound in items] == ["Ev0HI"]


async def test_socket_retry_is_acked_and_handled_once(
    socket_app: SlackAdapter, slack_api: FakeSlack, received: Received
) -> None:
    payload = event_callback(reaction_added("three", "1764489700.000100"), "Ev0DUP")
    first = await slack_api.push("events_api", payload)
    await received.wait_for(1)
    retry = await slack_api.push("events_api", payload, retry_attempt=1, retry_reason="timeout")
    assert await slack_api.ack_for(first) == {"envelope_id": first}
    assert await slack_api.ack_for(retry) == {"envelope_id": retry}
    await slack_api.ack_for(
        await slack_api.push("events_api", event_callback(member_joined(), "Ev0NEXT"))
    )
    items = await received.wait_for(2)
    assert [inbound.event_id for inbound in items] == ["Ev0DUP", "Ev0NEXT"]


async def test_a_failing_handler_is_logged_and_later_events_still_arrive(
    socket_app: SlackAdapter,
    slack_api: FakeSlack,
    received: Received,
    caplog: pytest.LogCaptureFixture,
) -> None:
    received.failing.add("Ev0BAD")
    await slack_api.ack_for(
        await slack_api.push("events_api", event_callback(member_joined(), "Ev0BAD"))
    )
    await slack_api.ack_for(
        await slack_api.push("events_api", event_callback(message("hi"), "Ev0OK"))
    )
    items = await received.wait_for(2)
    assert {inbound.event_id for inbound in items} == {"Ev0BAD", "Ev0OK"}
    await socket_app.stop()  # waits for running handlers
    assert "Handling a Slack event failed" in caplog.text


# ---- Acks before any work

# Every kind of request the bot acts on, as (Socket Mode envelope type, payload).
REQUESTS: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    "command": ("slash_commands", lambda: slash_command("status", "trig-busy")),
    "button": ("interactive", lambda: block_action("answer q3 3", "1764489700.000100")),
    "form": ("interactive", lambda: view_submission("Phishing wave", False, "green")),
    "event": ("events_api", lambda: event_callback(message("hi"), "Ev0BUSY")),
}


def as_http(kind: str) -> tuple[str, str]:
    """(body, content type) of the request `kind` over HTTP."""
    payload = REQUESTS[kind][1]()
    if kind == "command":
        return form(payload), FORM
    if kind == "event":
        return json.dumps(payload), "application/json"
    return interactive_form(payload), FORM


@pytest.mark.parametrize("kind", list(REQUESTS))
async def test_http_requests_are_acked_while_their_handler_is_busy(
    http_app: SlackAdapter, http: aiohttp.ClientSession, received: Received, kind: str
) -> None:
    received.gate = asyncio.Event()  # the handler blocks until the test ends
    body, content_type = as_http(kind)
    assert (await post(http, http_app, body, content_type))[0] == 200
    await received.wait_for(1)
    later, later_type = as_http("event" if kind != "event" else "command")
    status, _ = await post(http, http_app, later, later_type)
    assert status == 200  # the next request too, the handler still busy
    assert not received.gate.is_set()


@pytest.mark.parametrize("kind", list(REQUESTS))
async def test_socket_envelopes_are_acked_while_their_handler_is_busy(
    socket_app: SlackAdapter, slack_api: FakeSlack, received: Received, kind: str
) -> None:
    received.gate = asyncio.Event()
    envelope_type, payload = REQUESTS[kind]
    envelope = await slack_api.push(envelope_type, payload())
    assert await slack_api.ack_for(envelope) == {"envelope_id": envelope}
    await received.wait_for(1)
    other = "event" if kind != "event" else "command"
    later = await slack_api.push(REQUESTS[other][0], REQUESTS[other][1]())
    assert await slack_api.ack_for(later) == {"envelope_id": later}
    received.gate.set()
    await received.wait_for(2)


class StalledKeyValue(MemoryKeyValue):
    """A KeyValue whose reads wait until `released`, as a database behind a lock would; it
    notes the thread of each read."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()
        self.read_on: list[int] = []

    def get(self, key: str) -> str | None:
        self.read_on.append(threading.get_ident())
        self.released.wait(WAIT_SECONDS)
        return super().get(key)


async def test_a_thread_reply_is_acked_while_its_state_is_read_off_the_event_loop(
    slack_api: FakeSlack, received: Received
) -> None:
    store = StalledKeyValue()
    adapter = SlackAdapter(
        bot_token=BOT_TOKEN,
        store=store,
        on_inbound=received,
        app_token=APP_TOKEN,
        api_base_url=slack_api.base_url,
    )
    await adapter.start()
    try:
        # A reply in a thread the bot knows nothing of: its buttons are looked up.
        reply = message("2", thread_ts="1764489700.000100")
        envelope = await slack_api.push("events_api", event_callback(reply, "Ev0STALL"))
        assert await slack_api.ack_for(envelope) == {"envelope_id": envelope}
        store.released.set()
        (inbound,) = await received.wait_for(1)
        assert (inbound.kind, inbound.text) == (InboundKind.TEXT, "2")
        assert store.read_on
        assert threading.get_ident() not in store.read_on
    finally:
        store.released.set()
        await adapter.stop()
