from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from storage.timestamps import from_db, to_utc

BRUSSELS_SUMMER = timezone(timedelta(hours=2))


def test_to_utc_converts_any_zone() -> None:
    converted = to_utc(datetime(2026, 7, 1, 12, 0, tzinfo=BRUSSELS_SUMMER))

    assert converted == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    assert converted.tzinfo is UTC


def test_to_utc_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="no timezone"):
        to_utc(datetime(2026, 7, 1, 12, 0))


def test_from_db_reads_naive_as_utc() -> None:
    assert from_db(datetime(2026, 7, 1, 10, 0)) == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    assert from_db(datetime(2026, 7, 1, 10, 0)).tzinfo is UTC


def test_from_db_normalises_aware_times_to_utc() -> None:
    read = from_db(datetime(2026, 7, 1, 12, 0, tzinfo=BRUSSELS_SUMMER))

    assert (read, read.tzinfo) == (datetime(2026, 7, 1, 10, 0, tzinfo=UTC), UTC)
