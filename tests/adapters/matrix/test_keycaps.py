from __future__ import annotations

from bot.adapters.matrix.keycaps import button_for_reaction, button_for_reply, option_marker
from bot.core.option_keys import KEYCAPS, OPTION_KEYS
from bot.port import Button

NEUTRAL = (Button("One", "one"), Button("Two", "two"))
STYLED = (Button("Keep", "keep"), Button("Go", "go", "primary"), Button("Stop", "stop", "danger"))


def test_markers_are_keycaps_then_clock_faces_then_letters_then_numbers() -> None:
    assert [option_marker(i) for i in (0, 9, 10, 11, 12, 37)] == [
        "1️⃣",
        "🔟",
        "🕚",
        "🕛",
        "🇦",
        "🇿",
    ]
    assert option_marker(len(OPTION_KEYS)) == f"{len(OPTION_KEYS) + 1}."
    assert len(KEYCAPS) == 10


def test_every_option_key_is_one_distinct_emoji() -> None:
    assert len(set(OPTION_KEYS)) == len(OPTION_KEYS)
    # One grapheme each: a keycap is a digit with its combining mark, the rest one code point.
    assert all(len(key.replace("\ufe0f", "").replace("\u20e3", "")) == 1 for key in OPTION_KEYS)


def test_options_past_ten_are_picked_by_their_key_or_number() -> None:
    twelve = tuple(Button(f"Option {n}", f"answer Q1 {n}") for n in range(1, 13))

    assert button_for_reaction("🕚", twelve) == twelve[10]
    assert button_for_reaction("🕛", twelve) == twelve[11]
    assert button_for_reaction("🕛", twelve[:11]) is None
    assert button_for_reply("12", twelve) == twelve[11]
    assert button_for_reply("🕚", twelve) == twelve[10]


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
