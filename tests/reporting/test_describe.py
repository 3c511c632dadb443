"""Every log event reads as one plain line in the timeline and the report."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.core.events import LogEvent
from bot.reporting.describe import describe_event

NAMES = {"alice": "Alice Martin", "bob": "Bob Peeters"}


@pytest.mark.parametrize(
    ("kind", "actor", "data", "expected"),
    [
        (
            "declared",
            "alice",
            {"title": "Ransomware", "tlp": "TLP:AMBER"},
            "Alice Martin declared “Ransomware” (TLP:AMBER)",
        ),
        (
            "answered",
            "bob",
            {"question": "Q3", "option": "essential"},
            "Bob Peeters answered Q3 → essential",
        ),
        ("level_confirmed", "alice", {"level": "L2"}, "Alice Martin confirmed L2"),
        ("paged", "bot", {"person": "bob", "role": "analyst"}, "Bob Peeters paged as analyst"),
        (
            "page_declined",
            "bob",
            {"person": "bob", "role": "analyst"},
            "Bob Peeters declined as analyst",
        ),
        ("role_unfilled", "bot", {"role": "forensics"}, "role forensics still unfilled"),
        (
            "clock_filed",
            "alice",
            {"clock": "nis2_early_warning", "on_time": True},
            "Alice Martin filed nis2_early_warning (on time)",
        ),
        ("clock_reminder", "bot", {"clock": "gdpr", "overdue": True}, "clock gdpr: overdue"),
        ("checkin", "alice", {"text": "C: stable"}, "Alice Martin check-in: C: stable"),
        (
            "checkin_missed",
            "bot",
            {"due": "2026-11-30T10:00:00+00:00"},
            "check-in missed (due 2026-11-30 10:00 UTC)",
        ),
        ("something_new", "alice", {}, "Alice Martin: something new"),
    ],
)
def test_event_lines(kind: str, actor: str, data: dict[str, object], expected: str) -> None:
    event = LogEvent(kind=kind, actor=actor, at=datetime(2026, 11, 30, tzinfo=UTC), data=data)
    assert describe_event(event, NAMES, UTC) == expected


def test_times_in_event_data_follow_the_display_zone() -> None:
    brussels = ZoneInfo("Europe/Brussels")
    at = datetime(2026, 11, 30, tzinfo=UTC)
    started = LogEvent(
        kind="clock_started",
        actor="bot",
        at=at,
        data={"clock": "nis2_early_warning", "due": "2026-12-01T13:00:00+00:00"},
    )
    # A filing deadline keeps its UTC time beside the local one.
    assert describe_event(started, NAMES, brussels) == (
        "clock nis2_early_warning started, due 2026-12-01 14:00 CET (13:00 UTC)"
    )
    missed = LogEvent(
        kind="checkin_missed", actor="bot", at=at, data={"due": "2026-11-30T10:00:00+00:00"}
    )
    assert describe_event(missed, NAMES, brussels) == "check-in missed (due 2026-11-30 11:00 CET)"
