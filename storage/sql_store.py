"""The SQL implementation of the store Protocols in `bot.core.store`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, Update, delete, event, func, update
from sqlmodel import Session, col, select

from bot.core.clock import Clock, SystemClock
from bot.core.events import LogEvent, LogRecord
from bot.core.incident import INCIDENT_ID, Incident, format_incident_id
from bot.core.store import LATE_AFTER, Timer, TimerAlreadyFired
from storage import log
from storage.db import make_engine
from storage.migrations import migrate
from storage.tables import (
    InboxRow,
    IncidentCounter,
    IncidentRow,
    KeyValueRow,
    PromptRow,
    RoomRow,
    TimerRow,
    table_of,
)
from storage.timestamps import from_db, to_utc
from storage.upsert import increment, insert_new, upsert


class RoomAlreadyBound(Exception):
    """A chat room already serves another incident."""


class SqlKeyValue:
    """`bot.core.store.KeyValue` over the `key_values` table."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, key: str) -> str | None:
        with Session(self._engine) as session:
            row = session.get(KeyValueRow, key)
            return row.value if row else None

    def set(self, key: str, value: str) -> None:
        with Session(self._engine) as session, session.begin():
            upsert(session, table_of(KeyValueRow), {"key": key, "value": value}, ["key"])


class SqlStore:
    """`IncidentStore` and `Inbox` on SQLite or PostgreSQL; `kv` is the `KeyValue` store.

    (`KeyValue.get` and `IncidentStore.get` differ, so one object cannot be both.)
    """

    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.kv = SqlKeyValue(engine)
        self._clock = clock or SystemClock()

    def close(self) -> None:
        self.engine.dispose()

    # IncidentStore

    def next_incident_id(self, year: int) -> str:
        with Session(self.engine) as session, session.begin():
            seq = increment(session, table_of(IncidentCounter), "year", year, "last_seq")
        return format_incident_id(year, seq)

    def save(self, incident: Incident, events: Sequence[LogEvent]) -> None:
        year, seq = _parse_incident_id(incident.id)
        with Session(self.engine) as session, session.begin():
            values = {
                "id": incident.id,
                "year": year,
                "seq": seq,
                "state": incident.state.value,
                "is_open": incident.is_open,
                "snapshot": incident.model_dump_json(),
            }
            _record_with_this_write(session)
            upsert(session, table_of(IncidentRow), values, ["id"])
            _bind_rooms(session, incident)
            log.append(session, events)

    def append(self, events: Sequence[LogEvent]) -> None:
        with Session(self.engine) as session, session.begin():
            _record_with_this_write(session)
            log.append(session, events)

    def get(self, incident_id: str) -> Incident | None:
        with Session(self.engine) as session:
            row = session.get(IncidentRow, incident_id)
            return _incident(row) if row else None

    def by_room(self, platform: str, room_id: str) -> Incident | None:
        query = (
            select(IncidentRow)
            .join(RoomRow, col(RoomRow.incident_id) == col(IncidentRow.id))
            .where(RoomRow.platform == platform, RoomRow.room_id == room_id)
        )
        with Session(self.engine) as session:
            row = session.exec(query).first()
            return _incident(row) if row else None

    def open_incidents(self) -> list[Incident]:
        return self._incidents(open_only=True)

    def all_incidents(self) -> list[Incident]:
        return self._incidents(open_only=False)

    def log(self, incident_id: str | None = None) -> list[LogRecord]:
        with Session(self.engine) as session:
            return log.records(session, incident_id)

    def bind_prompt(self, platform: str, message_id: str, incident_id: str, key: str) -> None:
        values = {"platform": platform, "message_id": message_id, "incident_id": incident_id}
        with Session(self.engine) as session, session.begin():
            upsert(session, table_of(PromptRow), {**values, "key": key}, ["platform", "message_id"])

    def prompt(self, platform: str, message_id: str) -> tuple[str, str] | None:
        with Session(self.engine) as session:
            row = session.get(PromptRow, (platform, message_id))
            return (row.incident_id, row.key) if row else None

    # Inbox

    def record(self, platform: str, event_id: str, payload: str) -> bool:
        values = {
            "platform": platform,
            "event_id": event_id,
            "payload": payload,
            "received_at": to_utc(self._clock.now()),
            "handled": False,
        }
        with Session(self.engine) as session, session.begin():
            return insert_new(session, table_of(InboxRow), values, ["platform", "event_id"])

    def mark_handled(self, platform: str, event_id: str) -> None:
        with Session(self.engine) as session, session.begin():
            session.exec(_handled_statement(platform, event_id))

    @contextmanager
    def handling(self, platform: str, event_id: str) -> Iterator[None]:
        token = _PENDING_HANDLED.set((platform, event_id))
        try:
            yield
        finally:
            _PENDING_HANDLED.reset(token)

    def unhandled(self) -> list[tuple[str, str, str]]:
        query = select(InboxRow).where(col(InboxRow.handled).is_(False)).order_by(col(InboxRow.id))
        with Session(self.engine) as session:
            return [(row.platform, row.event_id, row.payload) for row in session.exec(query)]

    # TimerStore

    def schedule(self, incident_id: str, kind: str, key: str, due_at: datetime) -> None:
        values = {"incident_id": incident_id, "kind": kind, "key": key, "due_at": to_utc(due_at)}
        keys = ["incident_id", "kind", "key", "due_at"]
        with Session(self.engine) as session, session.begin():
            insert_new(session, table_of(TimerRow), {**values, "late": False}, keys)

    def cancel(self, incident_id: str, kind: str, key: str) -> None:
        statement = delete(table_of(TimerRow)).where(
            col(TimerRow.incident_id) == incident_id,
            col(TimerRow.kind) == kind,
            col(TimerRow.key) == key,
            col(TimerRow.fired_at).is_(None),
        )
        with Session(self.engine) as session, session.begin():
            session.exec(statement)

    def pending_timers(self, incident_id: str) -> list[Timer]:
        query = (
            select(TimerRow)
            .where(TimerRow.incident_id == incident_id, col(TimerRow.fired_at).is_(None))
            .order_by(col(TimerRow.due_at), col(TimerRow.id))
        )
        with Session(self.engine) as session:
            return [_timer(row) for row in session.exec(query)]

    def due(self, now: datetime) -> list[Timer]:
        query = (
            select(TimerRow)
            .where(col(TimerRow.fired_at).is_(None), col(TimerRow.due_at) <= to_utc(now))
            .order_by(col(TimerRow.due_at), col(TimerRow.id))
        )
        with Session(self.engine) as session:
            return [_timer(row) for row in session.exec(query)]

    def claim(self, timer_id: int, now: datetime) -> bool:
        with Session(self.engine) as session, session.begin():
            return _claim_in(session, timer_id, now)

    @contextmanager
    def claiming(self, timer: Timer, now: datetime) -> Iterator[PendingClaim]:
        pending = PendingClaim(timer.id, now)
        token = _PENDING_CLAIM.set(pending)
        try:
            yield pending
        finally:
            _PENDING_CLAIM.reset(token)
            if not pending.settled:  # nothing was written: claim it now, even after an error
                pending.won, pending.settled = self.claim(timer.id, now), True

    def fired(self, incident_id: str) -> list[Timer]:
        """Timers of an incident that have fired, in firing order."""
        query = (
            select(TimerRow)
            .where(TimerRow.incident_id == incident_id, col(TimerRow.fired_at).is_not(None))
            .order_by(col(TimerRow.fired_at), col(TimerRow.id))
        )
        with Session(self.engine) as session:
            return [_timer(row) for row in session.exec(query)]

    def next_due_at(self) -> datetime | None:
        query = select(func.min(TimerRow.due_at)).where(col(TimerRow.fired_at).is_(None))
        with Session(self.engine) as session:
            found = session.exec(query).first()
            return from_db(found) if found is not None else None

    def _incidents(self, *, open_only: bool) -> list[Incident]:
        query = select(IncidentRow).order_by(col(IncidentRow.year), col(IncidentRow.seq))
        if open_only:
            query = query.where(col(IncidentRow.is_open).is_(True))
        with Session(self.engine) as session:
            return [_incident(row) for row in session.exec(query)]


def open_store(url: str, clock: Clock | None = None) -> SqlStore:
    """Connect to the database at `url`, bring its schema up to date, and return the store."""
    engine = make_engine(url)
    migrate(engine)
    return SqlStore(engine, clock)


def _parse_incident_id(incident_id: str) -> tuple[int, int]:
    match = INCIDENT_ID.match(incident_id)
    if match is None:
        raise ValueError(f"malformed incident id {incident_id!r}; expected INC-<year>-<number>")
    return int(match[1]), int(match[2])


def _bind_rooms(session: Session, incident: Incident) -> None:
    """Make the room bindings exactly `incident.rooms`, refusing a room of another incident."""
    for room in incident.rooms.values():
        owner = session.exec(
            select(RoomRow.incident_id).where(
                RoomRow.platform == room.platform, RoomRow.room_id == room.room_id
            )
        ).first()
        if owner is not None and owner != incident.id:
            raise RoomAlreadyBound(
                f"room {room.room_id} on {room.platform} already belongs to {owner}"
            )
    session.exec(delete(table_of(RoomRow)).where(col(RoomRow.incident_id) == incident.id))
    for room in incident.rooms.values():
        session.add(RoomRow(platform=room.platform, room_id=room.room_id, incident_id=incident.id))
    session.flush()


def _timer(row: TimerRow) -> Timer:
    assert row.id is not None
    return Timer(
        id=row.id,
        incident_id=row.incident_id,
        kind=row.kind,
        key=row.key,
        due_at=from_db(row.due_at),
        fired_at=from_db(row.fired_at) if row.fired_at is not None else None,
        late=row.late,
    )


def _incident(row: IncidentRow) -> Incident:
    return Incident.model_validate_json(row.snapshot)


@dataclass
class PendingClaim:
    """A timer being fired by this task; `settled` once it is marked fired or lost."""

    timer_id: int
    now: datetime
    won: bool = False
    settled: bool = False


# Per asyncio task: the timer whose firing, and the inbound event whose handling, the task's
# next write must also record.
_PENDING_CLAIM: ContextVar[PendingClaim | None] = ContextVar("rrt_pending_claim", default=None)
_PENDING_HANDLED: ContextVar[tuple[str, str] | None] = ContextVar(
    "rrt_pending_handled", default=None
)


def _record_with_this_write(session: Session) -> None:
    handled = _PENDING_HANDLED.get()
    if handled is not None:
        platform, event_id = handled
        session.exec(_handled_statement(platform, event_id))
    _claim_with_this_write(session)


def _handled_statement(platform: str, event_id: str) -> Update:
    return (
        update(table_of(InboxRow))
        .where(col(InboxRow.platform) == platform, col(InboxRow.event_id) == event_id)
        .values(handled=True)
    )


def _claim_with_this_write(session: Session) -> None:
    pending = _PENDING_CLAIM.get()
    if pending is None or pending.settled:
        return
    if not _claim_in(session, pending.timer_id, pending.now):
        pending.settled = True
        raise TimerAlreadyFired(f"timer {pending.timer_id} was fired by another process")
    # Settled only when the transaction commits; a failed write leaves the timer pending.
    event.listen(session, "after_commit", lambda _session: _settle(pending), once=True)


def _settle(pending: PendingClaim) -> None:
    pending.won = pending.settled = True


def _claim_in(session: Session, timer_id: int, now: datetime) -> bool:
    row = session.get(TimerRow, timer_id)
    if row is None or row.fired_at is not None:
        return False
    late = to_utc(now) - from_db(row.due_at) > LATE_AFTER
    # The condition on fired_at makes the claim atomic between processes.
    statement = (
        update(table_of(TimerRow))
        .where(col(TimerRow.id) == timer_id, col(TimerRow.fired_at).is_(None))
        .values(fired_at=to_utc(now), late=late)
    )
    return bool(session.exec(statement).rowcount == 1)
