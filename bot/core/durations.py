"""Durations as policy editors write them: `30m`, `2h`, `1d`, `1 month`, `30s`.

A month is calendar-aware (the NIS2 and DORA final reports are due "one month" after a
filing), so spans keep months apart from the fixed part.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

_PART = re.compile(
    r"(\d+)\s*(months?|mo|weeks?|w|days?|d|hours?|h|minutes?|min|m|seconds?|secs?|s)", re.I
)
_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}


def _unit(word: str) -> str:
    word = word.lower()
    if word.startswith("mo"):
        return "mo"
    if word.startswith("mi"):
        return "m"
    return word[0]


def _split(text: str) -> tuple[int, timedelta]:
    compact = text.strip()
    if not compact or _PART.sub("", compact).strip(" ,+") != "":
        raise ValueError(f"not a duration: {text!r} (write e.g. 15m, 2h, 1d or 1 month)")
    months, seconds = 0, 0
    for amount, word in _PART.findall(compact):
        unit = _unit(word)
        if unit == "mo":
            months += int(amount)
        else:
            seconds += int(amount) * _UNIT_SECONDS[unit]
    return months, timedelta(seconds=seconds)


def parse_duration(value: Any) -> Any:
    """`2h` → timedelta(hours=2); a bare number is refused (30 what?); anything else not a
    string (a timedelta) is left to pydantic."""
    if isinstance(value, int | float):
        raise ValueError(f"{value!r} has no unit: write e.g. {value}m, {value}h or {value}s")
    if not isinstance(value, str):
        return value
    months, fixed = _split(value)
    if months:
        raise ValueError(f"{value!r}: months are not allowed here; use hours or days")
    return fixed


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes and minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes and minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]


def add_months(moment: datetime, months: int) -> datetime:
    """Same day-of-month `months` later, clamped to the month's last day (31 Jan + 1 → 28 Feb)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


class Span(BaseModel):
    """A deadline window: whole calendar months plus a fixed part."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    months: int = 0
    fixed: timedelta = timedelta(0)

    @classmethod
    def parse(cls, text: str) -> Span:
        months, fixed = _split(text)
        return cls(months=months, fixed=fixed)

    def after(self, moment: datetime) -> datetime:
        return add_months(moment, self.months) + self.fixed

    def __str__(self) -> str:
        parts = [f"{self.months} month{'s' if self.months != 1 else ''}"] if self.months else []
        if self.fixed or not parts:
            parts.append(format_duration(self.fixed))
        return " ".join(parts)


def _span(value: Any) -> Any:
    return Span.parse(value) if isinstance(value, str) else value


SpanField = Annotated[Span, BeforeValidator(_span), PlainSerializer(str, return_type=str)]
