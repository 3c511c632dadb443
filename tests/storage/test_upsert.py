from __future__ import annotations

from sqlmodel import Session, select

from storage.sql_store import SqlStore
from storage.tables import IncidentCounter, KeyValueRow, PromptRow, table_of
from storage.upsert import increment, insert_new, upsert


def test_upsert_inserts_then_overwrites(store: SqlStore) -> None:
    with Session(store.engine) as session, session.begin():
        upsert(session, table_of(KeyValueRow), {"key": "a", "value": "1"}, ["key"])
        upsert(session, table_of(KeyValueRow), {"key": "a", "value": "2"}, ["key"])

    with Session(store.engine) as session:
        found = session.exec(select(KeyValueRow).where(KeyValueRow.key == "a"))
        assert [(row.key, row.value) for row in found] == [("a", "2")]


def test_insert_new_keeps_the_first_row(store: SqlStore) -> None:
    values = {"platform": "console", "message_id": "m1", "incident_id": "INC-2026-0001"}
    with Session(store.engine) as session, session.begin():
        first = insert_new(
            session, table_of(PromptRow), {**values, "key": "one"}, ["platform", "message_id"]
        )
        second = insert_new(
            session, table_of(PromptRow), {**values, "key": "two"}, ["platform", "message_id"]
        )

    assert (first, second) == (True, False)
    assert store.prompt("console", "m1") == ("INC-2026-0001", "one")


def test_increment_starts_at_one_per_key(store: SqlStore) -> None:
    table = table_of(IncidentCounter)
    with Session(store.engine) as session, session.begin():
        counted = [
            increment(session, table, "year", year, "last_seq") for year in (2026, 2026, 2027)
        ]

    assert counted == [1, 2, 1]
