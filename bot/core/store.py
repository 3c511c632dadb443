"""What the handlers need from persistence. `storage/` implements it; tests may too."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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

    def committed(self, incident_id: str) -> Incident | None:
        """The incident as last committed, for reading only (the TLP gate): kept in memory
        where this process alone writes the database, read from it otherwise."""
        ...

    def committed_in_memory(self, incident_id: str) -> Incident | None:
        """`committed` when it is kept in memory, else None (without reading the database)."""
        ...

    def by_room(self, platform: str, room_id: str) -> Incident | None: ...

    def known_room(self, platform: str, room_id: str) -> str | None:
        """The id of the incident the room serves, if this process has seen it: from memory,
        never the database."""
        ...

    def open_incidents(self) -> list[Incident]: ...

    def active_assignments(self, excluding: str) -> dict[str, int]:
        """For each person, how many open incidents other than `excluding` they are paged for
        or hold a role in (kept with the snapshots, so that no snapshot is read for it)."""
        ...

    def all_incidents(self) -> list[Incident]: ...

    def log(self, incident_id: str | None = None) -> list[LogRecord]:
        """The log in sequence order, for one incident or all."""
        ...

    def log_head(self) -> tuple[int, str]:
        """(sequence number, hash) of the last log entry, as this unit of work sees it."""
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


@dataclass(frozen=True, slots=True)
class TimerKey:
    """Which timer: what `cancel` names, and `schedule` with a due time."""

    incident_id: str
    kind: str
    key: str


class TimerStore(Protocol):
    """Every pending deadline is a row; the scheduler only wakes the bot."""

    def schedule(self, incident_id: str, kind: str, key: str, due_at: datetime) -> None:
        """Add a timer; the same (incident, kind, key, due time) is added once only."""
        ...

    def cancel(self, incident_id: str, kind: str, key: str) -> None:
        """Drop the pending (not yet fired) timers of this kind and key."""
        ...

    def pending_timers(self, incident_id: str) -> list[Timer]: ...

    def all_pending_timers(self) -> list[Timer]:
        """The pending timers of every incident, soonest first."""
        ...

    def change_timers(
        self, cancel: Sequence[TimerKey], schedule: Sequence[tuple[TimerKey, datetime]]
    ) -> None:
        """`cancel` and `schedule` for many timers at once, in one transaction."""
        ...

    def due(self, now: datetime) -> list[Timer]:
        """Pending timers due at or before `now`, soonest first."""
        ...

    def claim(self, timer_id: int, now: datetime) -> bool:
        """Mark a timer fired (late when past `LATE_AFTER`); False when it had already fired.
        Inside a unit of work, the mark commits with the timer's effects."""
        ...

    def next_due_at(self) -> datetime | None: ...


class Inbox(Protocol):
    """Every inbound event is recorded before the bot acts on it, and handled once."""

    def record(self, platform: str, event_id: str, payload: str, handled: bool = False) -> bool:
        """Store an accepted event; False when this event id was seen before (a duplicate).
        `handled`: recorded by the unit of work that decides it (and kept only with it)."""
        ...

    def mark_handled(self, platform: str, event_id: str) -> None:
        """Inside a unit of work, the mark commits with the event's effects."""
        ...

    def is_handled(self, platform: str, event_id: str) -> bool: ...

    def unhandled(self, received_before: datetime | None = None) -> list[tuple[str, str, str]]:
        """(platform, event_id, payload) of recorded events not yet handled, oldest first;
        with `received_before`, only those received earlier."""
        ...


class StaleIncident(Exception):
    """The incident changed since this unit of work loaded it: decide the event again."""


class StorageLost(Exception):
    """The database the bot started on is gone, replaced or cut short: nothing more is written."""


@dataclass(frozen=True, slots=True)
class StoredEffect:
    """An outbox row: an effect decided and committed, to be delivered once."""

    id: int
    key: str
    lane: str
    platform: str
    kind: str
    payload: str  # JSON of the effect's arguments
    origin: tuple[str, str] | None  # (platform, room) of the event that caused it
    attempts: int = 0
    about: str | None = None  # JSON of its classification: the incident, the person
    # Claimed for this process, its attempt counted, by the unit of work that wrote it (until
    # this time): delivered without claiming it again.
    claimed_until: datetime | None = None
    binds: bool = True  # a prompt is bound to one of its placeholders


@dataclass
class Decided:
    """What a unit of work leaves to deliver once it has committed: its lane's pending
    effects, oldest first (None until the commit)."""

    effects: list[StoredEffect] | None = None


class Outbox(Protocol):
    """Effects on chat platforms, committed with the decision that made them."""

    def add_effect(self, platform: str, kind: str, payload: str, about: str | None = None) -> str:
        """Queue an effect in the current unit of work; returns its idempotency key."""
        ...

    def pending_effects(self, lane: str | None = None) -> list[StoredEffect]:
        """Effects not yet delivered (of one lane, or all), oldest first."""
        ...

    def effect(self, key: str) -> tuple[StoredEffect, str | None, bool] | None:
        """(effect, its result JSON, whether it is done) by key."""
        ...

    def attempted(self, effect_id: int) -> bool:
        """Count a delivery attempt before it is made (a crash then shows on restart) and claim
        the effect for a while; False when it is done or another process delivers it now."""
        ...

    def delivered(self, effect: StoredEffect, result: str | None, refs: dict[str, str]) -> None:
        """Mark it done with the platform's result; `refs` maps each placeholder it made to
        the real id, and the prompts, room bindings and snapshots that hold one are updated."""
        ...

    def write_marks(self) -> None:
        """Write the done marks of delivered effects that no transaction has written yet
        (`delivered` may leave them to the next unit of work); they count as done meanwhile."""
        ...

    def marked_in_memory(self, effect: StoredEffect, refs: dict[str, str]) -> bool:
        """Whether `delivered` only notes the mark in memory, for `write_marks` or the next
        unit of work to write (so that it may be called on the event loop)."""
        ...

    def failed(self, effect_id: int, error: str) -> None: ...

    def withheld(self, effect: StoredEffect, incident_id: str, reason: str) -> None:
        """Mark it done, never delivered, and log in the incident what was withheld and why."""
        ...


class UnitOfWork(Protocol):
    def unit_of_work(
        self,
        *,
        origin: str,
        lane: str,
        reply_to: tuple[str, str] | None = None,
        claim: Callable[[str], bool] | None = None,
    ) -> AbstractContextManager[Decided]:
        """One transaction for everything written inside the block (snapshots with their
        version checked, log, timers, prompts, outbox, inbox mark); committed at the end,
        rolled back on an error. `origin` names the event or timer (it makes effect keys),
        `lane` the incident its effects are delivered in order for. The lane's pending
        effects are read in the same transaction; when nothing older is pending, the new
        effects of each platform `claim` accepts are written claimed for delivery here."""
        ...


class KeyValue(Protocol):
    """Small persistent state for adapters (sync tokens, device ids)."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...


class Store(IncidentStore, TimerStore, Inbox, Outbox, UnitOfWork, Protocol):
    """Everything the runtime needs from persistence, in one object."""
