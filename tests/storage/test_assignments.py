"""Who is busy in which open incident: kept with the snapshots, counted without reading them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, event

from bot.core.clock import FakeClock
from bot.core.incident import Incident
from bot.core.levels import Level
from bot.core.lifecycle import State
from bot.core.paging import Page, PageStatus, RolePaging, TeamPaging
from storage.db import make_engine
from storage.migrations import migrate
from storage.sql_store import SqlStore, open_store
from tests.storage.conftest import START
from tests.storage.test_sql_store import declared, make_incident


def with_team(incident_id: str, **people: PageStatus) -> Incident:
    pages = [
        Page(
            person_id=person,
            role="analyst",
            paged_at=START,
            deadline=START + timedelta(minutes=15),
            cycle=1,
            status=status,
        )
        for person, status in people.items()
    ]
    role = RolePaging(role="analyst", needed=len(pages), candidates=list(people), pages=pages)
    return make_incident(incident_id, rooms={}, team=TeamPaging(level=Level.L2, roles=[role]))


@pytest.fixture
def store(store_url: str, clock: FakeClock) -> Iterator[SqlStore]:
    opened = open_store(store_url, clock)
    yield opened
    opened.close()


def test_paged_and_accepted_people_count_in_each_other_open_incident(store: SqlStore) -> None:
    first = with_team("INC-2026-0001", bob=PageStatus.PAGED, carol=PageStatus.ACCEPTED)
    second = with_team("INC-2026-0002", bob=PageStatus.ACCEPTED, dave=PageStatus.DECLINED)
    store.save(first, [declared(first)])
    store.save(second, [declared(second)])

    assert store.active_assignments(excluding="INC-2026-0003") == {"bob": 2, "carol": 1}
    assert store.active_assignments(excluding="INC-2026-0001") == {"bob": 1}


def test_a_page_answered_or_an_incident_closed_frees_its_people(store: SqlStore) -> None:
    incident = with_team("INC-2026-0001", bob=PageStatus.PAGED, carol=PageStatus.PAGED)
    store.save(incident, [declared(incident)])
    with store.unit_of_work(origin="console:e-1", lane=incident.id):
        loaded = store.get(incident.id)
        assert loaded is not None
        assert loaded.team is not None
        loaded.team.roles[0].pages[0].status = PageStatus.DECLINED
        store.save(loaded, [])
    assert store.active_assignments(excluding="") == {"carol": 1}

    with store.unit_of_work(origin="console:e-2", lane=incident.id):
        loaded = store.get(incident.id)
        assert loaded is not None
        store.save(loaded.model_copy(update={"state": State.CLOSED}), [])
    assert store.active_assignments(excluding="") == {}


def statements(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_a_save_that_changes_nobody_writes_no_assignment(store: SqlStore) -> None:
    incident = with_team("INC-2026-0001", bob=PageStatus.PAGED)
    store.save(incident, [declared(incident)])
    seen = statements(store.engine)
    with store.unit_of_work(origin="console:e-1", lane=incident.id):
        loaded = store.get(incident.id)
        assert loaded is not None
        store.save(loaded.model_copy(update={"title": "Renamed"}), [])
    assert not [sql for sql in seen if "assignments" in sql or "rooms" in sql]
    assert store.active_assignments(excluding="") == {"bob": 1}


def test_the_migration_fills_the_table_from_the_open_snapshots(store_url: str) -> None:
    store = open_store(store_url)
    busy = with_team("INC-2026-0001", bob=PageStatus.ACCEPTED)
    closed = with_team("INC-2026-0002", carol=PageStatus.ACCEPTED)
    store.save(busy, [declared(busy)])
    store.save(closed.model_copy(update={"state": State.CLOSED}), [declared(closed)])
    store.close()
    engine = make_engine(store_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM assignments")
        connection.exec_driver_sql("DELETE FROM schema_version WHERE version >= 5")  # its step
    migrate(engine)
    engine.dispose()

    reopened = open_store(store_url)
    assert reopened.active_assignments(excluding="") == {"bob": 1}
    reopened.close()
