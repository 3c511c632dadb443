"""The condition language of the policy files: parsing, evaluating, describing."""

from __future__ import annotations

import pytest

from bot.core.conditions import Condition, describe, first_matching, parse_rule


@pytest.mark.parametrize(
    ("text", "variable", "op", "value"),
    [
        ("S >= 55", "S", ">=", 55),
        ("Q3 = 4", "Q3", "=", 4),
        ("Q3 == 4", "Q3", "=", 4),
        ("Q9>=3", "Q9", ">=", 3),
        ("  S < 20.5 ", "S", "<", 20.5),
        ("Q10 != 0", "Q10", "!=", 0),
        ("Q14a <= 1", "Q14a", "<=", 1),
        ("x_1 > -2", "x_1", ">", -2),
    ],
)
def test_conditions_parse(text: str, variable: str, op: str, value: float) -> None:
    assert Condition.parse(text) == Condition(variable, op, value)


@pytest.mark.parametrize(
    "text",
    ["", "S", "S >=", ">= 55", "S => 55", "S ≥ 55", "3Q >= 1", "S >= abc", "S >= 5 5", "S >= 1e3"],
)
def test_malformed_conditions_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a condition"):
        Condition.parse(text)


@pytest.mark.parametrize(
    ("text", "value", "holds"),
    [
        ("S >= 55", 55, True),
        ("S >= 55", 54.9, False),
        ("S > 55", 55, False),
        ("S <= 20", 20, True),
        ("S < 20", 20, False),
        ("S = 4", 4, True),
        ("S != 4", 4, False),
        ("S != 4", 3, True),
    ],
)
def test_each_operator(text: str, value: float, holds: bool) -> None:
    assert Condition.parse(text).holds({"S": value}) is holds


def test_an_unanswered_variable_never_matches() -> None:
    assert not Condition.parse("Q3 != 4").holds({})
    assert not Condition.parse("Q3 <= 4").holds({"Q4": 0})


@pytest.mark.parametrize(
    ("text", "shown"), [("S>=55", "S >= 55"), ("Q3 == 4", "Q3 = 4"), ("S < 20.5", "S < 20.5")]
)
def test_conditions_print_as_people_write_them(text: str, shown: str) -> None:
    assert str(Condition.parse(text)) == shown


def test_the_first_matching_alternative_is_found() -> None:
    rule = parse_rule([["S >= 70", "Q12 >= 2"], ["Q12 = 4"], ["Q9 >= 3"]])

    assert first_matching(rule, {"S": 80, "Q12": 4, "Q9": 4}) == rule[0]
    assert first_matching(rule, {"S": 60, "Q12": 4, "Q9": 4}) == rule[1]
    assert first_matching(rule, {"S": 60, "Q12": 0, "Q9": 3}) == rule[2]
    assert first_matching(rule, {"S": 60, "Q12": 2, "Q9": 0}) is None


def test_an_empty_rule_never_matches_and_an_empty_clause_always_does() -> None:
    assert first_matching(parse_rule([]), {"S": 100}) is None
    assert first_matching(parse_rule([[]]), {}) == ()


def test_describe_joins_a_clause_with_and() -> None:
    (clause,) = parse_rule([["Q4 = 4", "Q3 = 4", "Q9 >= 3"]])
    assert describe(clause) == "Q4 = 4 and Q3 = 4 and Q9 >= 3"
