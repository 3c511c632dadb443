"""Timers: scheduled once, claimed once, late when claimed long after they fell due."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta

import pytest

from bot.core.events import LogEvent
from bot.core.store import TimerKey
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


def notes(store: SqlStore) -> list[str]:
    return [record.event.data["text"] for record in store.log(INC)]


def test_a_claim_in_a_unit_of_work_commits_with_its_writes(store: SqlStore) -> None:
    store.schedule(INC, "ack", "analyst/bob", START)
    (timer,) = store.due(START)

    with store.unit_of_work(origin=f"timer:{timer.id}", lane=INC):
        assert store.claim(timer.id, START) is True
        store.append([note("paging on")])
        store.schedule(INC, "ack", "analyst/carol", START + timedelta(minutes=15))

    (fired,) = store.fired(INC)
    assert fired.id == timer.id
    assert notes(store) == ["paging on"]
    assert [t.key for t in store.pending_timers(INC)] == ["analyst/carol"]


def test_a_unit_of_work_that_raises_leaves_its_timer_pending(store: SqlStore) -> None:
    store.schedule(INC, "ack", "analyst/bob", START)
    (timer,) = store.due(START)

    def fire_and_fail() -> None:
        with store.unit_of_work(origin=f"timer:{timer.id}", lane=INC):
            assert store.claim(timer.id, START) is True
            store.append([note("paging on")])
            store.schedule(INC, "ack", "analyst/carol", START + timedelta(minutes=15))
            raise RuntimeError("a failing handler")

    with pytest.raises(RuntimeError):
        fire_and_fail()

    assert store.due(START) == [timer]
    assert store.fired(INC) == []
    assert notes(store) == []
    assert store.pending_timers(INC) == [timer]


def test_a_timer_another_store_claimed_is_not_claimed_in_a_unit_of_work(
    store: SqlStore, store_url: str
) -> None:
    store.schedule(INC, "ack", "analyst/bob", START)
    (timer,) = store.due(START)
    other = open_store(store_url)
    try:
        assert other.claim(timer.id, START) is True

        with store.unit_of_work(origin=f"timer:{timer.id}", lane=INC):
            won = store.claim(timer.id, START)
            if won:
                store.append([note("fired twice")])
    finally:
        other.close()

    assert won is False
    assert notes(store) == []
    assert len(store.fired(INC)) == 1


@pytest.mark.parametrize("outcome", ["committed", "rolled back"])
def test_a_claim_by_another_store_waits_for_the_unit_of_work_that_claimed_first(
    store: SqlStore, store_url: str, outcome: str
) -> None:
    store.schedule(INC, "ack", "analyst/bob", START)
    (timer,) = store.due(START)
    other = open_store(store_url)
    results: list[bool] = []
    # A thread starts outside the unit of work, as another process would be.
    rival = threading.Thread(target=lambda: results.append(other.claim(timer.id, START)))
    try:
        with contextlib.suppress(RuntimeError), store.unit_of_work(origin="timer", lane=INC):
            assert store.claim(timer.id, START) is True
            rival.start()  # blocks on the claimed row (or the SQLite write lock)
            if outcome == "rolled back":
                raise RuntimeError("a failing handler")
        rival.join(timeout=20)
    finally:
        other.close()

    assert not rival.is_alive()
    assert results == [outcome == "rolled back"]
    assert len(store.fired(INC)) == 1


def test_many_timers_change_at_once(store: SqlStore) -> None:
    store.schedule(INC, "ack", "a", START)
    store.schedule(INC, "ack", "a", START + timedelta(hours=1))
    store.schedule(INC, "ack", "b", START)
    store.schedule("INC-2026-0002", "clock", "nis2", START)

    store.change_timers(
        [TimerKey(INC, "ack", "a"), TimerKey(INC, "ack", "gone")],
        [
            (TimerKey(INC, "ack", "b"), START),  # already there: not added again
            (TimerKey(INC, "checkin", "slot"), START + timedelta(minutes=30)),
        ],
    )

    pending = [(t.incident_id, t.kind, t.key) for t in store.all_pending_timers()]
    assert pending == [
        (INC, "ack", "b"),
        ("INC-2026-0002", "clock", "nis2"),
        (INC, "checkin", "slot"),
    ]


def test_changing_no_timers_is_harmless(store: SqlStore) -> None:
    store.change_timers([], [])
    assert store.all_pending_timers() == []
