from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from bot.core.regclocks import (
    Clock,
    ClockRules,
    Duty,
    DutyAnswers,
    file,
    next_deadline,
    reconcile,
    reminders,
    upcoming_reminders,
)
from tests.fixtures.rosters import policy

RULES = policy().regulatory
T0 = datetime(2026, 1, 30, 9, 0, tzinfo=UTC)
NIS2 = Duty.NIS2_SIGNIFICANT
GDPR = Duty.PERSONAL_DATA_BREACH
DORA = Duty.DORA_FINANCIAL_ENTITY
TSP = Duty.TRUST_SERVICE_PROVIDER


def hours(value: float) -> timedelta:
    return timedelta(hours=value)


def started(answers: DutyAnswers, classified_at: datetime | None = None) -> dict[str, Clock]:
    clocks = reconcile(RULES, [], answers, t0=T0, classified_at=classified_at, now=T0)
    return {clock.id: clock for clock in clocks}


def test_nis2_starts_the_early_warning_and_the_notification() -> None:
    clocks = started({NIS2: "yes", TSP: "no"})
    assert set(clocks) == {"nis2_early_warning", "nis2_notification"}
    assert clocks["nis2_early_warning"].due == T0 + hours(24)
    assert clocks["nis2_notification"].due == T0 + hours(72)


@pytest.mark.parametrize("provider", ["yes", "unknown"])
def test_a_trust_service_provider_notifies_within_a_day(provider: str) -> None:
    clocks = started({NIS2: "yes", TSP: provider})  # type: ignore[dict-item]
    assert clocks["nis2_notification"].due == T0 + hours(24)


def test_unknown_starts_a_clock_and_unanswered_or_no_does_not() -> None:
    assert set(started({GDPR: "unknown"})) == {"gdpr_breach"}
    assert started({GDPR: "unknown"})["gdpr_breach"].due == T0 + hours(72)
    assert started({}) == {}
    assert started({NIS2: "no", GDPR: "no", DORA: "no", TSP: "yes"}) == {}


@pytest.mark.parametrize(
    ("classified_after", "due_after"),
    [(None, 24), (2, 6), (21.5, 24)],
)
def test_dora_initial_is_four_hours_after_classification_and_at_most_a_day_after_t0(
    classified_after: float | None, due_after: float
) -> None:
    classified = T0 + hours(classified_after) if classified_after is not None else None
    clock = started({DORA: "yes"}, classified)["dora_initial"]
    assert clock.due == T0 + hours(due_after)


def test_classification_later_re_times_the_running_clock() -> None:
    clocks = reconcile(RULES, [], {DORA: "yes"}, t0=T0, now=T0)
    later = reconcile(RULES, clocks, {DORA: "yes"}, t0=T0, classified_at=T0 + hours(1), now=T0)
    assert [c.due for c in later] == [T0 + hours(5)]
    assert later[0].started_at == T0 + hours(1)
    assert clocks[0].due == T0 + hours(24)  # the input list is untouched


def test_filing_stops_a_clock_and_starts_what_follows() -> None:
    clocks = reconcile(RULES, [], {NIS2: "yes"}, t0=T0, now=T0)
    filed_at = T0 + hours(30)
    after = {c.id: c for c in file(RULES, clocks, "nis2_notification", filed_at, {NIS2: "yes"})}
    assert after["nis2_notification"].filed_at == filed_at
    assert after["nis2_notification"].on_time
    assert not after["nis2_notification"].running
    assert after["nis2_final"].started_at == filed_at
    assert after["nis2_final"].due == datetime(2026, 2, 28, 15, 0, tzinfo=UTC)  # one month on
    assert after["nis2_early_warning"].running


def test_the_dora_chain() -> None:
    answers: DutyAnswers = {DORA: "yes"}
    clocks = reconcile(RULES, [], answers, t0=T0, classified_at=T0, now=T0)
    clocks = file(RULES, clocks, "dora_initial", T0 + hours(3), answers)
    intermediate = next(c for c in clocks if c.id == "dora_intermediate")
    assert intermediate.due == T0 + hours(75)
    clocks = file(RULES, clocks, "dora_intermediate", T0 + hours(80), answers)
    final = next(c for c in clocks if c.id == "dora_final")
    assert final.due == datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # filed 2 Feb 17:00
    late = next(c for c in clocks if c.id == "dora_intermediate")
    assert late.on_time is False


def test_filing_an_unknown_or_filed_clock_changes_nothing() -> None:
    clocks = reconcile(RULES, [], {GDPR: "yes"}, t0=T0, now=T0)
    assert file(RULES, clocks, "nis2_final", T0, {}) is clocks
    once = file(RULES, clocks, "gdpr_breach", T0 + hours(1), {})
    assert file(RULES, once, "gdpr_breach", T0 + hours(2), {}) is once


def test_a_changed_answer_drops_and_restores_a_clock() -> None:
    clocks = reconcile(RULES, [], {GDPR: "unknown"}, t0=T0, now=T0)
    dropped = reconcile(RULES, clocks, {GDPR: "no"}, t0=T0, now=T0 + hours(2))
    assert dropped[0].dropped_at == T0 + hours(2)
    assert next_deadline(dropped) is None
    restored = reconcile(RULES, dropped, {GDPR: "yes"}, t0=T0, now=T0 + hours(3))
    assert restored[0].running


def test_reminders_six_and_one_hour_before_and_when_overdue() -> None:
    clock = started({GDPR: "yes"})["gdpr_breach"]
    planned = reminders(clock, RULES.remind_before)
    assert [(r.at - T0, r.overdue) for r in planned] == [
        (hours(66), False),
        (hours(71), False),
        (hours(72), True),
    ]
    assert planned[0].before == hours(6)


def test_a_short_window_is_reminded_at_its_half() -> None:
    clock = started({DORA: "yes"}, T0)["dora_initial"]  # four hours
    assert [r.at - T0 for r in reminders(clock, RULES.remind_before)] == [
        hours(2),
        hours(3),
        hours(4),
    ]
    tiny = clock.model_copy(update={"due": T0 + hours(1)})
    assert [r.at - T0 for r in reminders(tiny, RULES.remind_before)] == [hours(0.5), hours(1)]


def test_next_deadline_and_upcoming_reminders_cover_running_clocks_only() -> None:
    clocks = reconcile(RULES, [], {NIS2: "yes", GDPR: "yes"}, t0=T0, now=T0)
    soonest = next_deadline(clocks)
    assert soonest is not None
    assert soonest.id == "nis2_early_warning"
    clocks = file(RULES, clocks, "nis2_early_warning", T0 + hours(1), {NIS2: "yes"})
    soonest = next_deadline(clocks)
    assert soonest is not None
    assert soonest.due == T0 + hours(72)
    upcoming = upcoming_reminders(clocks, RULES.remind_before, after=T0 + hours(70))
    assert [(r.clock_id, r.at - T0) for r in upcoming] == [
        ("nis2_notification", hours(71)),
        ("gdpr_breach", hours(71)),
        ("nis2_notification", hours(72)),
        ("gdpr_breach", hours(72)),
    ]


def test_clock_rules_are_checked() -> None:
    base = {"title": "x", "within": "1h"}
    with pytest.raises(ValidationError, match="exactly one"):
        ClockRules.model_validate({"clocks": {"a": base}, "remind_before": ["1h"]})
    loop = {"a": {**base, "after": "b"}, "b": {**base, "after": "a"}}
    with pytest.raises(ValidationError, match="loop"):
        ClockRules.model_validate({"clocks": loop, "remind_before": ["1h"]})
    capped = {
        "a": {**base, "when": "nis2_significant"},
        "b": {**base, "after": "a", "latest": "1d"},
    }
    with pytest.raises(ValidationError, match="runs from the filing"):
        ClockRules.model_validate({"clocks": capped, "remind_before": ["1h"]})
    half = {"a": {**base, "when": "nis2_significant", "shorter_when": "trust_service_provider"}}
    with pytest.raises(ValidationError, match="go together"):
        ClockRules.model_validate({"clocks": half, "remind_before": ["1h"]})


def test_clocks_survive_json() -> None:
    clock = started({NIS2: "yes"})["nis2_notification"]
    assert Clock.model_validate_json(clock.model_dump_json()) == clock
