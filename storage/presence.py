"""Which processes sharing a PostgreSQL database are alive: each one that claims effects to
deliver holds an advisory lock named after itself (`storage/leadership.py`) for as long as it
runs. An effect claimed by a process that holds no such lock was left by one that died: it is
taken over at once instead of when the claim runs out."""

from __future__ import annotations

from sqlalchemy import Boolean, ColumnElement, literal_column

from storage.db import advisory_key

ROLE = "replica:"


def dead(claimed_by: str) -> ColumnElement[bool]:
    """True when the process named in the column `claimed_by` holds no presence lock: its
    key, as `pg_locks` shows a bigint key (its high and low 32 bits)."""
    name = f"'{ROLE}' || {claimed_by}"
    key = f"{advisory_key(name)}::bigint"
    return literal_column(
        "NOT EXISTS (SELECT 1 FROM pg_locks AS held WHERE held.locktype = 'advisory'"
        " AND held.objsubid = 1 AND held.granted"
        " AND held.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        f" AND held.classid::bigint = (({key} >> 32) & 4294967295)"
        f" AND held.objid::bigint = ({key} & 4294967295))",
        Boolean,
    )


class Presence:
    """This process's presence lock, taken before its first claim and held until it closes."""

    def __init__(self, database_url: str, replica: str) -> None:
        # Imported here: psycopg is not loaded by a bot on SQLite (its memory counts).
        from storage.leadership import AdvisoryLease

        self._lease = AdvisoryLease(database_url, ROLE + replica)

    def hold(self) -> bool:
        return self._lease.hold()

    def close(self) -> None:
        self._lease.drop()
