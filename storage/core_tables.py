"""The log's tables as plain SQLAlchemy Core, and the schema version.

The incident log and its checks (`storage/log.py`, `storage/snapshots.py`) use these, so that
`rrt log verify` loads neither the ORM nor the table models. Their columns are those of the
models in `storage/tables.py`, whose shape migrations own; tests/storage/test_core_tables.py
checks that they agree.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    column,
    func,
    select,
    table,
)

IDENTITY_KEY = "db:identity"  # the key_values row holding the database's identity token
HEAD_SIGNATURE_VERSION = 4  # the schema version from which the log head is signed

LOG = table(
    "log",
    column("seq", Integer),
    column("at", DateTime(timezone=True)),
    column("incident_id", String),
    column("actor", String),
    column("kind", String),
    column("data", Text),
    column("prev_hash", String),
    column("hash", String),
)
LOG_HEAD = table(
    "log_head",
    column("id", Integer),
    column("seq", Integer),
    column("hash", String),
    column("signature", String),
    column("signed_by", String),
    column("signed_from", Integer),
)
KEY_VALUES = table("key_values", column("key", String), column("value", Text))
INCIDENTS = table("incidents", column("id", String), column("snapshot", Text))

SCHEMA_VERSION = Table(
    "schema_version",
    MetaData(),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", String, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)


def current_version(engine: Engine) -> int:
    """The schema version of the database; 0 when it was never migrated."""
    with engine.connect() as connection:
        if not engine.dialect.has_table(connection, SCHEMA_VERSION.name):
            return 0
        return version_of(connection)


def version_of(connection: Connection) -> int:
    found = connection.execute(select(func.max(SCHEMA_VERSION.c.version))).scalar_one()
    return int(found or 0)
