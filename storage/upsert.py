"""INSERT ... ON CONFLICT for both backends (single statements, so they are atomic)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Executable, Table
from sqlmodel import Session

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite


def _insert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    return _dialect_insert(session.get_bind().dialect.name, table)


def _dialect_insert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    # Each dialect's statements are imported only on its database: PostgreSQL's are large.
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


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
    return (
        _dialect_insert(dialect, table)
        .on_conflict_do_nothing(index_elements=list(keys))
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
