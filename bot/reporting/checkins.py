"""Check-ins (policy §4) as the report and the evaluation count them, from the log alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.core.events import LogRecord

CHECKIN_KINDS = ("checkin_requested", "checkin", "checkin_missed")


@dataclass(frozen=True, slots=True)
class CheckinSummary:
    requested: int = 0
    answered: int = 0  # by a check-in before the grace ended and before the next request
    missed: int = 0  # the grace ended with no check-in
    late: int = 0  # given after its request was missed
    unasked: int = 0  # given with no request open
    exceptions: list[LogRecord] = field(default_factory=list)  # misses and late ones, in order
    last: LogRecord | None = None  # the latest check-in given

    @property
    def any(self) -> bool:
        return bool(self.requested or self.last)


def summarise_checkins(records: Sequence[LogRecord]) -> CheckinSummary:
    requested = answered = missed = late = unasked = 0
    exceptions: list[LogRecord] = []
    last: LogRecord | None = None
    open_request = overdue = False  # a request waits for an answer; its grace has ended
    for record in records:
        kind = record.event.kind
        if kind == "checkin_requested":
            requested += 1
            open_request, overdue = True, False
        elif kind == "checkin_missed":
            missed += 1
            exceptions.append(record)
            open_request, overdue = False, True
        elif kind == "checkin":
            last = record
            if open_request:
                answered += 1
            elif overdue:
                late += 1
                exceptions.append(record)
            else:
                unasked += 1
            open_request = overdue = False
    return CheckinSummary(requested, answered, missed, late, unasked, exceptions, last)
