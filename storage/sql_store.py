"""The SQL implementation of the store Protocols in `bot.core.store`."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Row, bindparam, delete, func, insert, or_, update
from sqlalchemy import select as core_select
from sqlalchemy.exc import DatabaseError, SQLAlchemyError
from sqlmodel import Session, col, select

from bot.core.clock import Clock, SystemClock
from bot.core.events import LogEvent, LogRecord
from bot.core.incident import INCIDENT_ID, Incident, format_incident_id
from bot.core.store import LATE_AFTER, Decided, StaleIncident, StoredEffect, Timer, TimerKey
from bot.effects import parse_ref
from storage import assignments, log
from storage.assignments import busy
from storage.db import is_postgresql, make_engine, reader_for, single_statements, sqlite_path
from storage.identity import DatabaseIdentity, create_whole, refuse_damaged_file
from storage.log import GENESIS_HASH, HEAD_ID
from storage.migrations import migrate
from storage.presence import Presence, dead
from storage.signing import LogSigner
from storage.tables import (
    AssignmentRow,
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
from storage.upsert import increment, insert_new, insert_new_many, upsert

logger = logging.getLogger("rrt.storage")
# How long a replica's claim on an effect it delivers lasts: longer than a platform call takes.
# A replica that died is seen at once (storage/presence.py); this bounds one that is stuck.
CLAIM = timedelta(seconds=60)
# On SQLite, how many incidents' last committed snapshots, and how many lanes' waiting effects,
# are kept in memory (the most lately committed): those of others are read from the tables.
KEPT_INCIDENTS, KEPT_LANES = 64, 1000


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
        self._single = single_statements(engine)
        # Who delivers an effect, as other replicas see it: this store (one per process, but
        # two bots in one process are two replicas too).
        self.replica = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # Held from this store's first claim on an effect: others see its claims are live.
        self._presence = (
            Presence(engine.url.render_as_string(hide_password=False), self.replica)
            if is_postgresql(engine)
            else None
        )
        self.kv = SqlKeyValue(engine, self.reader)
        self._clock = clock or SystemClock()
        self.identity = DatabaseIdentity.of(engine)
        # On SQLite no other process writes (storage/process_lock.py): what this process
        # committed last is what the database holds.
        self._sole_writer = not is_postgresql(engine)
        # Snapshots as this process last committed them, by incident.
        self._committed = _Committed()
        # The incident each room serves, once seen: a room serves one incident for good.
        self._rooms: dict[tuple[str, str], str] = {}
        self._marks = _Marks()
        # Which lanes have effects waiting, when no other process writes the outbox.
        self._lanes = _LaneEffects() if self._sole_writer else None

    def close(self) -> None:
        try:
            self.write_marks()
        except SQLAlchemyError as error:  # those effects are delivered again, as after a crash
            logger.warning("delivered effects left unmarked: %s", error)
        if self._presence is not None:
            self._presence.close()
        self.identity.close()
        self.engine.dispose()
        self.reader.dispose()

    # UnitOfWork

    @contextmanager
    def unit_of_work(
        self,
        *,
        origin: str,
        lane: str,
        reply_to: tuple[str, str] | None = None,
        claim: Callable[[str], bool] | None = None,
    ) -> Iterator[Decided]:
        if _WORK.get() is not None:
            raise RuntimeError("units of work do not nest")
        decided = Decided()
        with self._marks.writing() as marks:
            holding = False
            try:
                with Session(self.engine, expire_on_commit=False) as session, session.begin():
                    # The identity token is read with the log head, or else at the end.
                    self.identity.check_file()
                    if marks:  # before the lane's pending effects are read
                        session.connection().execute(_DONE, marks)
                    work = _Work(session, origin, lane, reply_to, {self.engine, self.reader})
                    token = _WORK.set(work)
                    try:
                        yield decided
                        if work.tip is None:
                            self.identity.check(session)
                        effects = self._write_outbox(work, claim)
                    except DatabaseError as error:  # emptied meanwhile, say
                        self.identity.check_failure(error)
                        raise
                    finally:
                        _WORK.reset(token)
                    # Until its copies are kept, the next unit of work waits to read them.
                    holding = self._sole_writer and self._committed.hold()
                if holding:
                    self._committed.update(work.committed)
                if self._lanes is not None:
                    self._lanes.committed(lane, work.older, [effect.id for effect in effects])
            finally:
                if holding:
                    self._committed.release()
        decided.effects = effects

    def _write_outbox(self, work: _Work, claim: Callable[[str], bool] | None) -> list[StoredEffect]:
        """Write the unit's effects, in the order recorded, as one statement, and return the
        lane's pending effects; the new ones are claimed here when nothing older waits."""
        connection = work.session.connection()
        earlier = work.binding - {row["key"] for row in work.outbox}
        if earlier:  # prompts bound to effects decided before, still to be delivered
            connection.execute(_BINDS, {"b_keys": sorted(earlier)})
        if self._lanes is not None and self._lanes.idle(work.lane):
            older: list[StoredEffect] = []
        else:
            pending = connection.execute(_PENDING_IN_LANE, {"b_lane": work.lane}).all()
            older = [_effect(row) for row in pending]
            work.older = [effect.id for effect in older]
        if not work.outbox:
            return older
        until: datetime | None = None
        if claim is not None and not older and self._present():
            until = to_utc(self._clock.now()) + CLAIM
            for row in work.outbox:
                if claim(row["platform"]):
                    row.update(attempts=1, claimed_by=self.replica, claimed_until=until)
        rows = [
            {"claimed_by": None, "claimed_until": None, **row, "binds": row["key"] in work.binding}
            for row in work.outbox
        ]
        ids = {key: effect_id for key, effect_id in connection.execute(_ADD_EFFECTS, rows)}
        return older + [
            StoredEffect(
                id=ids[row["key"]],
                key=row["key"],
                lane=row["lane"],
                platform=row["platform"],
                kind=row["kind"],
                payload=row["payload"],
                origin=_origin(row["origin_platform"], row["origin_room"]),
                about=row["about"],
                claimed_until=row["claimed_until"],
                binds=row["binds"],
            )
            for row in rows
        ]

    # IncidentStore

    def next_incident_id(self, year: int) -> str:
        with _using(self.engine) as session:
            seq = increment(session, table_of(IncidentCounter), "year", year, "last_seq")
        return format_incident_id(year, seq)

    def save(self, incident: Incident, events: Sequence[LogEvent]) -> None:
        with _using(self.engine) as session:
            _write_snapshot(session, incident)
            self._append(session, events)
        if _WORK.get() is None:
            self._committed.forget(incident.id)

    def append(self, events: Sequence[LogEvent]) -> None:
        with _using(self.engine) as session:
            self._append(session, events)

    def _append(self, session: Session, events: Sequence[LogEvent]) -> None:
        work = _WORK.get()
        if work is None or work.session is not session:
            log.append(session, events, self.signer)
            return
        # The database id, which the head signature covers, is read and checked with the head.
        work.tip = log.append(
            session, events, self.signer, tip=work.tip, database_seen=self.identity.check_token
        )

    def committed(self, incident_id: str) -> Incident | None:
        return self.committed_in_memory(incident_id) or self.get(incident_id)

    def committed_in_memory(self, incident_id: str) -> Incident | None:
        kept = self._committed.get(incident_id)
        if kept is None or kept.snapshot is None or _WORK.get() is not None:
            return None
        if kept.incident is None:  # parsed once, on first use: the gate only reads it
            kept.incident = Incident.model_validate_json(kept.snapshot)
        return kept.incident

    def get(self, incident_id: str) -> Incident | None:
        kept = self._kept_for_work(incident_id)
        if kept is not None:
            return kept
        with _using(self.reader) as session:
            query = _GET_LOCKED if _locking(session) else _GET
            row = session.connection().execute(query, {"b_id": incident_id}).first()
            return _incident(row.id, row.version, row.snapshot) if row else None

    def _kept_for_work(self, incident_id: str | None) -> Incident | None:
        """In a unit of work on SQLite, the incident as this process committed it last, if it
        knows: what the table holds, since no other process writes it."""
        work = _WORK.get()
        if incident_id is None or work is None or not self._sole_writer:
            return None
        if self.engine not in work.engines:
            return None
        work.session.connection()  # begun: the write lock held, no other commit comes between
        # As this unit of work left it, if it has read or saved it already.
        kept = work.committed.get(incident_id) or self._committed.latest(incident_id)
        if kept is None or kept.snapshot is None:
            return None
        return _incident(incident_id, kept.version, kept.snapshot)

    def by_room(self, platform: str, room_id: str) -> Incident | None:
        kept = self._kept_for_work(self._rooms.get((platform, room_id)))
        if kept is not None:
            return kept
        with _using(self.reader) as session:
            query = _BY_ROOM_LOCKED if _locking(session) else _BY_ROOM
            found = {"b_platform": platform, "b_room": room_id}
            row = session.connection().execute(query, found).first()
            if row is None:
                return None
            self._rooms[(platform, room_id)] = row.id
            return _incident(row.id, row.version, row.snapshot)

    def known_room(self, platform: str, room_id: str) -> str | None:
        return self._rooms.get((platform, room_id))

    def open_incidents(self) -> list[Incident]:
        return self._incidents(open_only=True)

    def active_assignments(self, excluding: str) -> dict[str, int]:
        with _using(self.reader) as session:
            found = session.connection().execute(_ACTIVE, {"b_excluding": excluding})
            return {person: count for person, count in found}

    def all_incidents(self) -> list[Incident]:
        return self._incidents(open_only=False)

    def log(self, incident_id: str | None = None) -> list[LogRecord]:
        with _using(self.reader) as session:
            return log.records(session, incident_id)

    def log_head(self) -> tuple[int, str]:
        work = _WORK.get()
        if work is not None and work.tip is not None:
            return work.tip.seq, work.tip.hash
        head = table_of(LogHead)
        query = core_select(head.c.seq, head.c.hash).where(head.c.id == HEAD_ID)
        with _using(self.reader) as session:
            found = session.connection().execute(query).first()
            return (found.seq, found.hash) if found is not None else (0, GENESIS_HASH)

    def bind_prompt(self, platform: str, message_id: str, incident_id: str, key: str) -> None:
        values = {"platform": platform, "message_id": message_id, "incident_id": incident_id}
        with _using(self.engine) as session:
            upsert(session, table_of(PromptRow), {**values, "key": key}, ["platform", "message_id"])
            placeholder = parse_ref(message_id)
            work = _WORK.get()
            if placeholder is not None and work is not None:
                work.binding.add(placeholder[0])

    def prompt(self, platform: str, message_id: str) -> tuple[str, str] | None:
        with _using(self.reader) as session:
            row = session.get(PromptRow, (platform, message_id))
            return (row.incident_id, row.key) if row else None

    # Inbox

    def record(self, platform: str, event_id: str, payload: str, handled: bool = False) -> bool:
        values = {
            "platform": platform,
            "event_id": event_id,
            "payload": payload,
            "received_at": to_utc(self._clock.now()),
            "handled": handled,
        }
        with _using(self.engine) as session:
            if _WORK.get() is None:  # a unit of work checks before it commits
                self.identity.check(session)  # never accept an event into a record nobody keeps
            return insert_new(session, table_of(InboxRow), values, ["platform", "event_id"])

    def mark_handled(self, platform: str, event_id: str) -> None:
        with _using(self.engine) as session:
            session.connection().execute(_MARK_HANDLED, _event(platform, event_id))

    def is_handled(self, platform: str, event_id: str) -> bool:
        with _using(self.reader) as session:
            # Locked in a unit of work on PostgreSQL: a replica handling the event (its replay
            # of what is not handled yet, say) waits for the other's decision, then skips it.
            query = _IS_HANDLED_LOCKED if _locking(session) else _IS_HANDLED
            found = session.connection().execute(query, _event(platform, event_id))
            return bool(found.scalar())

    def unhandled(self, received_before: datetime | None = None) -> list[tuple[str, str, str]]:
        query = select(InboxRow).where(col(InboxRow.handled).is_(False)).order_by(col(InboxRow.id))
        if received_before is not None:
            query = query.where(col(InboxRow.received_at) < to_utc(received_before))
        with _using(self.reader) as session:
            return [(row.platform, row.event_id, row.payload) for row in session.exec(query)]

    # Outbox

    def add_effect(self, platform: str, kind: str, payload: str, about: str | None = None) -> str:
        work = _WORK.get()
        if work is None:
            raise RuntimeError("effects are recorded inside a unit of work only")
        key = f"{work.origin}#{len(work.outbox) + 1}"
        origin_platform, origin_room = work.reply_to or (None, None)
        work.outbox.append(
            {
                "key": key,
                "lane": work.lane,
                "platform": platform,
                "kind": kind,
                "payload": payload,
                "origin_platform": origin_platform,
                "origin_room": origin_room,
                "about": about,
                "created_at": to_utc(self._clock.now()),
                "attempts": 0,
                "done": False,
            }
        )
        return key

    def pending_effects(self, lane: str | None = None) -> list[StoredEffect]:
        query = _PENDING_EFFECTS if lane is None else _PENDING_IN_LANE
        with _using(self.reader) as session:
            found = session.connection().execute(query, {"b_lane": lane})
            return [_effect(row) for row in found if self._marks.waiting(row.key) is None]

    def backlog(self) -> tuple[int, int]:
        """(effects not yet delivered, events not yet handled), counted."""
        with _using(self.reader) as session:
            row = session.connection().execute(_BACKLOG).one()
            return max(row.outbox - len(self._marks), 0), row.inbox

    def effect(self, key: str) -> tuple[StoredEffect, str | None, bool] | None:
        with _using(self.reader) as session:
            row = session.exec(select(OutboxRow).where(OutboxRow.key == key)).first()
            if row is None:
                return None
            marked = self._marks.waiting(key)
            if marked is not None and not row.done:
                return _effect(row), marked["result"], True
            return _effect(row), row.result, row.done

    def attempted(self, effect_id: int) -> bool:
        now = to_utc(self._clock.now())
        values = {"b_id": effect_id, "b_me": self.replica, "b_now": now, "b_until": now + CLAIM}
        # A SQLite file serves one process (storage/process_lock.py): nobody to exclude, and a
        # claim left by a crash must not hold up the restart.
        if self._presence is None:
            return self._changed_one(_ATTEMPTED, values)
        self._presence.hold()  # if it cannot be held, neither can the claim be written
        return self._changed_one(_CLAIM, values)

    def _present(self) -> bool:
        """Whether claims are safe to make: always on SQLite (one process); on PostgreSQL once
        this process holds its presence lock, without which its claims would look dead."""
        return self._presence is None or self._presence.hold()

    def _changed_one(self, statement: Any, values: dict[str, Any]) -> bool:
        """Run one statement as a transaction of its own (or in the unit of work under way);
        whether it changed exactly one row."""
        if _WORK.get() is not None:
            with _using(self.engine) as session:
                return bool(session.connection().execute(statement, values).rowcount == 1)
        with self._single.begin() as connection:
            return bool(connection.execute(statement, values).rowcount == 1)

    def marked_in_memory(self, effect: StoredEffect, refs: dict[str, str]) -> bool:
        # No prompt or room to give its real ids to: the next transaction writes its mark.
        return not refs or (not effect.binds and effect.kind != "create_room")

    def delivered(self, effect: StoredEffect, result: str | None, refs: dict[str, str]) -> None:
        done = {"b_id": effect.id, "done": True, "result": result}
        if self.marked_in_memory(effect, refs):
            self._marks.add(effect.key, done)
        else:
            self._write_delivered(effect, done, refs)
        self._done(effect.id)

    def _write_delivered(
        self, effect: StoredEffect, done: dict[str, Any], refs: dict[str, str]
    ) -> None:
        """Mark it done, and give the prompts and war rooms bound to its placeholders their
        real ids."""
        made = [
            {"b_platform": effect.platform, "b_ref": ref, "message_id": real}
            for ref, real in refs.items()
        ]
        with _using(self.engine) as session:
            connection = session.connection()
            connection.execute(_DONE, done)
            connection.execute(_PROMPT_MADE, made)
            if effect.kind != "create_room":
                return  # only a room the bot made can be an incident's war room
            found = {"b_platform": effect.platform, "b_refs": list(refs)}
            owners = {room: owner for room, owner in connection.execute(_ROOM_OWNERS, found)}
            for ref, real in refs.items():
                if ref in owners:
                    now = self._clock.now()
                    _room_opened(session, owners[ref], effect.platform, ref, real, now, self.signer)
                    self._committed.forget(owners[ref])

    def write_marks(self) -> None:
        """Mark done, in a transaction of their own, the delivered effects that no unit of
        work has marked yet."""
        with self._marks.writing() as marks:
            if marks:
                with self._single.begin() as connection:
                    connection.execute(_DONE, marks)

    def _done(self, effect_id: int) -> None:
        if self._lanes is not None:
            self._lanes.done(effect_id)

    def failed(self, effect_id: int, error: str) -> None:
        statement = (
            update(table_of(OutboxRow))
            .where(col(OutboxRow.id) == effect_id)
            .values(done=True, error=error[:2000])
        )
        with _using(self.engine) as session:
            session.exec(statement)
        self._done(effect_id)

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
        self._done(effect.id)

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
        with _using(self.reader) as session:
            found = session.connection().execute(_PENDING_OF, {"b_incident": incident_id})
            return [_timer(row) for row in found]

    def all_pending_timers(self) -> list[Timer]:
        with _using(self.reader) as session:
            return [_timer(row) for row in session.connection().execute(_PENDING)]

    def change_timers(
        self, cancel: Sequence[TimerKey], schedule: Sequence[tuple[TimerKey, datetime]]
    ) -> None:
        dropping = delete(_TIMERS).where(
            _TIMERS.c.incident_id == bindparam("b_incident"),
            _TIMERS.c.kind == bindparam("b_kind"),
            _TIMERS.c.key == bindparam("b_key"),
            _TIMERS.c.fired_at.is_(None),
        )
        rows = [
            {
                "incident_id": timer.incident_id,
                "kind": timer.kind,
                "key": timer.key,
                "due_at": to_utc(due_at),
                "late": False,
            }
            for timer, due_at in schedule
        ]
        with _using(self.engine) as session:
            if cancel:
                session.connection().execute(
                    dropping,
                    [
                        {"b_incident": t.incident_id, "b_kind": t.kind, "b_key": t.key}
                        for t in cancel
                    ],
                )
            insert_new_many(session, _TIMERS, rows, ["incident_id", "kind", "key", "due_at"])

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
        query = _SNAPSHOT.order_by(_INCIDENTS.c.year, _INCIDENTS.c.seq)
        if open_only:
            query = query.where(_INCIDENTS.c.is_open.is_(True))
        with _using(self.reader) as session:
            found = session.connection().execute(query)
            return [_incident(row.id, row.version, row.snapshot) for row in found]


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
    rooms = table_of(RoomRow)
    connection = session.connection()
    for room in incident.rooms.values():
        owner = connection.execute(
            core_select(rooms.c.incident_id).where(
                rooms.c.platform == room.platform, rooms.c.room_id == room.room_id
            )
        ).scalar()
        if owner is not None and owner != incident.id:
            raise RoomAlreadyBound(
                f"room {room.room_id} on {room.platform} already belongs to {owner}"
            )
    connection.execute(delete(rooms).where(rooms.c.incident_id == incident.id))
    bound = [
        {"platform": room.platform, "room_id": room.room_id, "incident_id": incident.id}
        for room in incident.rooms.values()
    ]
    if bound:
        connection.execute(insert(rooms), bound)


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


def _effect(row: OutboxRow | Row[Any, Any, Any]) -> StoredEffect:
    assert row.id is not None
    return StoredEffect(
        id=row.id,
        key=row.key,
        lane=row.lane,
        platform=row.platform,
        kind=row.kind,
        payload=row.payload,
        origin=_origin(row.origin_platform, row.origin_room),
        attempts=row.attempts,
        about=row.about,
        binds=row.binds,
    )


def _origin(platform: str | None, room: str | None) -> tuple[str, str] | None:
    return (platform, room) if platform is not None and room is not None else None


def _timer(row: TimerRow | Row[Any, Any, Any]) -> Timer:
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


def _incident(incident_id: str, version: int, snapshot: str) -> Incident:
    incident = Incident.model_validate_json(snapshot)
    work = _WORK.get()
    if work is not None and incident_id not in work.loaded:
        work.loaded[incident_id] = _Loaded(version, _rooms_of(incident), busy(incident))
        work.committed[incident_id] = _Kept(version, snapshot)  # unless it saves it
    return incident


def _rooms_of(incident: Incident) -> frozenset[tuple[str, str]]:
    return frozenset((room.platform, room.room_id) for room in incident.rooms.values())


def _write_snapshot(session: Session, incident: Incident) -> None:
    """Insert or update the snapshot with its room bindings and who it keeps busy; the first
    save in a unit of work checks the version."""
    work = _WORK.get()
    work = work if work is not None and work.session is session else None
    snapshot = incident.model_dump_json()
    values = {"state": incident.state.value, "is_open": incident.is_open, "snapshot": snapshot}
    loaded = work.loaded.get(incident.id) if work is not None else None
    kept = work.committed.get(incident.id) if work is not None else None
    version = kept.version if kept is not None else None
    if work is not None and incident.id in work.saved:
        session.exec(update(_INCIDENTS).where(_INCIDENTS.c.id == incident.id).values(**values))
    elif loaded is None:
        year, seq = _parse_incident_id(incident.id)
        row = {"id": incident.id, "year": year, "seq": seq, **values, "version": 1}
        version = 1
        if not insert_new(session, _INCIDENTS, row, ["id"]):
            # Saved outside a unit of work (tools, tests): no version to hold it to.
            bump = update(_INCIDENTS).where(_INCIDENTS.c.id == incident.id)
            session.exec(bump.values(**values, version=_INCIDENTS.c.version + 1))
            version = None
    else:
        version = loaded.version + 1
        statement = (
            update(_INCIDENTS)
            .where(_INCIDENTS.c.id == incident.id, _INCIDENTS.c.version == loaded.version)
            .values(**values, version=loaded.version + 1)
        )
        if session.exec(statement).rowcount != 1:
            raise StaleIncident(f"{incident.id} changed since version {loaded.version}")
    # What this unit of work has read or written is what the tables hold: unchanged, not
    # written again.
    rooms, people = _rooms_of(incident), busy(incident)
    if loaded is None or loaded.rooms != rooms:
        _bind_rooms(session, incident)
    assignments.write(session.connection(), incident.id, people, loaded.busy if loaded else None)
    if work is not None:
        work.saved.add(incident.id)
        work.loaded[incident.id] = _Loaded(loaded.version if loaded else 1, rooms, people)
        work.committed[incident.id] = _Kept(version or 0, snapshot if version else None)


@dataclass(frozen=True)
class _Loaded:
    """An incident as the unit of work found it in the tables (or last wrote it there)."""

    version: int
    rooms: frozenset[tuple[str, str]]
    busy: frozenset[str]


@dataclass
class _Kept:
    """An incident's snapshot as committed at a version (None: to be read from the table)."""

    version: int
    snapshot: str | None
    incident: Incident | None = None


class _Committed:
    """The snapshots this process committed last, newest version kept (units of work of
    different incidents commit from several threads), for the incidents committed most lately:
    the others are read from the table."""

    def __init__(self, most: int = KEPT_INCIDENTS) -> None:
        self._kept: OrderedDict[str, _Kept] = OrderedDict()  # the least lately committed first
        self._most = most
        self._lock = threading.Lock()
        # Held from just before a unit of work's commit until its copies are kept: a unit of
        # work that begins meanwhile (SQLite lets it once the commit is done) waits to read.
        self._committing = threading.Lock()

    def get(self, incident_id: str) -> _Kept | None:
        return self._kept.get(incident_id)

    def latest(self, incident_id: str) -> _Kept | None:
        """As `get`, once any commit under way has kept its copies."""
        with self._committing:
            return self._kept.get(incident_id)

    def hold(self) -> bool:
        return self._committing.acquire()

    def release(self) -> None:
        self._committing.release()

    def update(self, committed: dict[str, _Kept]) -> None:
        with self._lock:
            for incident_id, kept in committed.items():
                known = self._kept.get(incident_id)
                if kept.snapshot is None:
                    self._kept.pop(incident_id, None)
                    continue
                if known is None or known.version < kept.version:
                    self._kept[incident_id] = kept
                self._kept.move_to_end(incident_id)
            while len(self._kept) > self._most:
                self._kept.popitem(last=False)

    def forget(self, incident_id: str) -> None:
        """Changed where its version is not known: read it from the table next time."""
        with self._lock:
            self._kept.pop(incident_id, None)


class _LaneEffects:
    """The effects waiting in each lane, for a lane whose unit of work found none waiting in
    the table, kept up to date from then on, for the lanes committed in most lately (an event
    outside any incident has a lane of its own); the lanes not known are read."""

    def __init__(self, most: int = KEPT_LANES) -> None:
        self._waiting: OrderedDict[str, set[int]] = OrderedDict()  # the least lately first
        self._most = most
        self._lane_of: dict[int, str] = {}
        self._lock = threading.Lock()

    def idle(self, lane: str) -> bool:
        with self._lock:
            return self._waiting.get(lane) == set()

    def committed(self, lane: str, older: list[int] | None, effect_ids: list[int]) -> None:
        """A unit of work in the lane committed `effect_ids`; `older`: the effects it found
        waiting before them (None: it did not read them, the lane being known idle)."""
        with self._lock:
            if older is not None:  # what it read is what waits, until one of it is done
                for effect_id in self._waiting.pop(lane, ()):
                    self._lane_of.pop(effect_id, None)
            if older:  # not kept: those may be done before the next read (by another lane)
                return
            self._waiting.setdefault(lane, set()).update(effect_ids)
            self._waiting.move_to_end(lane)
            self._lane_of.update((effect_id, lane) for effect_id in effect_ids)
            while len(self._waiting) > self._most:
                _, forgotten = self._waiting.popitem(last=False)
                for effect_id in forgotten:
                    self._lane_of.pop(effect_id, None)

    def done(self, effect_id: int) -> None:
        with self._lock:
            lane = self._lane_of.pop(effect_id, None)
            if lane is not None:
                self._waiting[lane].discard(effect_id)


class _Marks:
    """Delivered effects whose done mark is still to be written: the next transaction that
    decides writes them (the lane's next event usually), so a delivery costs no commit of its
    own. Until written they count as done here; a crash before then delivers them again, which
    the platforms make a no-op by the effects' keys, as after any crash mid-delivery."""

    def __init__(self) -> None:
        self._waiting: dict[str, dict[str, Any]] = {}  # by effect key
        self._taken: dict[str, dict[str, Any]] = {}  # being written
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._waiting) + len(self._taken)

    def add(self, key: str, done: dict[str, Any]) -> None:
        with self._lock:
            self._waiting[key] = done

    def waiting(self, key: str) -> dict[str, Any] | None:
        """The mark of a delivered effect, until it is written."""
        return self._waiting.get(key) or self._taken.get(key)

    @contextmanager
    def writing(self) -> Iterator[list[dict[str, Any]]]:
        """The marks waiting, to write in the block: kept until it has ended, put back if it
        fails (they count as done meanwhile)."""
        with self._lock:
            taken, self._waiting = self._waiting, {}
            self._taken.update(taken)
        try:
            yield list(taken.values())
        except BaseException:
            with self._lock:
                for key, done in taken.items():
                    self._waiting.setdefault(key, done)
            raise
        finally:
            with self._lock:
                for key in taken:
                    self._taken.pop(key, None)


@dataclass
class _Work:
    """The unit of work under way in this thread: its session and what it has seen."""

    session: Session
    origin: str
    lane: str
    reply_to: tuple[str, str] | None
    engines: set[Engine]  # those of the store that opened it; another store keeps its own
    loaded: dict[str, _Loaded] = field(default_factory=dict)
    saved: set[str] = field(default_factory=set)  # incidents whose version it bumped
    committed: dict[str, _Kept] = field(default_factory=dict)  # as it leaves them, committed
    binding: set[str] = field(default_factory=set)  # keys of effects it bound prompts to
    outbox: list[dict[str, Any]] = field(default_factory=list)  # written at its end
    tip: log.Tip | None = None  # the log head once it has appended
    older: list[int] | None = None  # the effects waiting in its lane before it, if it read them


_WORK: ContextVar[_Work | None] = ContextVar("rrt_unit_of_work", default=None)
# Statements run for every event, built once: building one costs more than running it.
_INCIDENTS = table_of(IncidentRow)
_ROOMS = table_of(RoomRow)
_INBOX = table_of(InboxRow)
_OUTBOX = table_of(OutboxRow)
_PROMPTS = table_of(PromptRow)
_TIMERS = table_of(TimerRow)
_SNAPSHOT = core_select(_INCIDENTS.c.id, _INCIDENTS.c.version, _INCIDENTS.c.snapshot)
_GET = _SNAPSHOT.where(_INCIDENTS.c.id == bindparam("b_id"))
_GET_LOCKED = _GET.with_for_update()
_BY_ROOM = _SNAPSHOT.join(_ROOMS, _ROOMS.c.incident_id == _INCIDENTS.c.id).where(
    _ROOMS.c.platform == bindparam("b_platform"), _ROOMS.c.room_id == bindparam("b_room")
)
_BY_ROOM_LOCKED = _BY_ROOM.with_for_update(of=_INCIDENTS)
_INBOX_EVENT = (
    _INBOX.c.platform == bindparam("b_platform"),
    _INBOX.c.event_id == bindparam("b_event"),
)
_IS_HANDLED = core_select(_INBOX.c.handled).where(*_INBOX_EVENT)
_IS_HANDLED_LOCKED = _IS_HANDLED.with_for_update()
_MARK_HANDLED = update(_INBOX).where(*_INBOX_EVENT).values(handled=True)
# Each new row's id by its key: in one statement, its rows in no given order.
_ADD_EFFECTS = insert(_OUTBOX).returning(_OUTBOX.c.key, _OUTBOX.c.id)
_BINDS = (
    update(_OUTBOX).where(_OUTBOX.c.key.in_(bindparam("b_keys", expanding=True))).values(binds=True)
)
_PENDING_EFFECTS = core_select(_OUTBOX).where(_OUTBOX.c.done.is_(False)).order_by(_OUTBOX.c.id)
_PENDING_IN_LANE = _PENDING_EFFECTS.where(_OUTBOX.c.lane == bindparam("b_lane"))
_BACKLOG = core_select(
    core_select(func.count()).where(_OUTBOX.c.done.is_(False)).scalar_subquery().label("outbox"),
    core_select(func.count()).where(_INBOX.c.handled.is_(False)).scalar_subquery().label("inbox"),
)
_ATTEMPTED = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("b_id"), _OUTBOX.c.done.is_(False))
    .values(
        attempts=_OUTBOX.c.attempts + 1,
        claimed_by=bindparam("b_me"),
        claimed_until=bindparam("b_until"),
    )
)
# The condition makes the claim atomic between replicas: a concurrent one waits for the row
# lock, then finds the claim taken. A claim by a process that has died is taken over at once.
_CLAIM = _ATTEMPTED.where(
    or_(
        _OUTBOX.c.claimed_until.is_(None),
        _OUTBOX.c.claimed_until < bindparam("b_now"),
        _OUTBOX.c.claimed_by == bindparam("b_me"),
        dead("outbox.claimed_by"),
    )
)
_DONE = update(_OUTBOX).where(_OUTBOX.c.id == bindparam("b_id"))
_PROMPT_MADE = update(_PROMPTS).where(
    _PROMPTS.c.platform == bindparam("b_platform"), _PROMPTS.c.message_id == bindparam("b_ref")
)
_PENDING = (
    core_select(_TIMERS)
    .where(_TIMERS.c.fired_at.is_(None))
    .order_by(_TIMERS.c.due_at, _TIMERS.c.id)
)
_TIMER_DUE_AT = core_select(_TIMERS.c.due_at, _TIMERS.c.fired_at).where(
    _TIMERS.c.id == bindparam("b_id")
)
_TIMER_DUE_AT_LOCKED = _TIMER_DUE_AT.with_for_update(skip_locked=True)
_TIMER_INCIDENT = core_select(_INCIDENTS.c.id).where(
    _INCIDENTS.c.id
    == core_select(_TIMERS.c.incident_id).where(_TIMERS.c.id == bindparam("b_id")).scalar_subquery()
)
_TIMER_INCIDENT_LOCKED = _TIMER_INCIDENT.with_for_update(skip_locked=True)
_PENDING_OF = _PENDING.where(_TIMERS.c.incident_id == bindparam("b_incident"))
_ASSIGNMENTS = table_of(AssignmentRow)
_ACTIVE = (
    core_select(_ASSIGNMENTS.c.person_id, func.count())
    .where(_ASSIGNMENTS.c.incident_id != bindparam("b_excluding"))
    .group_by(_ASSIGNMENTS.c.person_id)
)
_ROOM_OWNERS = core_select(_ROOMS.c.room_id, _ROOMS.c.incident_id).where(
    _ROOMS.c.platform == bindparam("b_platform"),
    _ROOMS.c.room_id.in_(bindparam("b_refs", expanding=True)),
)


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


def _event(platform: str, event_id: str) -> dict[str, str]:
    return {"b_platform": platform, "b_event": event_id}


def _claim_in(session: Session, timer_id: int, now: datetime) -> bool:
    query = _TIMER_DUE_AT
    connection = session.connection()
    found = {"b_id": timer_id}
    if _locking(session):
        # The incident's row before the timer's, in the order an event's unit of work takes
        # them (it reads the incident, then changes its timers): the other order deadlocks.
        # An incident or timer another replica holds (deciding an event, or firing this very
        # timer) is left to it rather than waited for: replicas sharing the due timers each
        # take the next one free, and a timer left here is looked at again shortly.
        locked = connection.execute(_TIMER_INCIDENT_LOCKED, found).first() is not None
        if not locked and connection.execute(_TIMER_INCIDENT, found).first() is not None:
            return False  # its incident is held elsewhere
        query = _TIMER_DUE_AT_LOCKED
    row = connection.execute(query, found).first()
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
