"""Timestamps go into the database as UTC and come out timezone-aware."""

from __future__ import annotations

from datetime import UTC, datetime


def to_utc(moment: datetime) -> datetime:
    """The UTC form of an aware datetime; a naive one is refused (its zone is unknown)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamp {moment.isoformat()} has no timezone; pass UTC")
    return moment.astimezone(UTC)


def from_db(moment: datetime) -> datetime:
    """A stored timestamp as aware UTC (SQLite returns it naive)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
