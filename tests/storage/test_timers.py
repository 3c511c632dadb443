"""Timers: scheduled once, claimed once, late when claimed long after they fell due."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.events import LogEvent
from bot.core.store import TimerAlreadyFired
from storage.sql_store import SqlStore, open_store
from tests.storage.conftest import START

INC = "INC-2026-0001"


def test_schedule_is_idempotent_and_due_lists_the_soonest_first(store: SqlStore) -> None:
    store.schedule(INC, "ack", "analyst/bob", START + timedelta(minutes=15))
    store.schedule(INC, "ack", "analyst/bob", START + timedelta(minutes=15))
    store.schedule(INC, "checkin", "due", START + timedelta(minutes=5))

    assert [t.kind for t in store.pending_timers(INC)] == ["checkin", "ack"]
    assert store.next_due_at() == START + timedelta(minutes=5)
    assert store.due(START) == []
    assert [t.key for t in store.due(START + timedelta(minutes=15))] == ["due", "analyst/bob"]


def test_a_timer_is_claimed_once(store: SqlStore) -> None:
    store.schedule(INC, "ack", "analyst/bob", START)
    (timer,) = store.due(START)

    assert store.claim(timer.id, START) is True
    assert store.claim(timer.id, START) is False
    assert store.due(START + timedelta(hours=1)) == []
    assert store.next_due_at() is None
    (fired,) = store.fired(INC)
    assert fired.fired_at == START
    assert fired.late is False


def test_a_fired_timer_is_not_scheduled_again(store: SqlStore) -> None:
    store.schedule(INC, "clock", "nis2", START)
    (timer,) = store.due(START)
    store.claim(timer.id, START)
    store.schedule(INC, "clock", "nis2", START)
    assert store.pending_timers(INC) == []


def test_claimed_more_than_a_minute_late_is_marked_late(store: SqlStore) -> None:
    store.schedule(INC, "checkin", "due", START)
    (timer,) = store.due(START + timedelta(hours=3))
    assert store.claim(timer.id, START + timedelta(hours=3))
    assert store.fired(INC)[0].late is True


def test_cancel_drops_only_pending_timers_of_that_key(store: SqlStore) -> None:
    store.schedule(INC, "ack", "a", START)
    store.schedule(INC, "ack", "b", START)
    store.schedule(INC, "ack", "a", START + timedelta(hours=1))
    (first, _) = store.due(START)
    store.claim(first.id, START)

    store.cancel(INC, "ack", "a")

    assert [t.key for t in store.pending_timers(INC)] == ["b"]
    assert len(store.fired(INC)) == 1


def test_a_second_process_sees_the_claim(store: SqlStore, store_url: str) -> None:
    store.schedule(INC, "ack", "a", START)
    other = open_store(store_url)
    try:
        (timer,) = other.due(START)
        assert store.claim(timer.id, START)
        assert other.claim(timer.id, START) is False
    finally:
        other.close()


def note(text: str) -> LogEvent:
    return LogEvent(kind="note", actor="bot", at=START, incident_id=INC, data={"text": text})


def test_the_first_write_of_a_firing_marks_the_timer_fired_with_it(store: SqlStore) -> None:
    store.schedule(INC, "ack", "analyst/bob", START)
    (timer,) = store.due(START)
    with store.claiming(timer, START) as claim:
        assert store.due(START) == [timer]  # nothing written yet: still pending
        store.append([note("paging on")])
        assert claim.won
        assert store.due(START) == []
        store.append([note("second write")])  # claims nothing more
    assert [t.id for t in store.fired(INC)] == [timer.id]


def test_a_firing_that_writes_nothing_claims_the_timer_at_its_end(store: SqlStore) -> None:
    store.schedule(INC, "clock", "nis2", START)
    (timer,) = store.due(START)
    with pytest.raises(RuntimeError), store.claiming(timer, START):
        raise RuntimeError("a failing handler")  # claimed anyway: no endless retries
    assert store.due(START) == []


def test_a_timer_another_process_fired_aborts_the_write(store: SqlStore) -> None:
    store.schedule(INC, "ack", "analyst/bob", START)
    (timer,) = store.due(START)
    with store.claiming(timer, START) as claim:
        assert store.claim(timer.id, START)  # the other process wins
        with pytest.raises(TimerAlreadyFired):
            store.append([note("too late")])
    assert not claim.won
    assert [r.event.data["text"] for r in store.log(INC)] == []
