"""Report metrics, computed from the incident log alone (nothing is stored twice)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median

from bot.core.events import LogRecord


@dataclass(frozen=True, slots=True)
class Metrics:
    declared_at: datetime | None
    time_to_triage: timedelta | None  # declaration → level confirmed or set
    time_to_team: timedelta | None  # declaration → last role filled; None unless all were
    time_to_contained: timedelta | None
    time_to_resolved: timedelta | None
    ack_latency_by_role: dict[str, timedelta] = field(default_factory=dict)  # median
    never_filled: tuple[str, ...] = ()  # roles the team needed that nobody ever filled


def _first(
    records: Sequence[LogRecord], *kinds: str, to_state: str | None = None
) -> datetime | None:
    for record in records:
        event = record.event
        if event.kind not in kinds:
            continue
        if to_state is not None and event.data.get("to_state") != to_state:
            continue
        return event.at
    return None


def _since(start: datetime | None, end: datetime | None) -> timedelta | None:
    return end - start if start is not None and end is not None else None


def accepted_pages(records: Sequence[LogRecord]) -> list[tuple[str, str, timedelta]]:
    """(person, role, time from page to acceptance) for every accepted page."""
    paged: dict[tuple[str, str], datetime] = {}
    accepted: list[tuple[str, str, timedelta]] = []
    for record in records:
        event = record.event
        person, role = event.data.get("person"), event.data.get("role")
        if not isinstance(person, str) or not isinstance(role, str):
            continue
        if event.kind == "paged":
            paged[(person, role)] = event.at
        elif event.kind == "page_accepted" and (person, role) in paged:
            accepted.append((person, role, event.at - paged.pop((person, role))))
    return accepted


def ack_latencies(records: Sequence[LogRecord]) -> dict[str, list[timedelta]]:
    """Per role, the time from each page to its acceptance."""
    latencies: dict[str, list[timedelta]] = defaultdict(list)
    for _person, role, latency in accepted_pages(records):
        latencies[role].append(latency)
    return dict(latencies)


TEAM_NEEDS = ("team_assembled", "team_proposed")  # their `picks` name every role needed
ROLE_EVENTS = ("paged", "role_unfilled", "paging_exhausted")


def required_roles(records: Sequence[LogRecord]) -> list[str]:
    """Every role the team needed, in the order they first appear in the log."""
    roles: dict[str, None] = {}
    for record in records:
        event = record.event
        if event.kind in TEAM_NEEDS and isinstance(event.data.get("picks"), dict):
            roles.update(dict.fromkeys(str(role) for role in event.data["picks"]))
        elif event.kind in ROLE_EVENTS and isinstance(event.data.get("role"), str):
            roles[event.data["role"]] = None
    return list(roles)


def compute(records: Sequence[LogRecord]) -> Metrics:
    declared = _first(records, "declared")
    filled = {
        r.event.data.get("role"): r.event.at for r in records if r.event.kind == "role_filled"
    }
    never_filled = tuple(role for role in required_roles(records) if role not in filled)
    # A team with a role never filled was never assembled: timing it would flatter the team.
    assembled = max(filled.values()) if filled and not never_filled else None
    return Metrics(
        declared_at=declared,
        time_to_triage=_since(declared, _first(records, "level_confirmed", "level_set")),
        time_to_team=_since(declared, assembled),
        time_to_contained=_since(declared, _first(records, "state_changed", to_state="contained")),
        time_to_resolved=_since(declared, _first(records, "state_changed", to_state="resolved")),
        ack_latency_by_role={
            role: timedelta(seconds=median(d.total_seconds() for d in values))
            for role, values in sorted(ack_latencies(records).items())
        },
        never_filled=never_filled,
    )


def duration(value: timedelta | None) -> str:
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if hours or days:
        parts.append(f"{hours} h")
    parts.append(f"{mins} min")
    return " ".join(parts)
