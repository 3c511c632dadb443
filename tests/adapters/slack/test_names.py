from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.adapters.slack.names import MAX_LENGTH, channel_name, numbered


def test_keeps_a_valid_slug() -> None:
    assert channel_name("inc-2026-0007-ransomware") == "inc-2026-0007-ransomware"


def test_lowercases_and_replaces_other_characters() -> None:
    assert (
        channel_name("INC-2026-0007 · Ransomware @ Hôpital!") == "inc-2026-0007-ransomware-hopital"
    )


def test_keeps_underscores_and_collapses_hyphens() -> None:
    assert channel_name("--a__b---c--") == "a__b-c"


def test_cuts_to_eighty_characters_without_a_trailing_hyphen() -> None:
    name = channel_name("inc-" + "a" * 75 + "-bbbb")
    assert len(name) <= MAX_LENGTH
    assert name == "inc-" + "a" * 75


def test_empty_or_symbol_only_slug_falls_back() -> None:
    assert channel_name("") == "incident"
    assert channel_name("§§§") == "incident"


def test_numbered_names_after_the_first() -> None:
    assert numbered("inc-7", 1) == "inc-7"
    assert numbered("inc-7", 2) == "inc-7-2"
    assert numbered("inc-7", 13) == "inc-7-13"


def test_numbered_name_stays_within_the_limit() -> None:
    base = "a" * MAX_LENGTH
    assert numbered(base, 3) == "a" * (MAX_LENGTH - 2) + "-3"


@given(st.text(max_size=200), st.integers(min_value=1, max_value=999))
def test_every_name_is_valid(slug: str, attempt: int) -> None:
    name = numbered(channel_name(slug), attempt)
    assert 0 < len(name) <= MAX_LENGTH
    assert all(char in "abcdefghijklmnopqrstuvwxyz0123456789-_" for char in name)
