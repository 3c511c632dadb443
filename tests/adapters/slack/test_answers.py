"""Reply hints: a response_url takes five answers within 30 minutes, as Slack's do."""

from __future__ import annotations

from bot.adapters.slack.answers import (
    RESPONSE_URL_SECONDS,
    RESPONSE_URL_USES,
    ReplyHints,
    post_to_response_url,
)
from tests.fixtures.slack_api import FakeSlack


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_hint_is_found_by_the_origin_of_its_unit_of_work() -> None:
    hints = ReplyHints()
    hints.keep("command:trig-1", "C0LOBBY01", "U0ALICE01", "https://hooks.slack.test/1")
    hint = hints.of("slack:command:trig-1")
    assert hint is not None
    assert (hint.room_id, hint.user_id) == ("C0LOBBY01", "U0ALICE01")
    assert hints.of("matrix:command:trig-1") is None
    assert hints.of("timer:7") is None
    assert hints.of(None) is None


def test_a_response_url_is_used_five_times_at_most() -> None:
    hints = ReplyHints()
    hints.keep("command:trig-1", "C1", "U1", "https://hooks.slack.test/1")
    hint = hints.of("slack:command:trig-1")
    assert hint is not None
    taken = [hints.take_url(hint) for _ in range(RESPONSE_URL_USES + 1)]
    assert taken == ["https://hooks.slack.test/1"] * RESPONSE_URL_USES + [None]


def test_a_response_url_expires_after_30_minutes() -> None:
    clock = Clock()
    hints = ReplyHints(clock)
    hints.keep("command:trig-1", "C1", "U1", "https://hooks.slack.test/1")
    hint = hints.of("slack:command:trig-1")
    assert hint is not None
    clock.now += RESPONSE_URL_SECONDS - 1
    assert hints.take_url(hint) is not None
    clock.now += 1
    assert hints.take_url(hint) is None


def test_a_form_without_a_response_url_keeps_a_hint_without_one() -> None:
    hints = ReplyHints()
    hints.keep("view:V1", "C1", "U1", None)
    hint = hints.of("slack:view:V1")
    assert hint is not None
    assert hints.take_url(hint) is None


async def test_the_fake_takes_five_answers_and_records_them(slack_api: FakeSlack) -> None:
    url = slack_api.response_url()
    answers = [await post_to_response_url(url, {"text": f"answer {n}"}) for n in range(6)]
    assert answers == [True] * 5 + [False]
    assert [r["text"] for r in slack_api.responses] == [f"answer {n}" for n in range(5)]


async def test_an_expired_or_unknown_response_url_is_refused(slack_api: FakeSlack) -> None:
    url = slack_api.response_url()
    slack_api.expire_response_urls()
    assert not await post_to_response_url(url, {"text": "late"})
    assert not await post_to_response_url(f"{url}0", {"text": "unknown"})
    assert slack_api.responses == []
