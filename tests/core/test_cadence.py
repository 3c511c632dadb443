from datetime import timedelta

import pytest
from pydantic import ValidationError

from bot.core.cadence import (
    CadenceRule,
    CheckinPlan,
    CheckinStatus,
    grace_ends,
    next_due,
    plan,
    record_checkin,
    record_missed,
    replan,
    status,
)
from bot.core.levels import Level
from tests.fixtures.rosters import MONDAY_10H, policy

CADENCE = policy().cadence
START = MONDAY_10H


def hours(value: float) -> timedelta:
    return timedelta(hours=value)


def schedule(level: Level, count: int) -> list[float]:
    """Due times (hours after the start) when every check-in is given on time."""
    current, dues = plan(level, START), []
    for _ in range(count):
        due = next_due(current, CADENCE[level])
        dues.append((due - START) / hours(1))
        current = record_checkin(current, due)
    return dues


def test_level_two_checks_in_every_two_hours_for_twelve_hours_then_every_four() -> None:
    assert schedule(Level.L2, 9) == [2, 4, 6, 8, 10, 12, 16, 20, 24]


def test_level_one_daily_and_level_three_hourly() -> None:
    assert schedule(Level.L1, 2) == [24, 48]
    assert schedule(Level.L3, 3) == [1, 2, 3]


def test_an_early_check_in_moves_the_next_one() -> None:
    current = record_checkin(plan(Level.L2, START), START + hours(1))
    assert next_due(current, CADENCE[Level.L2]) == START + hours(3)


def test_grace_then_missed() -> None:
    rule = CADENCE[Level.L2]
    current = plan(Level.L2, START)
    assert status(current, rule, START + hours(1)) is CheckinStatus.WAITING
    assert status(current, rule, START + hours(2)) is CheckinStatus.DUE
    assert grace_ends(current, rule) == START + hours(2.5)
    assert status(current, rule, START + hours(2.5)) is CheckinStatus.MISSED


def test_a_missed_check_in_is_counted_and_the_schedule_goes_on() -> None:
    rule = CADENCE[Level.L2]
    missed = record_missed(plan(Level.L2, START), rule)
    assert missed.missed == 1
    assert next_due(missed, rule) == START + hours(4)


def test_a_level_change_restarts_the_cadence_from_the_change() -> None:
    current = record_checkin(plan(Level.L2, START), START + hours(4))
    raised = replan(record_missed(current, CADENCE[Level.L2]), Level.L3, START + hours(5))
    assert raised.missed == 1
    assert next_due(raised, CADENCE[Level.L3]) == START + hours(6)
    assert replan(raised, Level.L3, START + hours(7)) is raised


def test_rules_must_end_with_an_open_phase_and_positive_intervals() -> None:
    with pytest.raises(ValidationError, match="only the last phase"):
        CadenceRule.model_validate({"phases": [{"every": "1h"}, {"every": "2h"}], "grace": "5m"})
    with pytest.raises(ValidationError, match="must be positive"):
        CadenceRule.model_validate({"phases": [{"every": "0m"}], "grace": "5m"})


def test_a_plan_survives_json() -> None:
    current = record_checkin(plan(Level.L2, START), START + hours(2))
    assert CheckinPlan.model_validate_json(current.model_dump_json()) == current
