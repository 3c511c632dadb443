"""Times as people read them, in the display time zone; stored and logged times stay UTC."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo


def _aware(moment: datetime) -> datetime:
    # Every stored time is UTC; a naive one (e.g. parsed from event data) is read as such.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def local_time(moment: datetime, zone: tzinfo) -> str:
    """`2026-12-01 14:00 CET`."""
    shown = _aware(moment).astimezone(zone)
    return f"{shown:%Y-%m-%d %H:%M} {shown.tzname()}"


def filing_time(moment: datetime, zone: tzinfo) -> str:
    """A regulatory deadline: local time first, then UTC, in which filings are made.

    `2026-12-01 14:00 CET (13:00 UTC)`, with the UTC date when it differs.
    """
    shown = local_time(moment, zone)
    if shown.endswith(" UTC"):
        return shown
    utc = _aware(moment).astimezone(UTC)
    same_day = utc.date() == _aware(moment).astimezone(zone).date()
    return f"{shown} ({utc:%H:%M} UTC)" if same_day else f"{shown} ({utc:%Y-%m-%d %H:%M} UTC)"
