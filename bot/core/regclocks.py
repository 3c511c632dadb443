"""Regulatory reporting clocks (policy §6): which run, when each is due, and when to remind.

Rules are policy data; the clocks are state the runtime persists. Functions return new lists
and never change their input.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.core.durations import Duration, SpanField


class Duty(StrEnum):
    """The Q14 reporting questions."""

    NIS2_SIGNIFICANT = "nis2_significant"
    PERSONAL_DATA_BREACH = "personal_data_breach"
    DORA_FINANCIAL_ENTITY = "dora_financial_entity"
    TRUST_SERVICE_PROVIDER = "trust_service_provider"


DutyAnswer = Literal["yes", "no", "unknown"]
DutyAnswers = dict[Duty, DutyAnswer]  # an unanswered duty is absent


def _holds(answers: DutyAnswers, duty: Duty) -> bool:
    """`unknown` counts as yes: a clock that may apply runs."""
    return answers.get(duty) in ("yes", "unknown")


class ClockRule(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key must not pass unnoticed

    title: str
    when: Duty | None = None  # the duty that starts it; None for a clock started by `after`
    start: Literal["t0", "classification"] = "t0"
    after: str | None = None  # starts when this clock is filed
    within: SpanField
    shorter_when: Duty | None = None  # e.g. a trust service provider reports sooner
    shorter_within: SpanField | None = None
    latest: SpanField | None = None  # never due later than T0 + this

    @model_validator(mode="after")
    def _one_trigger(self) -> ClockRule:
        if (self.when is None) == (self.after is None):
            raise ValueError("give exactly one of `when` (a Q14 duty) or `after` (a clock)")
        if self.after is not None and (self.latest is not None or self.start != "t0"):
            raise ValueError("a clock started by `after` runs from the filing: no `latest`/`start`")
        if (self.shorter_when is None) != (self.shorter_within is None):
            raise ValueError("`shorter_when` and `shorter_within` go together")
        return self


class ClockRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clocks: dict[str, ClockRule]
    remind_before: list[Duration] = Field(min_length=1)

    @model_validator(mode="after")
    def _chains_close(self) -> ClockRules:
        for name, rule in self.clocks.items():
            seen = {name}
            step = rule
            while step.after is not None:
                if step.after not in self.clocks:
                    raise ValueError(f"{name}: `after` names unknown clock {step.after!r}")
                if step.after in seen:
                    raise ValueError(f"{name}: clocks depend on each other in a loop")
                seen.add(step.after)
                step = self.clocks[step.after]
        return self


class Clock(BaseModel):
    id: str
    title: str
    started_at: datetime
    due: datetime
    filed_at: datetime | None = None
    dropped_at: datetime | None = None  # the duty was answered `no` after the clock started

    @property
    def running(self) -> bool:
        return self.filed_at is None and self.dropped_at is None

    @property
    def on_time(self) -> bool | None:
        return None if self.filed_at is None else self.filed_at <= self.due


class Reminder(BaseModel):
    clock_id: str
    at: datetime
    overdue: bool = False
    before: timedelta | None = None  # how long before the deadline


def _due(rule: ClockRule, started: datetime, t0: datetime, answers: DutyAnswers) -> datetime:
    window = rule.within
    if rule.shorter_when is not None and rule.shorter_within and _holds(answers, rule.shorter_when):
        window = rule.shorter_within
    due = window.after(started)
    return min(due, rule.latest.after(t0)) if rule.latest is not None else due


def _root_start(rule: ClockRule, t0: datetime, classified_at: datetime | None) -> datetime:
    return classified_at if rule.start == "classification" and classified_at else t0


def _root_clock(
    name: str, rule: ClockRule, answers: DutyAnswers, t0: datetime, classified_at: datetime | None
) -> Clock:
    started = _root_start(rule, t0, classified_at)
    due = _due(rule, started, t0, answers)
    if rule.start == "classification" and classified_at is None and rule.latest is not None:
        due = rule.latest.after(t0)  # not classified yet: the outer limit holds
    return Clock(id=name, title=rule.title, started_at=started, due=due)


def reconcile(
    rules: ClockRules,
    clocks: list[Clock],
    answers: DutyAnswers,
    *,
    t0: datetime,
    classified_at: datetime | None = None,
    now: datetime,
) -> list[Clock]:
    """Start the clocks the answers call for, re-time running ones, drop those answered `no`.

    Call it after every Q14 answer, a T0 correction, or the DORA classification.
    """
    result = [clock.model_copy() for clock in clocks]
    by_id = {clock.id: clock for clock in result}
    for name, rule in rules.clocks.items():
        if rule.when is None:
            continue
        current = by_id.get(name)
        if not _holds(answers, rule.when):
            if current is not None and current.running:
                current.dropped_at = now
            continue
        fresh = _root_clock(name, rule, answers, t0, classified_at)
        if current is None:
            result.append(fresh)
        elif current.filed_at is None:
            current.dropped_at = None
            current.started_at, current.due = fresh.started_at, fresh.due
    return result


def file(
    rules: ClockRules, clocks: list[Clock], clock_id: str, at: datetime, answers: DutyAnswers
) -> list[Clock]:
    """Stop a clock and start the ones that follow its filing; unknown or filed ids: unchanged."""
    target = next((c for c in clocks if c.id == clock_id and c.filed_at is None), None)
    if target is None:
        return clocks
    result = [c.model_copy(update={"filed_at": at}) if c is target else c for c in clocks]
    present = {c.id for c in clocks}
    for name, rule in rules.clocks.items():
        if rule.after == clock_id and name not in present:
            due = _due(rule, at, at, answers)  # no `latest` here, so T0 is not needed
            result.append(Clock(id=name, title=rule.title, started_at=at, due=due))
    return result


def reminders(clock: Clock, remind_before: list[timedelta]) -> list[Reminder]:
    """Reminders before the deadline, at half the window when it is shorter, and when overdue."""
    window = clock.due - clock.started_at
    times: dict[datetime, timedelta] = {}
    for lead in remind_before:
        if lead < window:
            times.setdefault(clock.due - lead, lead)
        else:
            times.setdefault(clock.started_at + window / 2, window / 2)
    planned = [
        Reminder(clock_id=clock.id, at=at, before=lead) for at, lead in sorted(times.items())
    ]
    return [*planned, Reminder(clock_id=clock.id, at=clock.due, overdue=True)]


def upcoming_reminders(
    clocks: list[Clock], remind_before: list[timedelta], after: datetime
) -> list[Reminder]:
    """Every reminder of a running clock later than `after`, soonest first."""
    pending = [
        reminder
        for clock in clocks
        if clock.running
        for reminder in reminders(clock, remind_before)
        if reminder.at > after
    ]
    return sorted(pending, key=lambda reminder: reminder.at)


def next_deadline(clocks: list[Clock]) -> Clock | None:
    return min((c for c in clocks if c.running), key=lambda c: c.due, default=None)
