"""The SQL implementation of the store Protocols in `bot.core.store`."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, Update, delete, func, update
from sqlmodel import Session, col, select

from bot.core.clock import Clock, SystemClock
from bot.core.events import LogEvent, LogRecord
from bot.core.incident import INCIDENT_ID, Incident, format_incident_id
from bot.core.store import LATE_AFTER, StaleIncident, StoredEffect, Timer
from storage import log
from storage.db import is_postgresql, make_engine, reader_for, sqlite_path
from storage.identity import DatabaseIdentity, create_whole, refuse_damaged_file
from storage.log import GENESIS_HASH, HEAD_ID
from storage.migrations import migrate
from storage.signing import LogSigner
from storage.tables import (
    InboxRow,
    IncidentCounter,
    IncidentRow,
    KeyValueRow,
    LogHead,
    OutboxRow,
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

    def __init__(self, engine: Engine, reader: Engine | None = None) -> None:
        self._engine = engine
        self._reader = reader or engine

    def get(self, key: str) -> str | None:
        with _using(self._reader) as session:
            row = session.get(KeyValueRow, key)
            return row.value if row else None

    def set(self, key: str, value: str) -> None:
        with _using(self._engine) as session:
            upsert(session, table_of(KeyValueRow), {"key": key, "value": value}, ["key"])


class SqlStore:
    """`IncidentStore` and `Inbox` on SQLite or PostgreSQL; `kv` is the `KeyValue` store.

    (`KeyValue.get` and `IncidentStore.get` differ, so one object cannot be both.)
    """

    def __init__(
        self, engine: Engine, clock: Clock | None = None, signer: LogSigner | None = None
    ) -> None:
        self.engine = engine
        # Signs the log head; by default the key file beside the database (storage/signing.py).
        self.signer = signer or LogSigner.for_database(engine.url)
        self.reader = reader_for(engine)
        self.kv = SqlKeyValue(engine, self.reader)
        self._clock = clock or SystemClock()
        self.identity = DatabaseIdentity.of(engine)

    def close(self) -> None:
        self.engine.dispose()
        self.reader.dispose()

    # UnitOfWork

    @contextmanager
    def unit_of_work(
        self, *, origin: str, lane: str, reply_to: tuple[str, str] | None = None
    ) -> Iterator[None]:
        if _WORK.get() is not None:
            raise RuntimeError("units of work do not nest")
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            self.identity.check(session)
            token = _WORK.set(_Work(session, origin, lane, reply_to, {self.engine, self.reader}))
            try:
                yield
            finally:
                _WORK.reset(token)

    # IncidentStore

    def next_incident_id(self, year: int) -> str:
        with _using(self.engine) as session:
            seq = increment(session, table_of(IncidentCounter), "year", year, "last_seq")
        return format_incident_id(year, seq)

    def save(self, incident: Incident, events: Sequence[LogEvent]) -> None:
        with _using(self.engine) as session:
            _write_snapshot(session, incident)
            _bind_rooms(session, incident)
            log.append(session, events, self.signer)

    def append(self, events: Sequence[LogEvent]) -> None:
        with _using(self.engine) as session:
            log.append(session, events, self.signer)

    def get(self, incident_id: str) -> Incident | None:
        with _using(self.reader) as session:
            row = session.get(IncidentRow, incident_id, with_for_update=_locking(session))
            return _incident(row) if row else None

    def by_room(self, platform: str, room_id: str) -> Incident | None:
        query = (
            select(IncidentRow)
            .join(RoomRow, col(RoomRow.incident_id) == col(IncidentRow.id))
            .where(RoomRow.platform == platform, RoomRow.room_id == room_id)
        )
        with _using(self.reader) as session:
            if _locking(session):
                query = query.with_for_update(of=IncidentRow)
            row = session.exec(query).first()
            return _incident(row) if row else None

    def open_incidents(self) -> list[Incident]:
        return self._incidents(open_only=True)

    def all_incidents(self) -> list[Incident]:
        return self._incidents(open_only=False)

    def log(self, incident_id: str | None = None) -> list[LogRecord]:
        with _using(self.reader) as session:
            return log.records(session, incident_id)

    def log_head(self) -> tuple[int, str]:
        with _using(self.engine) as session:
            head = session.get(LogHead, HEAD_ID)
            return (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)

    def bind_prompt(self, platform: str, message_id: str, incident_id: str, key: str) -> None:
        values = {"platform": platform, "message_id": message_id, "incident_id": incident_id}
        with _using(self.engine) as session:
            upsert(session, table_of(PromptRow), {**values, "key": key}, ["platform", "message_id"])

    def prompt(self, platform: str, message_id: str) -> tuple[str, str] | None:
        with _using(self.reader) as session:
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
        with _using(self.engine) as session:
            self.identity.check(session)  # never accept an event into a record nobody keeps
            return insert_new(session, table_of(InboxRow), values, ["platform", "event_id"])

    def mark_handled(self, platform: str, event_id: str) -> None:
        with _using(self.engine) as session:
            session.exec(_handled_statement(platform, event_id))

    def is_handled(self, platform: str, event_id: str) -> bool:
        query = select(InboxRow.handled).where(
            InboxRow.platform == platform, InboxRow.event_id == event_id
        )
        with _using(self.reader) as session:
            return bool(session.exec(query).first())

    def unhandled(self) -> list[tuple[str, str, str]]:
        query = select(InboxRow).where(col(InboxRow.handled).is_(False)).order_by(col(InboxRow.id))
        with _using(self.reader) as session:
            return [(row.platform, row.event_id, row.payload) for row in session.exec(query)]

    # Outbox

    def add_effect(self, platform: str, kind: str, payload: str, about: str | None = None) -> str:
        work = _WORK.get()
        if work is None:
            raise RuntimeError("effects are recorded inside a unit of work only")
        work.effects += 1
        key = f"{work.origin}#{work.effects}"
        origin_platform, origin_room = work.reply_to or (None, None)
        work.session.add(
            OutboxRow(
                key=key,
                lane=work.lane,
                platform=platform,
                kind=kind,
                payload=payload,
                origin_platform=origin_platform,
                origin_room=origin_room,
                about=about,
                created_at=to_utc(self._clock.now()),
            )
        )
        return key

    def pending_effects(self, lane: str | None = None) -> list[StoredEffect]:
        query = select(OutboxRow).where(col(OutboxRow.done).is_(False))
        if lane is not None:
            query = query.where(OutboxRow.lane == lane)
        with _using(self.reader) as session:
            return [_effect(row) for row in session.exec(query.order_by(col(OutboxRow.id)))]

    def effect(self, key: str) -> tuple[StoredEffect, str | None, bool] | None:
        with _using(self.reader) as session:
            row = session.exec(select(OutboxRow).where(OutboxRow.key == key)).first()
            return (_effect(row), row.result, row.done) if row else None

    def attempted(self, effect_id: int) -> None:
        statement = (
            update(table_of(OutboxRow))
            .where(col(OutboxRow.id) == effect_id)
            .values(attempts=col(OutboxRow.attempts) + 1)
        )
        with _using(self.engine) as session:
            session.exec(statement)

    def delivered(self, effect: StoredEffect, result: str | None, refs: dict[str, str]) -> None:
        outbox = table_of(OutboxRow)
        with _using(self.engine) as session:
            session.exec(
                update(outbox)
                .where(col(OutboxRow.id) == effect.id)
                .values(done=True, result=result)
            )
            for ref, real in refs.items():
                session.exec(
                    update(table_of(PromptRow))
                    .where(
                        col(PromptRow.platform) == effect.platform, col(PromptRow.message_id) == ref
                    )
                    .values(message_id=real)
                )
                owner = session.exec(
                    select(RoomRow.incident_id).where(
                        RoomRow.platform == effect.platform, RoomRow.room_id == ref
                    )
                ).first()
                if owner is not None:
                    now = self._clock.now()
                    _room_opened(session, owner, effect.platform, ref, real, now, self.signer)

    def failed(self, effect_id: int, error: str) -> None:
        statement = (
            update(table_of(OutboxRow))
            .where(col(OutboxRow.id) == effect_id)
            .values(done=True, error=error[:2000])
        )
        with _using(self.engine) as session:
            session.exec(statement)

    def withheld(self, effect: StoredEffect, incident_id: str, reason: str) -> None:
        event = LogEvent(
            kind="withheld",
            actor="bot",
            at=self._clock.now(),
            incident_id=incident_id,
            data={"effect": effect.kind, "platform": effect.platform, "reason": reason},
        )
        with _using(self.engine) as session:
            session.exec(
                update(table_of(OutboxRow))
                .where(col(OutboxRow.id) == effect.id)
                .values(done=True, error=f"withheld: {reason}"[:2000])
            )
            log.append(session, [event], self.signer)

    # TimerStore

    def schedule(self, incident_id: str, kind: str, key: str, due_at: datetime) -> None:
        values = {"incident_id": incident_id, "kind": kind, "key": key, "due_at": to_utc(due_at)}
        keys = ["incident_id", "kind", "key", "due_at"]
        with _using(self.engine) as session:
            insert_new(session, table_of(TimerRow), {**values, "late": False}, keys)

    def cancel(self, incident_id: str, kind: str, key: str) -> None:
        statement = delete(table_of(TimerRow)).where(
            col(TimerRow.incident_id) == incident_id,
            col(TimerRow.kind) == kind,
            col(TimerRow.key) == key,
            col(TimerRow.fired_at).is_(None),
        )
        with _using(self.engine) as session:
            session.exec(statement)

    def pending_timers(self, incident_id: str) -> list[Timer]:
        query = (
            select(TimerRow)
            .where(TimerRow.incident_id == incident_id, col(TimerRow.fired_at).is_(None))
            .order_by(col(TimerRow.due_at), col(TimerRow.id))
        )
        with _using(self.reader) as session:
            return [_timer(row) for row in session.exec(query)]

    def due(self, now: datetime) -> list[Timer]:
        query = (
            select(TimerRow)
            .where(col(TimerRow.fired_at).is_(None), col(TimerRow.due_at) <= to_utc(now))
            .order_by(col(TimerRow.due_at), col(TimerRow.id))
        )
        with _using(self.reader) as session:
            return [_timer(row) for row in session.exec(query)]

    def claim(self, timer_id: int, now: datetime) -> bool:
        with _using(self.engine) as session:
            return _claim_in(session, timer_id, now)

    def fired(self, incident_id: str) -> list[Timer]:
        """Timers of an incident that have fired, in firing order."""
        query = (
            select(TimerRow)
            .where(TimerRow.incident_id == incident_id, col(TimerRow.fired_at).is_not(None))
            .order_by(col(TimerRow.fired_at), col(TimerRow.id))
        )
        with _using(self.reader) as session:
            return [_timer(row) for row in session.exec(query)]

    def next_due_at(self) -> datetime | None:
        query = select(func.min(TimerRow.due_at)).where(col(TimerRow.fired_at).is_(None))
        with _using(self.reader) as session:
            found = session.exec(query).first()
            return from_db(found) if found is not None else None

    def _incidents(self, *, open_only: bool) -> list[Incident]:
        query = select(IncidentRow).order_by(col(IncidentRow.year), col(IncidentRow.seq))
        if open_only:
            query = query.where(col(IncidentRow.is_open).is_(True))
        with _using(self.reader) as session:
            return [_incident(row) for row in session.exec(query)]


def open_store(
    url: str,
    clock: Clock | None = None,
    signer: LogSigner | None = None,
    *,
    key_file: Path | None = None,
) -> SqlStore:
    """Connect to the database at `url`, bring its schema up to date, and return the store.

    `signer` signs the log head; by default the one in `key_file` (`RRT_LOG_KEY_FILE`), else
    the default key file for `url` (`storage/signing.py`)."""
    engine = make_engine(url)
    path = sqlite_path(url)
    if path is not None:
        refuse_damaged_file(path)
        create_whole(path)
    signer = signer or LogSigner.for_database(url, key_file)
    migrate(engine, signer=signer)
    return SqlStore(engine, clock, signer)


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


def _room_opened(
    session: Session,
    incident_id: str,
    platform: str,
    ref: str,
    real: str,
    now: datetime,
    signer: LogSigner,
) -> None:
    """A war room exists now: its real id replaces the placeholder, and its opening is logged."""
    session.exec(
        update(table_of(RoomRow))
        .where(col(RoomRow.platform) == platform, col(RoomRow.room_id) == ref)
        .values(room_id=real)
    )
    row = session.get(IncidentRow, incident_id)
    if row is None:
        return
    quoted_ref, quoted_real = json.dumps(ref), json.dumps(real)
    session.exec(
        update(table_of(IncidentRow))
        .where(col(IncidentRow.id) == incident_id)
        .values(
            snapshot=row.snapshot.replace(quoted_ref, quoted_real),
            version=col(IncidentRow.version) + 1,
        )
    )
    opened = LogEvent(
        kind="war_room_opened",
        actor="bot",
        at=now,
        incident_id=incident_id,
        data={"platform": platform, "room": real},
    )
    log.append(session, [opened], signer)


def _effect(row: OutboxRow) -> StoredEffect:
    assert row.id is not None
    origin = (
        (row.origin_platform, row.origin_room)
        if row.origin_platform is not None and row.origin_room is not None
        else None
    )
    return StoredEffect(
        id=row.id,
        key=row.key,
        lane=row.lane,
        platform=row.platform,
        kind=row.kind,
        payload=row.payload,
        origin=origin,
        attempts=row.attempts,
        about=row.about,
    )


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
    work = _WORK.get()
    if work is not None:
        work.versions.setdefault(row.id, row.version)
    return Incident.model_validate_json(row.snapshot)


def _write_snapshot(session: Session, incident: Incident) -> None:
    """Insert or update the snapshot; the first save in a unit of work checks the version."""
    work = _WORK.get()
    work = work if work is not None and work.session is session else None
    values = {
        "state": incident.state.value,
        "is_open": incident.is_open,
        "snapshot": incident.model_dump_json(),
    }
    table = table_of(IncidentRow)
    if work is not None and incident.id in work.saved:
        session.exec(update(table).where(col(IncidentRow.id) == incident.id).values(**values))
        return
    known = work.versions.get(incident.id) if work is not None else None
    if known is None:
        year, seq = _parse_incident_id(incident.id)
        row = {"id": incident.id, "year": year, "seq": seq, **values, "version": 1}
        if not insert_new(session, table, row, ["id"]):
            # Saved outside a unit of work (tools, tests): no version to hold it to.
            bump = update(table).where(col(IncidentRow.id) == incident.id)
            session.exec(bump.values(**values, version=col(IncidentRow.version) + 1))
    else:
        statement = (
            update(table)
            .where(col(IncidentRow.id) == incident.id, col(IncidentRow.version) == known)
            .values(**values, version=known + 1)
        )
        if session.exec(statement).rowcount != 1:
            raise StaleIncident(f"{incident.id} changed since version {known}")
    if work is not None:
        work.saved.add(incident.id)


@dataclass
class _Work:
    """The unit of work under way in this thread: its session and what it has seen."""

    session: Session
    origin: str
    lane: str
    reply_to: tuple[str, str] | None
    engines: set[Engine]  # those of the store that opened it; another store keeps its own
    versions: dict[str, int] = field(default_factory=dict)  # as loaded
    saved: set[str] = field(default_factory=set)  # incidents whose version it bumped
    effects: int = 0


_WORK: ContextVar[_Work | None] = ContextVar("rrt_unit_of_work", default=None)


def _locking(session: Session) -> bool:
    """Inside a unit of work on PostgreSQL, an incident is read with its row locked, so that
    processes sharing the database decide one incident's events one at a time (SQLite's
    transactions already hold the write lock from their start)."""
    return _WORK.get() is not None and is_postgresql(session.get_bind())


@contextmanager
def _using(engine: Engine) -> Iterator[Session]:
    """The unit of work's session when one is under way, else a transaction of its own."""
    work = _WORK.get()
    if work is not None and engine in work.engines:
        yield work.session
        return
    with Session(engine) as session, session.begin():
        yield session


def _handled_statement(platform: str, event_id: str) -> Update:
    return (
        update(table_of(InboxRow))
        .where(col(InboxRow.platform) == platform, col(InboxRow.event_id) == event_id)
        .values(handled=True)
    )


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
