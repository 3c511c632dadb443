"""Times are shown in the display zone; filing deadlines add UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.core.display_time import filing_time, local_time

BRUSSELS = ZoneInfo("Europe/Brussels")
WINTER = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
SUMMER = datetime(2026, 7, 1, 13, 0, tzinfo=UTC)


def test_utc_is_shown_as_utc() -> None:
    assert local_time(WINTER, UTC) == "2026-12-01 13:00 UTC"
    assert filing_time(WINTER, ZoneInfo("UTC")) == "2026-12-01 13:00 UTC"


def test_local_time_follows_daylight_saving() -> None:
    assert local_time(WINTER, BRUSSELS) == "2026-12-01 14:00 CET"
    assert local_time(SUMMER, BRUSSELS) == "2026-07-01 15:00 CEST"


def test_a_filing_deadline_shows_local_time_then_utc() -> None:
    assert filing_time(WINTER, BRUSSELS) == "2026-12-01 14:00 CET (13:00 UTC)"


def test_a_filing_deadline_names_the_utc_date_when_it_differs() -> None:
    late = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    assert filing_time(late, BRUSSELS) == "2026-12-02 00:30 CET (2026-12-01 23:30 UTC)"


def test_a_naive_time_is_read_as_utc() -> None:
    assert local_time(datetime(2026, 12, 1, 13, 0), BRUSSELS) == "2026-12-01 14:00 CET"
