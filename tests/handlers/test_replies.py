"""Reactions and replies stand for the command of the prompt they answer."""

from __future__ import annotations

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot
from handlers.replies import reaction_number
from tests.handlers.concluding import declare
from tests.handlers.conftest import dm


def test_every_option_key_and_slack_keycap_name_is_a_number() -> None:
    assert [reaction_number(key) for key in ("2️⃣", "2\u20e3", "🕚", "🕛", "🇦")] == [
        2,
        2,
        11,
        12,
        13,
    ]
    assert [reaction_number(name) for name in (":two:", "keycap_ten")] == [2, 10]
    assert reaction_number("👍") is None


async def test_a_clock_face_answers_the_eleventh_option(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    room = await declare(chat)
    q1 = chat.last(room)
    assert "Q1" in q1.text
    await chat.react("bob", q1.id, "🕚")
    incident = team_bot.store.get("INC-2026-0001")
    assert incident is not None
    assert incident.answers["Q1"].option == "test"


async def test_a_keycap_without_variation_selector_answers_a_page(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    await declare(chat)
    await chat.react("alice", dm(chat, "alice"), "1\u20e3")
    incident = team_bot.store.get("INC-2026-0001")
    assert incident is not None
    assert incident.team is not None
    coordinator = incident.team.role("coordinator")
    assert coordinator is not None
    assert coordinator.accepted == ["alice"]
