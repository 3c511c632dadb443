"""Web API failures: 429 with Retry-After, error codes, an unreachable server."""

from __future__ import annotations

import pytest

from bot.adapters.slack.limits import Rate, RateLimiter
from bot.adapters.slack.web import TROUBLE, SlackWeb, web_client
from bot.delivery import notice_text
from bot.port import PlatformError
from tests.adapters.slack.conftest import BOT_TOKEN
from tests.fixtures.ports import free_port
from tests.fixtures.slack_api import FakeSlack


def slack_web(base_url: str) -> SlackWeb:
    return SlackWeb(web_client(BOT_TOKEN, base_url), RateLimiter({}))


async def test_429_is_retried_after_retry_after(slack_api: FakeSlack) -> None:
    web = slack_web(slack_api.base_url)
    slack_api.rate_limit_next("pins.add", retry_after=1)
    await web.call("pins.add", lambda: web.client.pins_add(channel="C1", timestamp="1.2"))
    first, retry = slack_api.calls_to("pins.add")
    assert retry.at - first.at >= 0.95
    assert retry.params == first.params


async def test_persistent_429_becomes_ratelimited(slack_api: FakeSlack) -> None:
    web = slack_web(slack_api.base_url)
    slack_api.rate_limit_next("pins.add", retry_after=0, times=3)
    with pytest.raises(PlatformError) as raised:
        await web.call("pins.add", lambda: web.client.pins_add(channel="C1", timestamp="1.2"))
    assert raised.value.code == "ratelimited"
    assert len(slack_api.calls_to("pins.add")) == 3


async def test_missing_scope_names_the_scope(slack_api: FakeSlack) -> None:
    web = slack_web(slack_api.base_url)
    slack_api.fail_next("pins.add", "missing_scope")
    with pytest.raises(PlatformError) as raised:
        await web.call("pins.add", lambda: web.client.pins_add(channel="C1", timestamp="1.2"))
    assert raised.value.code == "missing_scope"


async def test_unknown_error_code_keeps_the_code(slack_api: FakeSlack) -> None:
    web = slack_web(slack_api.base_url)
    slack_api.fail_next("pins.add", "team_access_not_granted")
    with pytest.raises(PlatformError) as raised:
        await web.call("pins.add", lambda: web.client.pins_add(channel="C1", timestamp="1.2"))
    assert raised.value.code == "team_access_not_granted"
    assert raised.value.detail == "Slack refused pins.add."


async def test_unreachable_slack() -> None:
    port = free_port()  # nobody listens on it
    web = slack_web(f"http://127.0.0.1:{port}/api/")
    with pytest.raises(PlatformError) as raised:
        await web.call("auth.test", web.client.auth_test)
    assert raised.value.code == "unreachable"
    assert raised.value.retry_after == 0.0  # tried again later


async def test_calls_are_paced_by_the_limiter(slack_api: FakeSlack) -> None:
    waits: list[float] = []

    async def record_wait(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    now = [0.0]
    limiter = RateLimiter({"pins.add": Rate(1, 3.0)}, monotonic=lambda: now[0], sleep=record_wait)
    web = SlackWeb(web_client(BOT_TOKEN, slack_api.base_url), limiter)
    for _ in range(2):
        await web.call("pins.add", lambda: web.client.pins_add(channel="C1", timestamp="1.2"))
    assert waits == [3.0]
    assert len(slack_api.calls_to("pins.add")) == 2


async def test_a_server_error_is_retried_once_then_reads_as_trouble(slack_api: FakeSlack) -> None:
    web = slack_web(slack_api.base_url)
    slack_api.fail_next_with_status("pins.add", 500, times=2)
    with pytest.raises(PlatformError) as raised:
        await web.call("pins.add", lambda: web.client.pins_add(channel="C1", timestamp="1.2"))
    assert len(slack_api.calls_to("pins.add")) == 2
    assert (raised.value.code, raised.value.detail) == ("http_500", TROUBLE)
    assert raised.value.retry_after == 0.0
    slack_api.fail_next_with_status("pins.add", 500)
    await web.call("pins.add", lambda: web.client.pins_add(channel="C1", timestamp="1.2"))


async def test_a_request_sent_and_never_answered_is_not_sent_again_here(
    slack_api: FakeSlack,
) -> None:
    """Slack may have posted it: the outbox's retry, which looks for it first, sends it again."""
    web = SlackWeb(web_client(BOT_TOKEN, slack_api.base_url, timeout=1), RateLimiter({}))
    slack_api.answer_delay = 3.0

    with pytest.raises(PlatformError) as raised:
        await web.call(
            "chat.postMessage", lambda: web.client.chat_postMessage(channel="C1", text="hi")
        )

    assert raised.value.code == "unreachable"
    assert raised.value.retry_after == 0.0
    assert len(slack_api.calls_to("chat.postMessage")) == 1


@pytest.mark.parametrize("code", ["internal_error", "fatal_error"])
async def test_slacks_own_error_codes_read_as_trouble(slack_api: FakeSlack, code: str) -> None:
    web = slack_web(slack_api.base_url)
    slack_api.fail_next("pins.add", code)
    with pytest.raises(PlatformError) as raised:
        await web.call("pins.add", lambda: web.client.pins_add(channel="C1", timestamp="1.2"))
    assert (raised.value.code, raised.value.detail) == (code, TROUBLE)
    assert raised.value.retry_after == 0.0
    assert "refused" not in notice_text(raised.value)
    assert notice_text(raised.value) == (
        f"The chat platform could not do part of that: Slack is having trouble right now "
        f"({code}). What was recorded is kept; try again in a few minutes."
    )


async def test_persistent_429_keeps_slacks_retry_after(slack_api: FakeSlack) -> None:
    web = slack_web(slack_api.base_url)
    slack_api.rate_limit_next("pins.add", retry_after=0, times=2)
    slack_api.rate_limit_next("pins.add", retry_after=7)
    with pytest.raises(PlatformError) as raised:
        await web.call("pins.add", lambda: web.client.pins_add(channel="C1", timestamp="1.2"))
    assert raised.value.retry_after == 7.0


async def test_a_refusal_is_final_and_says_refused(slack_api: FakeSlack) -> None:
    web = slack_web(slack_api.base_url)
    slack_api.fail_next("pins.add", "is_archived")
    with pytest.raises(PlatformError) as raised:
        await web.call("pins.add", lambda: web.client.pins_add(channel="C1", timestamp="1.2"))
    assert raised.value.retry_after is None
    assert raised.value.about_room
    assert notice_text(raised.value).startswith("The chat platform refused part of that:")


async def test_the_fake_tells_an_effect_posted_twice_from_a_new_one_saying_the_same(
    slack_api: FakeSlack,
) -> None:
    web = slack_web(slack_api.base_url)

    async def post(key: str) -> None:
        metadata = {"event_type": "rrt_effect", "event_payload": {"key": key}}
        await web.call(
            "chat.postMessage",
            lambda: web.client.chat_postMessage(channel="D1", text="Paged", metadata=metadata),
        )

    await post("slack:evt-1#1")
    await post("timer:7#1")  # paged again by a timeout: another effect, the same words
    assert slack_api.posted_twice() == []

    await post("slack:evt-1#1")
    ((_at, channel, what),) = slack_api.posted_twice()
    assert (channel, what) == ("D1", "effect slack:evt-1#1")
