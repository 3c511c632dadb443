from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from storage.sql_store import SqlStore
from storage.tables import InboxRow, IncidentRow, RoomRow, table_of
from tests.storage.conftest import START


def add_all(store: SqlStore, *rows: SQLModel) -> None:
    with Session(store.engine) as session, session.begin():
        session.add_all(rows)


def test_table_of_gives_the_core_table() -> None:
    assert table_of(IncidentRow).name == "incidents"
    assert set(table_of(RoomRow).primary_key.columns.keys()) == {"platform", "room_id"}


def test_an_event_id_is_unique_per_platform(store: SqlStore) -> None:
    first = InboxRow(platform="slack", event_id="e1", payload="first", received_at=START)
    again = InboxRow(platform="slack", event_id="e1", payload="again", received_at=START)

    with pytest.raises(IntegrityError):
        add_all(store, first, again)


def test_a_room_needs_an_existing_incident(store: SqlStore) -> None:
    orphan = RoomRow(platform="console", room_id="r1", incident_id="INC-2026-0404")

    with pytest.raises(IntegrityError):
        add_all(store, orphan)
