"""Lock order on PostgreSQL: a timer's unit of work and an event's take an incident's row
before its timers' rows, so that the two never wait for each other in a cycle (a deadlock
PostgreSQL would break by failing one of them)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import psycopg
import pytest

from bot.core.clock import FakeClock
from bot.core.store import Timer
from storage.leadership import libpq_url
from storage.sql_store import SqlStore, open_store
from tests.storage.conftest import START
from tests.storage.test_sql_store import declared, make_incident

INC = "INC-2026-0001"
KEY = "analyst/bob/0"
WAIT_S = 10.0  # only a failing run waits this long


@pytest.fixture
def store(fresh_postgres_url: str) -> Iterator[SqlStore]:
    opened = open_store(fresh_postgres_url, FakeClock(START))
    incident = make_incident(INC, rooms={})
    opened.save(incident, [declared(incident)])
    opened.schedule(INC, "ack", KEY, START)
    yield opened
    opened.close()


def in_thread(work: Callable[[], object], errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            work()
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def waiting_for_a_lock(url: str) -> None:
    """Returns once some session of the database waits for a lock."""
    deadline = time.monotonic() + WAIT_S
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        while time.monotonic() < deadline:
            found = connection.execute(
                # A row lock is waited for as its holder's transaction: no database given.
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid IN"
                " (SELECT pid FROM pg_stat_activity WHERE datname = current_database())"
            )
            row = found.fetchone()
            if row is not None and row[0] > 0:
                return
            time.sleep(0.02)
    raise AssertionError("no session ever waited for a lock")


def decide_event(
    store: SqlStore, locked: threading.Event, go: threading.Event, *, cancel: bool = True
) -> None:
    """An event's unit of work: it reads the incident (locking it), then cancels the timer
    (or, with `cancel` false, changes nothing)."""
    with store.unit_of_work(origin="console:evt-1", lane=INC):
        assert store.get(INC) is not None
        locked.set()
        assert go.wait(WAIT_S)
        if cancel:
            store.cancel(INC, "ack", KEY)


def fire_in_timer(store: SqlStore, timer: Timer, claimed: threading.Event) -> bool:
    """A timer's unit of work, as the runtime runs it: claim, then read the incident."""
    with store.unit_of_work(origin=f"timer:{timer.id}", lane=INC):
        won = store.claim(timer.id, START)
        claimed.set()
        if won:
            assert store.get(INC) is not None
        return won


@pytest.mark.postgres
@pytest.mark.parametrize("cancel", [True, False], ids=["cancelled", "left"])
def test_a_timer_due_while_an_event_of_its_incident_is_decided_is_left_to_that_event(
    store: SqlStore, fresh_postgres_url: str, cancel: bool
) -> None:
    (timer,) = store.due(START)
    other = open_store(fresh_postgres_url, FakeClock(START))  # another replica
    locked, claimed = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    results: list[bool] = []
    try:
        event = in_thread(lambda: decide_event(other, locked, claimed, cancel=cancel), errors)
        assert locked.wait(WAIT_S)
        firing = in_thread(lambda: results.append(fire_in_timer(store, timer, claimed)), errors)
        firing.join(WAIT_S)
        event.join(WAIT_S)
    finally:
        other.close()

    assert errors == []
    assert not firing.is_alive()
    assert not event.is_alive()
    # The event held the incident: the timer was not claimed meanwhile.
    assert results == [False]
    if cancel:
        assert store.due(START) == []
        assert store.pending_timers(INC) == []
    else:  # still due: the next look fires it, once
        assert store.due(START) == [timer]
        assert fire_in_timer(store, timer, threading.Event()) is True
        assert fire_in_timer(store, timer, threading.Event()) is False
    assert len(store.fired(INC)) == (0 if cancel else 1)


@pytest.mark.postgres
def test_an_event_while_its_incident_s_timer_fires_waits_for_the_firing(
    store: SqlStore, fresh_postgres_url: str
) -> None:
    (timer,) = store.due(START)
    other = open_store(fresh_postgres_url, FakeClock(START))
    claimed, go = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    results: list[bool] = []

    def fire() -> None:
        with store.unit_of_work(origin=f"timer:{timer.id}", lane=INC):
            results.append(store.claim(timer.id, START))
            claimed.set()
            # Only once the event waits for a lock (the incident's, or with the timer's taken
            # first, the timer's while it holds the incident) does the firing read the incident.
            assert go.wait(WAIT_S)
            assert store.get(INC) is not None
            store.schedule(INC, "ack", "analyst/carol/0", START + timedelta(minutes=15))

    try:
        firing = in_thread(fire, errors)
        assert claimed.wait(WAIT_S)
        at_once = threading.Event()
        at_once.set()
        event = in_thread(lambda: decide_event(other, threading.Event(), at_once), errors)
        waiting_for_a_lock(fresh_postgres_url)  # the event, on the incident or the timer
        go.set()
        firing.join(WAIT_S)
        event.join(WAIT_S)
    finally:
        other.close()

    assert errors == []
    assert not firing.is_alive()
    assert not event.is_alive()
    assert results == [True]
    assert [t.id for t in store.fired(INC)] == [timer.id]
    assert [t.key for t in store.pending_timers(INC)] == ["analyst/carol/0"]
