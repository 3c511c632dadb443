from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from bot.core.clock import FakeClock
from bot.core.events import LogEvent
from bot.core.incident import Answer, Incident, WarRoom
from bot.core.levels import Level
from bot.core.lifecycle import State
from bot.core.store import Inbox, IncidentStore, KeyValue
from bot.core.tlp import TLP
from storage.log import verify
from storage.sql_store import RoomAlreadyBound, SqlStore, open_store
from storage.tables import InboxRow
from storage.timestamps import from_db
from tests.storage.conftest import START


def make_incident(incident_id: str = "INC-2026-0001", **changes: object) -> Incident:
    incident = Incident(
        id=incident_id,
        title="Ransomware at regional hospital",
        org="cert",
        declared_by="alice",
        declared_at=START,
        t0=START - timedelta(hours=2),
        tlp=TLP.AMBER_STRICT,
        state=State.TRIAGE,
        answers={
            "Q3": Answer(question="Q3", option="essential", author="bob", at=START),
            "Q4": Answer(question="Q4", option="unknown", author="carol", at=START),
        },
        proposed_level=Level.L2,
        confirmed_level=Level.L3,
        score=63.1,
        band="High",
        explanation="S >= 55",
        police_liaison_required=True,
        named_orgs=["health-authority"],
        rooms={
            "console": WarRoom(platform="console", room_id="war-1", headline_id="m-1"),
            "matrix": WarRoom(platform="matrix", room_id="!abc:example.org"),
        },
        state_since=START + timedelta(minutes=5),
    )
    return incident.model_copy(update=changes)


def declared(incident: Incident, at: datetime = START) -> LogEvent:
    return LogEvent(kind="declared", actor="alice", at=at, incident_id=incident.id)


def test_implements_the_core_protocols(store: SqlStore) -> None:
    # Checked by mypy; at run time, that the parts are where handlers and adapters look.
    incidents: IncidentStore = store
    inbox: Inbox = store
    settings: KeyValue = store.kv
    assert incidents.get("INC-2026-0001") is None
    assert inbox.unhandled() == []
    assert settings.get("missing") is None


def test_incident_ids_count_per_year(store: SqlStore) -> None:
    first = [store.next_incident_id(2026) for _ in range(3)]
    next_year = store.next_incident_id(2027)

    assert first == ["INC-2026-0001", "INC-2026-0002", "INC-2026-0003"]
    assert next_year == "INC-2027-0001"
    assert store.next_incident_id(2026) == "INC-2026-0004"


def test_concurrent_id_reservations_never_collide(store: SqlStore) -> None:
    reserved: list[str] = []

    def reserve() -> None:
        for _ in range(5):
            reserved.append(store.next_incident_id(2026))

    workers = [threading.Thread(target=reserve) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert sorted(reserved) == [f"INC-2026-{n:04d}" for n in range(1, 21)]


def test_saved_incident_comes_back_whole(store: SqlStore) -> None:
    incident = make_incident()

    store.save(incident, [declared(incident)])

    assert store.get(incident.id) == incident
    assert store.get("INC-2026-0999") is None


def test_save_overwrites_the_snapshot(store: SqlStore) -> None:
    incident = make_incident()
    store.save(incident, [declared(incident)])

    changed = incident.model_copy(update={"state": State.RESPONSE, "tlp": TLP.RED})
    store.save(changed, [])

    assert store.get(incident.id) == changed
    assert len(store.all_incidents()) == 1


def test_incident_is_found_by_each_of_its_rooms(store: SqlStore) -> None:
    incident = make_incident()
    store.save(incident, [])

    assert store.by_room("console", "war-1") == incident
    assert store.by_room("matrix", "!abc:example.org") == incident
    assert store.by_room("console", "!abc:example.org") is None
    assert store.by_room("slack", "war-1") is None


def test_room_bindings_follow_the_snapshot(store: SqlStore) -> None:
    incident = make_incident()
    store.save(incident, [])

    store.save(incident.model_copy(update={"rooms": {}}), [])

    assert store.by_room("console", "war-1") is None


def test_open_incidents_leave_out_closed_ones(store: SqlStore) -> None:
    first = make_incident("INC-2026-0001", rooms={})
    second = make_incident("INC-2026-0002", rooms={}, state=State.CLOSED)
    third = make_incident("INC-2026-0010", rooms={})
    for incident in (third, second, first):
        store.save(incident, [])

    assert [i.id for i in store.open_incidents()] == ["INC-2026-0001", "INC-2026-0010"]
    assert [i.id for i in store.all_incidents()] == [
        "INC-2026-0001",
        "INC-2026-0002",
        "INC-2026-0010",
    ]


def test_save_appends_its_events_to_the_log(store: SqlStore, clock: FakeClock) -> None:
    incident = make_incident()
    answered = LogEvent(
        kind="answered",
        actor="bob",
        at=clock.advance(timedelta(minutes=1)),
        incident_id=incident.id,
        data={"question": "Q3", "option": "essential"},
    )

    store.save(incident, [declared(incident), answered])

    assert [record.event for record in store.log(incident.id)] == [declared(incident), answered]


def test_log_filters_by_incident_in_sequence_order(store: SqlStore) -> None:
    one, two = make_incident("INC-2026-0001", rooms={}), make_incident("INC-2026-0002", rooms={})
    store.save(one, [declared(one)])
    store.save(two, [declared(two)])
    store.append([LogEvent(kind="note", actor="bot", at=START, incident_id=one.id)])
    store.append([LogEvent(kind="roster_reloaded", actor="bot", at=START)])

    assert [record.seq for record in store.log(one.id)] == [1, 3]
    assert [record.seq for record in store.log(two.id)] == [2]
    assert [record.seq for record in store.log()] == [1, 2, 3, 4]
    assert store.log()[3].event.incident_id is None


def test_malformed_incident_id_is_refused(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="malformed incident id"):
        store.save(make_incident("case-7"), [])


def test_room_of_another_incident_is_refused(store: SqlStore) -> None:
    store.save(make_incident("INC-2026-0001"), [])
    intruder = make_incident(
        "INC-2026-0002", rooms={"console": WarRoom(platform="console", room_id="war-1")}
    )

    with pytest.raises(RoomAlreadyBound, match="already belongs to INC-2026-0001"):
        store.save(intruder, [declared(intruder)])


@pytest.mark.parametrize("failure", ["room taken", "event not storable"])
def test_failed_save_writes_nothing_and_loses_no_event(store: SqlStore, failure: str) -> None:
    store.save(make_incident("INC-2026-0001"), [])
    store.record("console", "evt-1", '{"text": "declare"}')
    if failure == "room taken":
        incident = make_incident(
            "INC-2026-0002", rooms={"console": WarRoom(platform="console", room_id="war-1")}
        )
        events = [declared(incident)]
    else:
        incident = make_incident(
            "INC-2026-0002", rooms={"slack": WarRoom(platform="slack", room_id="C1")}
        )
        # The snapshot and room are written first; this event fails after them.
        events = [
            declared(incident),
            declared(incident).model_copy(update={"data": {"x": object()}}),
        ]

    with pytest.raises((RoomAlreadyBound, ValueError)):
        store.save(incident, events)

    assert store.get("INC-2026-0002") is None
    assert store.by_room("slack", "C1") is None
    assert store.log() == []
    assert verify(store.engine).ok
    assert store.unhandled() == [("console", "evt-1", '{"text": "declare"}')]


def test_prompts_are_remembered_per_platform(store: SqlStore) -> None:
    store.bind_prompt("console", "m-7", "INC-2026-0001", "triage:Q3")
    store.bind_prompt("matrix", "m-7", "INC-2026-0002", "page:analyst")

    assert store.prompt("console", "m-7") == ("INC-2026-0001", "triage:Q3")
    assert store.prompt("matrix", "m-7") == ("INC-2026-0002", "page:analyst")
    assert store.prompt("slack", "m-7") is None


def test_rebinding_a_prompt_replaces_it(store: SqlStore) -> None:
    store.bind_prompt("console", "m-7", "INC-2026-0001", "triage:Q3")
    store.bind_prompt("console", "m-7", "INC-2026-0001", "triage:Q4")

    assert store.prompt("console", "m-7") == ("INC-2026-0001", "triage:Q4")


def test_inbox_refuses_duplicates(store: SqlStore) -> None:
    assert store.record("slack", "evt-1", "first") is True
    assert store.record("slack", "evt-1", "again") is False
    assert store.record("matrix", "evt-1", "other platform") is True

    assert store.unhandled() == [("slack", "evt-1", "first"), ("matrix", "evt-1", "other platform")]


def test_handled_events_leave_the_unhandled_list(store: SqlStore) -> None:
    for n in range(3):
        store.record("console", f"evt-{n}", f"payload {n}")

    store.mark_handled("console", "evt-1")

    assert store.unhandled() == [
        ("console", "evt-0", "payload 0"),
        ("console", "evt-2", "payload 2"),
    ]
    assert store.record("console", "evt-1", "redelivered") is False


def test_unhandled_events_can_be_listed_by_when_they_were_received(
    store: SqlStore, clock: FakeClock
) -> None:
    store.record("console", "evt-old", "first")
    clock.advance(timedelta(seconds=30))
    store.record("console", "evt-new", "second")

    assert store.unhandled(received_before=START + timedelta(seconds=30)) == [
        ("console", "evt-old", "first")
    ]
    assert store.unhandled(received_before=START) == []
    assert len(store.unhandled()) == 2


def test_marking_an_event_handled_in_a_unit_of_work_commits_with_its_writes(
    store: SqlStore,
) -> None:
    store.record("console", "evt-1", "note Backups are offline")
    note = LogEvent(kind="note", actor="bob", at=START, data={"text": "Backups are offline"})

    with store.unit_of_work(origin="console:evt-1", lane="lobby"):
        store.append([note])
        store.mark_handled("console", "evt-1")

    assert store.unhandled() == []
    assert store.is_handled("console", "evt-1")
    assert [record.event for record in store.log()] == [note]


def test_marking_an_event_handled_is_rolled_back_with_its_unit_of_work(
    store: SqlStore,
) -> None:
    store.record("console", "evt-1", "note Backups are offline")
    note = LogEvent(kind="note", actor="bob", at=START, data={"text": "Backups are offline"})

    def handle_and_fail() -> None:
        with store.unit_of_work(origin="console:evt-1", lane="lobby"):
            store.append([note])
            store.mark_handled("console", "evt-1")
            assert store.is_handled("console", "evt-1")  # seen inside its own transaction
            raise RuntimeError("a failing handler")

    with pytest.raises(RuntimeError):
        handle_and_fail()

    assert store.unhandled() == [("console", "evt-1", "note Backups are offline")]
    assert not store.is_handled("console", "evt-1")
    assert store.log() == []


def test_inbox_times_come_from_the_clock(store: SqlStore, clock: FakeClock) -> None:
    clock.advance(timedelta(hours=3))
    store.record("console", "evt-1", "x")

    with Session(store.engine) as session:
        stored = session.exec(select(InboxRow.received_at)).one()
    assert from_db(stored) == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_key_values(store: SqlStore) -> None:
    assert store.kv.get("matrix:next_batch") is None

    store.kv.set("matrix:next_batch", "s1")
    store.kv.set("matrix:next_batch", "s2")
    store.kv.set("slack:dm:U1", "D1")

    assert store.kv.get("matrix:next_batch") == "s2"
    assert store.kv.get("slack:dm:U1") == "D1"


def test_everything_survives_reopening(store_url: str, clock: FakeClock) -> None:
    first = open_store(store_url, clock)
    incident = make_incident(first.next_incident_id(2026))
    first.save(incident, [declared(incident)])
    first.record("console", "evt-1", "x")
    first.kv.set("k", "v")
    first.close()

    again = open_store(store_url, clock)
    try:
        assert again.get(incident.id) == incident
        assert again.next_incident_id(2026) == "INC-2026-0002"
        assert again.unhandled() == [("console", "evt-1", "x")]
        assert again.kv.get("k") == "v"
        assert verify(again.engine).ok
    finally:
        again.close()
