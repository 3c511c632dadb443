"""Versioned schema migrations, applied in order at start-up.

Each step runs in its own transaction together with the record of its version, so a failed step
leaves the database at the previous version. Step 1 builds the tables from `storage/tables.py`:
when a table's shape changes there, pin step 1 to the old shape and add a step that alters it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    String,
    delete,
    insert,
    inspect,
    select,
    text,
)
from sqlmodel import SQLModel

from bot.core.incident import Incident
from storage import assignments
from storage.assignments import busy
from storage.core_tables import HEAD_SIGNATURE_VERSION as HEAD_SIGNATURE_VERSION
from storage.core_tables import SCHEMA_VERSION, version_of
from storage.core_tables import current_version as current_version
from storage.db import is_postgresql
from storage.log import GENESIS_HASH, HEAD_ID, sign_first_head
from storage.signing import LogSigner
from storage.tables import (
    AssignmentRow,
    InboxRow,
    IncidentCounter,
    IncidentRow,
    KeyValueRow,
    LogHead,
    LogRow,
    OutboxRow,
    PromptRow,
    RoomRow,
    TimerRow,
    table_of,
)

# Any constant works; it only has to be the same for every process migrating this database.
_MIGRATION_LOCK_KEY = 0x72727462


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer release than this one."""


def _create_initial_tables(connection: Connection) -> None:
    models: list[type[SQLModel]] = [
        IncidentRow,
        RoomRow,
        LogRow,
        LogHead,
        PromptRow,
        InboxRow,
        KeyValueRow,
        IncidentCounter,
    ]
    SQLModel.metadata.create_all(connection, tables=[table_of(model) for model in models])
    connection.execute(insert(table_of(LogHead)).values(id=HEAD_ID, seq=0, hash=GENESIS_HASH))


def _create_timers(connection: Connection) -> None:
    table_of(TimerRow).create(connection)


def _versions_and_outbox(connection: Connection) -> None:
    # Step 1 builds `incidents` from the current model, so a new database has the column.
    columns = {column["name"] for column in inspect(connection).get_columns("incidents")}
    if "version" not in columns:
        connection.execute(
            text("ALTER TABLE incidents ADD COLUMN version INTEGER NOT NULL DEFAULT 1")
        )
    table_of(OutboxRow).create(connection)


_HEAD_SIGNATURE_COLUMNS = {
    "signature": "VARCHAR",
    "signed_by": "VARCHAR",
    "signed_from": "INTEGER",
}


def _has_head_signature(connection: Connection) -> bool:
    columns = {column["name"] for column in inspect(connection).get_columns("log_head")}
    return set(_HEAD_SIGNATURE_COLUMNS) <= columns


def _head_signature(connection: Connection) -> None:
    # Step 1 builds `log_head` from the current model, so a new database has the columns.
    columns = {column["name"] for column in inspect(connection).get_columns("log_head")}
    for name, kind in _HEAD_SIGNATURE_COLUMNS.items():
        if name not in columns:
            connection.execute(text(f"ALTER TABLE log_head ADD COLUMN {name} {kind}"))


def _assignments(connection: Connection) -> None:
    # Made again from the snapshots when the step is applied again.
    table = table_of(AssignmentRow)
    table.create(connection, checkfirst=True)
    connection.execute(delete(table))
    incidents = table_of(IncidentRow)
    query = select(incidents.c.id, incidents.c.snapshot).where(incidents.c.is_open.is_(True))
    for found in connection.execute(query).all():
        people = busy(Incident.model_validate_json(found.snapshot))
        assignments.write(connection, found.id, people, before=frozenset())


def _outbox_claims(connection: Connection) -> None:
    # Step 3 builds `outbox` from the current model, so a new database has the columns.
    columns = {column["name"] for column in inspect(connection).get_columns("outbox")}
    kinds: dict[str, String | DateTime] = {
        "claimed_by": String(),
        "claimed_until": DateTime(timezone=True),
    }
    for name, kind in kinds.items():
        if name not in columns:
            declared = kind.compile(dialect=connection.dialect)
            connection.execute(text(f"ALTER TABLE outbox ADD COLUMN {name} {declared}"))


def _outbox_binds(connection: Connection) -> None:
    # Step 3 builds `outbox` from the current model, so a new database has the column.
    columns = {column["name"] for column in inspect(connection).get_columns("outbox")}
    if "binds" not in columns:  # rows from before may bind a prompt: assume they do
        connection.execute(
            text("ALTER TABLE outbox ADD COLUMN binds BOOLEAN NOT NULL DEFAULT TRUE")
        )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial tables", _create_initial_tables),
    Migration(2, "timers", _create_timers),
    Migration(3, "incident versions and the outbox", _versions_and_outbox),
    Migration(HEAD_SIGNATURE_VERSION, "signed log head", _head_signature),
    Migration(5, "who is busy in which open incident", _assignments),
    Migration(6, "claims on effects being delivered", _outbox_claims),
    Migration(7, "which effects bind a prompt", _outbox_binds),
)


def migrate(
    engine: Engine,
    migrations: Sequence[Migration] = MIGRATIONS,
    *,
    signer: LogSigner | None = None,
) -> int:
    """Apply the pending migrations in order; returns the resulting version. Idempotent.

    With `signer`, the step that brings in head signatures signs the head of a new database (or
    of one from an older release) in its own transaction, so that no crash can leave a signing
    database with an unsigned head. Without it, that head stays unsigned, and the log refuses
    appends until `rrt log sign-head`."""
    versions = [step.version for step in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration versions must be 1, 2, 3, ... in order; got {versions}")
    with engine.begin() as connection:
        _lock(connection)
        SCHEMA_VERSION.create(connection, checkfirst=True)
        found = version_of(connection)
    if found > len(migrations):
        raise SchemaTooNew(
            f"the database is at schema version {found}; this release knows up to "
            f"{len(migrations)}. Upgrade rrt-bot."
        )
    for step in migrations:
        with engine.begin() as connection:
            _lock(connection)
            # Re-read under the lock: another process may have applied it meanwhile.
            if step.version <= version_of(connection):
                continue
            legacy = step.apply is _head_signature and not _has_head_signature(connection)
            step.apply(connection)
            if step.apply is _head_signature and signer is not None:
                sign_first_head(connection, signer, legacy=legacy)
            connection.execute(
                insert(SCHEMA_VERSION).values(
                    version=step.version,
                    description=step.description,
                    applied_at=datetime.now(UTC),
                )
            )
    return len(migrations)


def _lock(connection: Connection) -> None:
    # SQLite transactions here already hold the write lock (BEGIN IMMEDIATE, see storage.db).
    if is_postgresql(connection.engine):
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
