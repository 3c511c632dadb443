"""The database tables. Their shape changes only through `storage/migrations.py`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, String, Table, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

# Timestamps are stored as UTC. SQLite gives them back naive; readers re-attach UTC.


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a table model (for bulk and dialect-specific statements)."""
    table: Any = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def _utc_column(*, index: bool = False) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=False, index=index)


def _text_column() -> Column[str]:
    return Column(Text, nullable=False)


class IncidentRow(SQLModel, table=True):
    """The latest snapshot of an incident (`Incident.model_dump_json()`)."""

    __tablename__ = "incidents"

    id: str = Field(primary_key=True)
    year: int = Field(index=True)
    seq: int
    state: str
    is_open: bool = Field(index=True)
    snapshot: str = Field(sa_column=_text_column())
    # Bumped by every unit of work that saves the incident; a stale one is refused.
    version: int = Field(default=1)


class AssignmentRow(SQLModel, table=True):
    """A person busy in an open incident (paged for, or holding, a role), written with its
    snapshot: a person's active incidents are counted from here, not from every snapshot."""

    __tablename__ = "assignments"

    incident_id: str = Field(sa_column=Column(String, ForeignKey("incidents.id"), primary_key=True))
    person_id: str = Field(primary_key=True, index=True)


class RoomRow(SQLModel, table=True):
    """Which incident a chat room belongs to; a room serves one incident only."""

    __tablename__ = "rooms"

    platform: str = Field(primary_key=True)
    room_id: str = Field(primary_key=True)
    incident_id: str = Field(
        sa_column=Column(String, ForeignKey("incidents.id"), nullable=False, index=True)
    )


class LogRow(SQLModel, table=True):
    """One entry of the append-only, hash-chained incident log."""

    __tablename__ = "log"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_column=_utc_column())
    incident_id: str | None = Field(default=None, index=True)
    actor: str
    kind: str
    data: str = Field(sa_column=_text_column())
    prev_hash: str
    hash: str


class LogHead(SQLModel, table=True):
    """The single row naming the last log entry, so that a removed tail is noticed.

    It is signed (`storage/signing.py`) with a key kept outside the database, so that a chain
    recomputed by whoever can write the database does not verify.
    """

    __tablename__ = "log_head"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int
    hash: str
    # Added by migration 4. Hex Ed25519 signature over (database id, signed_from, seq, hash).
    signature: str | None = None
    signed_by: str | None = None  # the key's fingerprint: a hint for messages, not trusted
    signed_from: int | None = None  # the seq at which signing began (0: from the start)


class PromptRow(SQLModel, table=True):
    """What a message the bot sent asks for (a triage question, a page)."""

    __tablename__ = "prompts"

    platform: str = Field(primary_key=True)
    message_id: str = Field(primary_key=True)
    incident_id: str = Field(index=True)
    key: str


class InboxRow(SQLModel, table=True):
    """An inbound chat event, recorded before the bot acts on it."""

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("platform", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    event_id: str
    payload: str = Field(sa_column=_text_column())
    received_at: datetime = Field(sa_column=_utc_column())
    handled: bool = Field(default=False, index=True)


class KeyValueRow(SQLModel, table=True):
    __tablename__ = "key_values"

    key: str = Field(primary_key=True)
    value: str = Field(sa_column=_text_column())


class IncidentCounter(SQLModel, table=True):
    """The last incident sequence number handed out in a year."""

    __tablename__ = "incident_counters"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_seq: int


class TimerRow(SQLModel, table=True):
    """A pending or fired deadline of an incident (ack, check-in, clock reminder).

    The database is the source of truth: the scheduler only wakes the bot at the next `due_at`.
    """

    __tablename__ = "timers"
    __table_args__ = (UniqueConstraint("incident_id", "kind", "key", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(index=True)
    kind: str
    key: str
    due_at: datetime = Field(sa_column=_utc_column(index=True))
    fired_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    late: bool = False


class OutboxRow(SQLModel, table=True):
    """An effect to carry out on a chat platform, written with the decision that made it.

    `key` is unique and stable: platforms that can (Matrix transaction ids, the console) use it
    to make a repeated delivery after a crash a no-op. `result` holds what the platform
    returned (a room or message id), which later effects refer to.
    """

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    lane: str = Field(index=True)
    platform: str
    kind: str
    payload: str = Field(sa_column=_text_column())
    origin_platform: str | None = None
    origin_room: str | None = None
    about: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=_utc_column())
    attempts: int = 0
    done: bool = Field(default=False, index=True)
    result: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The process delivering it now, until when: on PostgreSQL replicas share the outbox; a
    # claim by one that died is taken over (storage/presence.py), one that is stuck runs out.
    claimed_by: str | None = None
    claimed_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    # A prompt (a triage question, a page) is bound to one of its placeholders: its real ids
    # go into the prompts once it is delivered. True for rows from before it was kept.
    binds: bool = True
