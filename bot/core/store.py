"""What the handlers need from persistence. `storage/` implements it; tests may too."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.core.events import LogEvent, LogRecord
from bot.core.incident import Incident


class IncidentStore(Protocol):
    def next_incident_id(self, year: int) -> str:
        """Reserve the next `INC-<year>-<seq>` id (sequence restarts every year)."""
        ...

    def save(self, incident: Incident, events: Sequence[LogEvent]) -> None:
        """Write the incident snapshot and append its events to the log, in one transaction."""
        ...

    def append(self, events: Sequence[LogEvent]) -> None:
        """Append events that change no incident snapshot."""
        ...

    def get(self, incident_id: str) -> Incident | None: ...

    def by_room(self, platform: str, room_id: str) -> Incident | None: ...

    def open_incidents(self) -> list[Incident]: ...

    def all_incidents(self) -> list[Incident]: ...

    def log(self, incident_id: str | None = None) -> list[LogRecord]:
        """The log in sequence order, for one incident or all."""
        ...

    def bind_prompt(self, platform: str, message_id: str, incident_id: str, key: str) -> None:
        """Remember what a bot message asks (a triage question, a page), by its message id."""
        ...

    def prompt(self, platform: str, message_id: str) -> tuple[str, str] | None:
        """(incident_id, key) for a message the bot sent, if bound."""
        ...


# A timer that fires more than this after its due time fell due while the bot was down.
LATE_AFTER = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Timer:
    """A deadline stored with its incident: an ack, a check-in, a clock reminder."""

    id: int
    incident_id: str
    kind: str  # e.g. "ack", "checkin", "checkin_grace", "clock"
    key: str  # what it is about within the incident, e.g. "analyst/bob/<paged at>"
    due_at: datetime
    fired_at: datetime | None = None
    late: bool = False


class TimerAlreadyFired(Exception):
    """Another process fired this timer first; what this one was about to write is dropped."""


class Claim(Protocol):
    @property
    def won(self) -> bool:
        """True once this process has marked the timer fired."""
        ...


class TimerStore(Protocol):
    """Every pending deadline is a row; the scheduler only wakes the bot."""

    def schedule(self, incident_id: str, kind: str, key: str, due_at: datetime) -> None:
        """Add a timer; the same (incident, kind, key, due time) is added once only."""
        ...

    def cancel(self, incident_id: str, kind: str, key: str) -> None:
        """Drop the pending (not yet fired) timers of this kind and key."""
        ...

    def pending_timers(self, incident_id: str) -> list[Timer]: ...

    def due(self, now: datetime) -> list[Timer]:
        """Pending timers due at or before `now`, soonest first."""
        ...

    def claim(self, timer_id: int, now: datetime) -> bool:
        """Mark a timer fired (late when past `LATE_AFTER`); False when it had already fired."""
        ...

    def claiming(self, timer: Timer, now: datetime) -> AbstractContextManager[Claim]:
        """Fire a timer exactly once: inside the block, the first write of this task also marks
        the timer fired, in the same transaction (raising TimerAlreadyFired, and writing
        nothing, when another process fired it). A block that writes nothing claims the timer
        when it ends, even on an error; only a crash leaves it pending, to fire after restart.
        """
        ...

    def next_due_at(self) -> datetime | None: ...


class Inbox(Protocol):
    """Every inbound event is recorded before the bot acts on it, and handled once."""

    def record(self, platform: str, event_id: str, payload: str) -> bool:
        """Store an accepted event; False when this event id was seen before (a duplicate)."""
        ...

    def mark_handled(self, platform: str, event_id: str) -> None: ...

    def handling(self, platform: str, event_id: str) -> AbstractContextManager[None]:
        """Inside the block, the first write of this task also marks the event handled, in the
        same transaction: after a crash, an event whose effects were written is not replayed."""
        ...

    def unhandled(self) -> list[tuple[str, str, str]]:
        """(platform, event_id, payload) of recorded events not yet handled, oldest first."""
        ...


class KeyValue(Protocol):
    """Small persistent state for adapters (sync tokens, device ids)."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...
