"""INSERT ... ON CONFLICT for both backends (single statements, so they are atomic)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Executable, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def _insert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert(session: Session, table: Table, values: Mapping[str, Any], keys: Sequence[str]) -> None:
    """Insert the row, or overwrite its non-key columns when a row with these keys exists."""
    changes = {name: value for name, value in values.items() if name not in keys}
    statement = _insert(session, table).values(**values)
    session.exec(statement.on_conflict_do_update(index_elements=list(keys), set_=changes))


def insert_new(
    session: Session, table: Table, values: Mapping[str, Any], keys: Sequence[str]
) -> bool:
    """Insert the row unless one with these keys exists; True when it was inserted."""
    statement = _insert_new(session.get_bind().dialect.name, table, tuple(keys))
    return session.connection().execute(statement, dict(values)).first() is not None


@cache
def _insert_new(dialect: str, table: Table, keys: tuple[str, ...]) -> Executable:
    # Built once per table: the row comes as parameters (inserts run for every event).
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return (
        insert.on_conflict_do_nothing(index_elements=list(keys))
        # RETURNING rather than rowcount, which drivers do not all report for this statement.
        .returning(*[table.c[key] for key in keys])
    )


def insert_new_many(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> None:
    """Insert the rows, leaving out those whose keys exist already (one batch of statements)."""
    if rows:
        statement = _insert(session, table).on_conflict_do_nothing(index_elements=list(keys))
        session.connection().execute(statement, list(rows))


def increment(session: Session, table: Table, key: str, key_value: Any, counter: str) -> int:
    """Add one to a counter column, starting it at 1; returns the new value."""
    column = table.c[counter]
    statement = (
        _insert(session, table)
        .values({key: key_value, counter: 1})
        .on_conflict_do_update(index_elements=[key], set_={counter: column + 1})
        .returning(column)
    )
    return int(session.exec(statement).scalar_one())
