"""Check-in cadence (policy §4): when the coordinator next owes a Conditions/Actions/Needs update.

The schedule counts from an anchor (the start of response, or the last level change): each
phase sets the interval until its `for` span has elapsed from the anchor; the next check-in is
due one interval after the last one (or after the anchor).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.core.durations import Duration
from bot.core.levels import Level


class CadencePhase(BaseModel):
    every: Duration
    for_: Duration | None = Field(default=None, alias="for")  # None: until the end

    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class CadenceRule(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key must not pass unnoticed

    phases: list[CadencePhase] = Field(min_length=1)
    grace: Duration  # no update within this after a check-in is due: re-ping, log a miss

    @model_validator(mode="after")
    def _open_ended(self) -> CadenceRule:
        if any(phase.for_ is None for phase in self.phases[:-1]):
            raise ValueError("only the last phase may run without `for`")
        if any(phase.every <= timedelta(0) for phase in self.phases):
            raise ValueError("`every` must be positive")
        return self

    def interval_at(self, elapsed: timedelta) -> timedelta:
        """The interval in force `elapsed` after the anchor."""
        boundary = timedelta(0)
        for phase in self.phases:
            if phase.for_ is None:
                return phase.every
            boundary += phase.for_
            if elapsed < boundary:
                return phase.every
        return self.phases[-1].every


class CheckinPlan(BaseModel):
    """What the runtime persists per incident."""

    level: Level
    anchor: datetime  # start of response, or the last level change
    last: datetime | None = None  # last check-in given, or last slot missed
    missed: int = 0


class CheckinStatus(StrEnum):
    WAITING = "waiting"  # not yet due
    DUE = "due"  # ask the coordinator
    MISSED = "missed"  # past the grace: re-ping and log


def plan(level: Level, response_started: datetime) -> CheckinPlan:
    return CheckinPlan(level=level, anchor=response_started)


def next_due(current: CheckinPlan, rule: CadenceRule) -> datetime:
    reference = current.last or current.anchor
    return reference + rule.interval_at(reference - current.anchor)


def grace_ends(current: CheckinPlan, rule: CadenceRule) -> datetime:
    return next_due(current, rule) + rule.grace


def status(current: CheckinPlan, rule: CadenceRule, now: datetime) -> CheckinStatus:
    if now >= grace_ends(current, rule):
        return CheckinStatus.MISSED
    return CheckinStatus.DUE if now >= next_due(current, rule) else CheckinStatus.WAITING


def record_checkin(current: CheckinPlan, at: datetime) -> CheckinPlan:
    return current.model_copy(update={"last": at})


def record_missed(current: CheckinPlan, rule: CadenceRule) -> CheckinPlan:
    """Count the missed slot and move on: the next check-in is one interval after it."""
    return current.model_copy(
        update={"last": next_due(current, rule), "missed": current.missed + 1}
    )


def replan(current: CheckinPlan, level: Level, changed_at: datetime) -> CheckinPlan:
    """A new level sets a new cadence, counted from the change."""
    if level is current.level:
        return current
    return CheckinPlan(level=level, anchor=changed_at, missed=current.missed)
