from __future__ import annotations

from bot.adapters.matrix.keycaps import (
    KEYCAPS,
    button_for_reaction,
    button_for_reply,
    option_marker,
)
from bot.port import Button

NEUTRAL = (Button("One", "one"), Button("Two", "two"))
STYLED = (Button("Keep", "keep"), Button("Go", "go", "primary"), Button("Stop", "stop", "danger"))


def test_markers_are_keycaps_then_numbers() -> None:
    assert [option_marker(i) for i in (0, 9, 10)] == ["1️⃣", "🔟", "11."]
    assert len(KEYCAPS) == 10


def test_keycaps_with_or_without_variation_selector() -> None:
    assert button_for_reaction("2️⃣", NEUTRAL) == NEUTRAL[1]
    assert button_for_reaction("2\u20e3", NEUTRAL) == NEUTRAL[1]
    assert button_for_reaction("3️⃣", NEUTRAL) is None


def test_check_and_cross_pick_primary_and_danger() -> None:
    assert button_for_reaction("✅", STYLED) == STYLED[1]
    assert button_for_reaction("❌", STYLED) == STYLED[2]
    assert button_for_reaction("✅", NEUTRAL) is None


def test_replies_by_number_or_keycap() -> None:
    assert button_for_reply(" 2. ", NEUTRAL) == NEUTRAL[1]
    assert button_for_reply("1️⃣", NEUTRAL) == NEUTRAL[0]
    assert button_for_reply("0", NEUTRAL) is None
    assert button_for_reply("", NEUTRAL) is None
    assert button_for_reply("yes", NEUTRAL) is None
