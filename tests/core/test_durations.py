from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from bot.core.durations import Duration, Span, SpanField, add_months, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(minutes=90)),
        ("2 hours", timedelta(hours=2)),
        ("1w", timedelta(days=7)),
        ("30s", timedelta(seconds=30)),
        ("1m30s", timedelta(seconds=90)),
    ],
)
def test_durations_read_as_editors_write_them(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "15 minutes please", "1 month"])
def test_bad_or_calendar_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|months"):
        parse_duration(text)


@pytest.mark.parametrize("number", [30, 1.5])
def test_a_bare_number_is_refused_for_want_of_a_unit(number: float) -> None:
    with pytest.raises(ValueError, match=r"has no unit: write e\.g\. .*m, .*h or .*s"):
        parse_duration(number)


def test_a_month_is_a_calendar_month_clamped_to_the_last_day() -> None:
    assert add_months(datetime(2026, 1, 31, 12, tzinfo=UTC), 1) == datetime(
        2026, 2, 28, 12, tzinfo=UTC
    )
    assert add_months(datetime(2026, 12, 15, tzinfo=UTC), 1) == datetime(2027, 1, 15, tzinfo=UTC)
    span = Span.parse("1 month 2h")
    assert span.after(datetime(2026, 3, 5, tzinfo=UTC)) == datetime(2026, 4, 5, 2, tzinfo=UTC)


class _Holder(BaseModel):
    wait: Duration
    window: SpanField


@pytest.mark.parametrize(("written", "dumped"), [("90m", "90m"), ("2h", "2h"), ("90s", "90s")])
def test_fields_round_trip_through_json(written: str, dumped: str) -> None:
    holder = _Holder.model_validate({"wait": written, "window": "1 month"})
    assert holder.model_dump(mode="json") == {"wait": dumped, "window": "1 month"}
    assert _Holder.model_validate_json(holder.model_dump_json()) == holder
