"""Escalation levels (policy §1)."""

from __future__ import annotations

import pytest

from bot.core.levels import Level, highest


def test_levels_rank_one_to_three() -> None:
    assert [level.rank for level in Level] == [1, 2, 3]


def test_levels_have_the_policy_titles() -> None:
    assert Level.L1.title == "cyber incident"
    assert Level.L2.title == "national cyber security incident"
    assert Level.L3.title == "national cyber security crisis"


@pytest.mark.parametrize(
    ("text", "level"),
    [("L1", Level.L1), ("l2", Level.L2), (" L3 ", Level.L3), ("1", Level.L1), ("3", Level.L3)],
)
def test_parse_accepts_names_and_numbers(text: str, level: Level) -> None:
    assert Level.parse(text) is level


@pytest.mark.parametrize("text", ["", "L0", "L4", "4", "level 2", "two", "L"])
def test_parse_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="use L1, L2 or L3"):
        Level.parse(text)


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ((), None),
        ((None,), None),
        ((None, None), None),
        ((Level.L2,), Level.L2),
        ((Level.L1, None, Level.L3, Level.L2), Level.L3),
        ((None, Level.L1), Level.L1),
    ],
)
def test_highest_ignores_missing_levels(
    levels: tuple[Level | None, ...], expected: Level | None
) -> None:
    assert highest(*levels) is expected
