from bot.core.option_keys import CLOCK_FACES, KEYCAPS, LETTERS, OPTION_KEYS, option_number


def test_keys_are_keycaps_then_clock_faces_then_letters() -> None:
    assert OPTION_KEYS == KEYCAPS + CLOCK_FACES + LETTERS
    assert (OPTION_KEYS[0], OPTION_KEYS[9], OPTION_KEYS[10], OPTION_KEYS[12]) == (
        "1️⃣",
        "🔟",
        "🕚",
        "🇦",
    )
    assert len(set(OPTION_KEYS)) == len(OPTION_KEYS) == 38


def test_a_key_names_its_option_with_or_without_variation_selector() -> None:
    assert option_number("1️⃣") == 1
    assert option_number("4\u20e3") == 4
    assert option_number(" 🔟 ") == 10
    assert option_number("🕚") == 11
    assert option_number("🕛") == 12
    assert option_number("🇿") == 38


def test_anything_else_names_no_option() -> None:
    assert option_number("👍") is None
    assert option_number("1") is None
    assert option_number("") is None
