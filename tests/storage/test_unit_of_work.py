"""Units of work: one transaction per decision, incidents held to the version they were loaded
at, effects in the outbox, and a database that must still be the one the bot started on."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from bot.core.clock import FakeClock
from bot.core.events import LogEvent
from bot.core.incident import WarRoom
from bot.core.lifecycle import State
from bot.core.store import StaleIncident, StorageLost
from storage.db import database_url_for_path
from storage.log import verify
from storage.sql_store import CLAIM, KEPT_INCIDENTS, KEPT_LANES, SqlStore, open_store
from storage.tables import IncidentRow, OutboxRow
from tests.storage.conftest import START
from tests.storage.test_sql_store import declared, make_incident

INC = "INC-2026-0001"


def version(store: SqlStore, incident_id: str = INC) -> int:
    with Session(store.engine) as session:
        row = session.get(IncidentRow, incident_id)
        assert row is not None
        return row.version


def note(text: str) -> LogEvent:
    return LogEvent(kind="note", actor="bob", at=START, incident_id=INC, data={"text": text})


# One transaction


def decide_everything(store: SqlStore) -> None:
    """What one decision may write: snapshot, log, timers, prompt, outbox, inbox mark, kv."""
    incident = make_incident(INC, rooms={})
    store.save(incident, [declared(incident)])
    store.append([note("paged the analyst")])
    store.schedule(INC, "ack", "analyst/bob", START + timedelta(minutes=15))
    (checkin,) = store.due(START)
    assert store.claim(checkin.id, START)
    store.bind_prompt("console", "m-1", INC, "triage:Q3")
    store.add_effect("console", "send", json.dumps({"room_id": "lobby", "text": "declared"}))
    store.mark_handled("console", "evt-1")
    store.kv.set("console:cursor", "7")


def test_everything_a_unit_of_work_writes_commits_together(store: SqlStore) -> None:
    store.record("console", "evt-1", "declare")
    store.schedule(INC, "checkin", "due", START)

    with store.unit_of_work(origin="console:evt-1", lane="lobby", reply_to=("console", "lobby")):
        decide_everything(store)

    assert store.get(INC) == make_incident(INC, rooms={})
    assert [record.event.kind for record in store.log(INC)] == ["declared", "note"]
    assert verify(store.engine).ok
    assert [t.key for t in store.pending_timers(INC)] == ["analyst/bob"]
    assert [t.kind for t in store.fired(INC)] == ["checkin"]
    assert store.prompt("console", "m-1") == (INC, "triage:Q3")
    (effect,) = store.pending_effects("lobby")
    assert (effect.key, effect.kind, effect.origin) == (
        "console:evt-1#1",
        "send",
        ("console", "lobby"),
    )
    assert store.unhandled() == []
    assert store.kv.get("console:cursor") == "7"


def test_a_unit_of_work_that_raises_writes_nothing(store: SqlStore) -> None:
    store.record("console", "evt-1", "declare")
    store.schedule(INC, "checkin", "due", START)

    def decide_and_fail() -> None:
        with store.unit_of_work(origin="console:evt-1", lane="lobby"):
            decide_everything(store)
            raise RuntimeError("a failing handler")

    with pytest.raises(RuntimeError):
        decide_and_fail()

    assert store.get(INC) is None
    assert store.log() == []
    assert verify(store.engine).ok
    assert [t.kind for t in store.pending_timers(INC)] == ["checkin"]
    assert store.fired(INC) == []
    assert store.prompt("console", "m-1") is None
    assert store.pending_effects() == []
    assert store.unhandled() == [("console", "evt-1", "declare")]
    assert store.kv.get("console:cursor") is None


def test_units_of_work_do_not_nest(store: SqlStore) -> None:
    def nested() -> None:
        with store.unit_of_work(origin="b", lane="lobby"):
            pass

    with store.unit_of_work(origin="a", lane="lobby"), pytest.raises(RuntimeError, match="nest"):
        nested()


# Incident versions


def test_an_incident_saved_twice_in_one_unit_of_work_goes_up_one_version(
    store: SqlStore,
) -> None:
    store.save(make_incident(INC), [])
    assert version(store) == 1

    with store.unit_of_work(origin="console:evt-1", lane=INC):
        incident = store.get(INC)
        assert incident is not None
        store.save(incident.model_copy(update={"state": State.RESPONSE}), [])
        store.save(incident.model_copy(update={"state": State.CONTAINED}), [])

    assert version(store) == 2
    stored = store.get(INC)
    assert stored is not None
    assert stored.state == State.CONTAINED


def test_an_incident_created_and_saved_again_in_one_unit_of_work_is_at_version_one(
    store: SqlStore,
) -> None:
    with store.unit_of_work(origin="console:evt-1", lane="lobby"):
        incident = make_incident(INC)
        store.save(incident, [declared(incident)])
        store.save(incident.model_copy(update={"state": State.RESPONSE}), [])

    assert version(store) == 1


def test_each_unit_of_work_that_saves_an_incident_goes_up_one_version(store: SqlStore) -> None:
    store.save(make_incident(INC), [])
    for _ in range(3):
        with store.unit_of_work(origin="console:evt", lane=INC):
            incident = store.by_room("console", "war-1")
            assert incident is not None
            store.save(incident, [])

    assert version(store) == 4


@pytest.mark.postgres
def test_an_incident_another_store_saved_since_it_was_loaded_is_stale(
    fresh_postgres_url: str, clock: FakeClock
) -> None:
    store = open_store(fresh_postgres_url, clock)
    other = open_store(fresh_postgres_url, clock)
    try:
        store.save(make_incident(INC), [])

        def save_elsewhere() -> None:
            incident = other.get(INC)
            assert incident is not None
            other.save(incident.model_copy(update={"title": "Elsewhere"}), [note("elsewhere")])

        def decide() -> None:
            with store.unit_of_work(origin="console:evt-1", lane=INC):
                (incident,) = store.open_incidents()
                # Another process, with its own transaction, commits meanwhile.
                rival = threading.Thread(target=save_elsewhere)
                rival.start()
                rival.join()
                store.save(incident.model_copy(update={"state": State.RESPONSE}), [note("here")])

        with pytest.raises(StaleIncident, match=INC):
            decide()

        stored = store.get(INC)
        assert stored is not None
        assert (stored.title, stored.state) == ("Elsewhere", State.TRIAGE)
        assert [record.event.data["text"] for record in store.log(INC)] == ["elsewhere"]
        assert version(store) == 2
    finally:
        other.close()
        store.close()


def test_on_sqlite_another_store_waits_for_the_unit_of_work_instead(
    file_store: SqlStore, db_file: Path, clock: FakeClock
) -> None:
    # The unit of work holds the SQLite write lock from its start, so no save comes between
    # its load and its save: the other process's save follows the commit.
    file_store.save(make_incident(INC), [])
    other = open_store(database_url_for_path(db_file), clock)
    saved = threading.Event()

    def save_elsewhere() -> None:
        incident = make_incident(INC, title="Elsewhere")
        other.save(incident, [note("elsewhere")])
        saved.set()

    rival = threading.Thread(target=save_elsewhere)
    try:
        with file_store.unit_of_work(origin="console:evt-1", lane=INC):
            incident = file_store.get(INC)
            assert incident is not None
            rival.start()
            assert not saved.wait(timeout=0.3)
            file_store.save(incident.model_copy(update={"state": State.RESPONSE}), [note("here")])
        rival.join(timeout=20)
    finally:
        other.close()

    assert saved.is_set()
    assert [record.event.data["text"] for record in file_store.log(INC)] == ["here", "elsewhere"]
    assert version(file_store) == 3


# Outbox


def test_effects_are_recorded_inside_a_unit_of_work_only(store: SqlStore) -> None:
    with pytest.raises(RuntimeError, match="inside a unit of work"):
        store.add_effect("console", "send", "{}")
    assert store.pending_effects() == []


def test_effect_keys_count_from_the_origin_of_their_unit_of_work(store: SqlStore) -> None:
    with store.unit_of_work(origin="console:evt-1", lane=INC, reply_to=("console", "war-1")):
        first = store.add_effect("console", "send", '{"n": 1}')
        second = store.add_effect("matrix", "send", '{"n": 2}')
    with store.unit_of_work(origin="timer:7", lane="lobby"):
        third = store.add_effect("console", "send", '{"n": 3}')

    assert (first, second, third) == ("console:evt-1#1", "console:evt-1#2", "timer:7#1")
    assert [(e.key, e.platform, e.origin) for e in store.pending_effects(INC)] == [
        ("console:evt-1#1", "console", ("console", "war-1")),
        ("console:evt-1#2", "matrix", ("console", "war-1")),
    ]
    assert [e.key for e in store.pending_effects()] == [first, second, third]
    found = store.effect(third)
    assert found is not None
    effect, result, done = found
    assert (effect.lane, effect.payload, effect.origin, result, done) == (
        "lobby",
        '{"n": 3}',
        None,
        None,
        False,
    )
    assert store.effect("console:evt-9#1") is None


def statements(store: SqlStore) -> list[str]:
    """The SQL the store runs from now on."""
    seen: list[str] = []
    for engine in {store.engine, store.reader}:
        event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_a_unit_of_work_reads_the_log_head_once_and_writes_its_effects_at_once(
    store: SqlStore,
) -> None:
    incident = make_incident(INC, rooms={})
    store.save(incident, [declared(incident)])
    seen = statements(store)
    with store.unit_of_work(origin="console:evt-1", lane=INC):
        for n in range(3):
            store.append([note(f"note {n}")])
            store.add_effect("console", "send", f'{{"n": {n}}}')
        last = store.log()[-1]
        assert store.log_head() == (last.seq, last.hash)

    assert len([sql for sql in seen if sql.startswith("SELECT") and "log_head" in sql]) == 1
    assert len([sql for sql in seen if sql.startswith("INSERT INTO outbox")]) == 1
    assert [e.payload for e in store.pending_effects()] == ['{"n": 0}', '{"n": 1}', '{"n": 2}']
    assert verify(store.engine).ok


def test_delivering_a_war_room_puts_its_real_id_in_place_of_the_placeholder(
    store: SqlStore,
) -> None:
    with store.unit_of_work(origin="console:evt-1", lane="lobby", reply_to=("console", "lobby")):
        created = store.add_effect("console", "create_room", '{"spec": {}}')
        room = f"@out:{created}/room_id"
        incident = make_incident(INC, rooms={"console": WarRoom(platform="console", room_id=room)})
        store.save(incident, [declared(incident)])
        sent = store.add_effect("console", "send", json.dumps({"room_id": room}))
        message = f"@out:{sent}/message_id"
        store.bind_prompt("console", message, INC, "triage:Q3")
    assert store.by_room("console", room) == incident
    create_room, send = store.pending_effects("lobby")

    store.delivered(create_room, json.dumps({"room_id": "war-7"}), {room: "war-7"})
    store.delivered(
        send,
        json.dumps({"room_id": "war-7", "message_id": "m-42"}),
        {f"@out:{sent}/room_id": "war-7", message: "m-42"},
    )

    opened = incident.model_copy(
        update={"rooms": {"console": WarRoom(platform="console", room_id="war-7")}}
    )
    assert store.by_room("console", "war-7") == opened
    assert store.by_room("console", room) is None
    assert store.get(INC) == opened
    assert version(store) == 2  # a unit of work that loaded the placeholder is stale
    records = store.log(INC)
    assert [record.event.kind for record in records] == ["declared", "war_room_opened"]
    assert records[1].event.data == {"platform": "console", "room": "war-7"}
    assert verify(store.engine).ok
    assert store.prompt("console", "m-42") == (INC, "triage:Q3")
    assert store.prompt("console", message) is None
    assert store.pending_effects() == []
    found = store.effect(created)
    assert found is not None
    assert found[1:] == ('{"room_id": "war-7"}', True)


def test_a_placeholder_of_another_platform_is_left_alone(store: SqlStore) -> None:
    with store.unit_of_work(origin="console:evt-1", lane="lobby"):
        created = store.add_effect("matrix", "create_room", "{}")
        room = f"@out:{created}/room_id"
        incident = make_incident(INC, rooms={"console": WarRoom(platform="console", room_id=room)})
        store.save(incident, [])
    (effect,) = store.pending_effects()

    store.delivered(effect, json.dumps({"room_id": "!r:example.org"}), {room: "!r:example.org"})

    assert store.by_room("console", room) == incident
    assert [record.event.kind for record in store.log(INC)] == []


def test_a_failed_effect_is_done_with_its_error(store: SqlStore) -> None:
    with store.unit_of_work(origin="console:evt-1", lane=INC):
        key = store.add_effect("console", "invite", '{"user_id": "bob"}')
        kept = store.add_effect("console", "send", "{}")
    effect, _ = store.pending_effects(INC)

    store.attempted(effect.id)
    store.attempted(effect.id)
    assert store.pending_effects(INC)[0].attempts == 2
    store.failed(effect.id, "forbidden: " + "x" * 3000)

    assert [e.key for e in store.pending_effects(INC)] == [kept]
    found = store.effect(key)
    assert found is not None
    assert found[1:] == (None, True)
    with Session(store.engine) as session:
        error = session.exec(select(OutboxRow.error).where(OutboxRow.key == key)).one()
    assert error is not None
    assert error.startswith("forbidden: ")
    assert len(error) == 2000


# The database the bot started on


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "var" / "rrt.db"


@pytest.fixture
def file_store(db_file: Path, clock: FakeClock) -> Iterator[SqlStore]:
    opened = open_store(database_url_for_path(db_file), clock)
    yield opened
    opened.close()


def write_something(store: SqlStore) -> None:
    with store.unit_of_work(origin="console:evt", lane="lobby"):
        store.append([note("still here")])


def another_database(path: Path, clock: FakeClock) -> Path:
    other = open_store(database_url_for_path(path), clock)
    other.close()
    return path


def test_a_removed_database_file_refuses_every_later_unit_of_work(
    file_store: SqlStore, db_file: Path
) -> None:
    write_something(file_store)

    db_file.unlink()

    with pytest.raises(StorageLost, match="was removed"):
        write_something(file_store)
    with pytest.raises(StorageLost, match="was removed"):
        write_something(file_store)


def test_a_lost_database_stays_lost_when_the_file_comes_back(
    file_store: SqlStore, db_file: Path, tmp_path: Path
) -> None:
    moved = db_file.rename(tmp_path / "moved.db")
    with pytest.raises(StorageLost):
        write_something(file_store)

    moved.rename(db_file)

    with pytest.raises(StorageLost, match="restored and restarted"):
        write_something(file_store)


def test_a_database_file_replaced_by_another_database_is_refused(
    file_store: SqlStore, db_file: Path, tmp_path: Path, clock: FakeClock
) -> None:
    replacement = another_database(tmp_path / "other.db", clock)

    os.replace(replacement, db_file)

    with pytest.raises(StorageLost, match="was replaced"):
        write_something(file_store)
    with pytest.raises(StorageLost):
        write_something(file_store)


def test_a_database_file_cut_to_nothing_under_the_store_is_refused(
    file_store: SqlStore, db_file: Path
) -> None:
    write_something(file_store)

    os.truncate(db_file, 0)

    with pytest.raises(StorageLost, match="emptied or damaged"):
        write_something(file_store)
    with pytest.raises(StorageLost):
        write_something(file_store)


def test_a_database_that_lost_its_identity_row_is_refused(file_store: SqlStore) -> None:
    file_store.kv.set("db:identity", "someone else")

    with pytest.raises(StorageLost, match="replaced by another one"):
        write_something(file_store)


def test_a_unit_of_work_on_the_same_database_reopened_is_accepted(
    file_store: SqlStore, db_file: Path, clock: FakeClock
) -> None:
    write_something(file_store)
    again = open_store(database_url_for_path(db_file), clock)
    try:
        write_something(again)
        assert again.identity.token == file_store.identity.token
    finally:
        again.close()
    write_something(file_store)
    assert len(file_store.log(INC)) == 3


@pytest.mark.parametrize("content", [b"", b"not a database at all\n"])
def test_an_existing_file_that_is_not_sqlite_is_not_opened(
    db_file: Path, clock: FakeClock, content: bytes
) -> None:
    db_file.parent.mkdir(parents=True)
    db_file.write_bytes(content)

    with pytest.raises(StorageLost, match="empty or not a SQLite database"):
        open_store(database_url_for_path(db_file), clock)

    assert db_file.read_bytes() == content


# What a unit of work leaves to deliver


def test_a_unit_of_work_claims_its_effects_when_its_lane_has_nothing_older_waiting(
    store: SqlStore,
) -> None:
    with store.unit_of_work(origin="console:evt-1", lane=INC, claim=lambda p: p == "console") as d:
        store.add_effect("console", "send", '{"n": 1}')
        store.add_effect("matrix", "send", '{"n": 2}')
        assert d.effects is None  # not committed yet

    assert d.effects is not None
    console, matrix = d.effects
    assert (console.payload, matrix.payload) == ('{"n": 1}', '{"n": 2}')
    assert console.claimed_until == START + CLAIM
    assert console.attempts == 0
    assert matrix.claimed_until is None  # its platform is not connected: it waits, unclaimed
    stored = {effect.key: effect for effect in store.pending_effects(INC)}
    assert [stored[console.key].attempts, stored[matrix.key].attempts] == [1, 0]
    assert stored[console.key].id == console.id


def test_with_older_effects_waiting_a_unit_of_work_claims_none_and_lists_them_first(
    store: SqlStore,
) -> None:
    with store.unit_of_work(origin="console:evt-1", lane=INC):
        store.add_effect("console", "send", '{"n": 1}')
    with store.unit_of_work(origin="console:evt-2", lane=INC, claim=lambda p: True) as decided:
        store.add_effect("console", "send", '{"n": 2}')
    with store.unit_of_work(origin="console:evt-3", lane=INC, claim=lambda p: True) as nothing:
        pass

    assert decided.effects is not None
    assert nothing.effects is not None
    assert [e.payload for e in decided.effects] == ['{"n": 1}', '{"n": 2}']
    assert [e.claimed_until for e in decided.effects] == [None, None]
    assert [e.attempts for e in store.pending_effects(INC)] == [0, 0]
    assert [e.payload for e in nothing.effects] == ['{"n": 1}', '{"n": 2}']


def test_a_unit_of_work_that_raises_leaves_nothing_to_deliver(store: SqlStore) -> None:
    def fail() -> None:
        store.add_effect("console", "send", "{}")
        raise RuntimeError("the handler failed")

    with pytest.raises(RuntimeError), store.unit_of_work(origin="c:1", lane=INC) as decided:
        fail()

    assert decided.effects is None
    assert store.pending_effects() == []


# The incident as last committed, and the rooms known


def test_the_incident_as_last_committed_is_read_from_memory_on_sqlite(
    store: SqlStore,
) -> None:
    incident = make_incident(INC, rooms={})
    with store.unit_of_work(origin="console:evt-1", lane=INC):
        store.save(incident, [declared(incident)])
    seen = statements(store)

    assert store.committed(INC) == incident
    on_postgres = store.engine.dialect.name == "postgresql"
    assert bool([sql for sql in seen if "FROM incidents" in sql]) is on_postgres

    with store.unit_of_work(origin="console:evt-2", lane=INC):
        loaded = store.get(INC)
        assert loaded is not None
        store.save(loaded.model_copy(update={"title": "Renamed"}), [note("renamed")])
    committed = store.committed(INC)
    assert committed is not None
    assert committed.title == "Renamed"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_only_the_incidents_committed_most_lately_are_kept_in_memory(store: SqlStore) -> None:
    ids = [f"INC-2026-{n:04d}" for n in range(1, KEPT_INCIDENTS + 2)]
    for incident_id in ids:
        incident = make_incident(incident_id, rooms={})
        with store.unit_of_work(origin=f"console:{incident_id}", lane=incident_id):
            store.save(incident, [declared(incident)])

    assert store.committed_in_memory(ids[0]) is None  # read from the table again
    assert store.committed(ids[0]) == make_incident(ids[0], rooms={})
    kept = store.committed_in_memory(ids[-1])
    assert kept is not None
    assert kept.id == ids[-1]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_only_the_lanes_committed_in_most_lately_are_known_idle(store: SqlStore) -> None:
    for number in range(KEPT_LANES + 1):
        with store.unit_of_work(origin=f"console:evt-{number}", lane=f"console:evt-{number}"):
            pass
    seen = statements(store)

    with store.unit_of_work(origin="console:again-0", lane="console:evt-0"):
        store.add_effect("console", "send", '{"room_id": "lobby"}')
    with store.unit_of_work(origin=f"console:again-{KEPT_LANES}", lane=f"console:evt-{KEPT_LANES}"):
        store.add_effect("console", "send", '{"room_id": "lobby"}')

    reads = [sql for sql in seen if sql.startswith("SELECT") and "FROM outbox" in sql]
    assert len(reads) == 1  # the first lane's, forgotten; the last is known idle


def test_an_incident_changed_outside_a_unit_of_work_is_read_again(store: SqlStore) -> None:
    incident = make_incident(INC, rooms={})
    with store.unit_of_work(origin="console:evt-1", lane=INC):
        store.save(incident, [declared(incident)])
    assert store.committed(INC) == incident

    store.save(incident.model_copy(update={"title": "Changed by a tool"}), [])

    committed = store.committed(INC)
    assert committed is not None
    assert committed.title == "Changed by a tool"


def test_a_war_room_opened_shows_in_the_incident_as_last_committed(store: SqlStore) -> None:
    with store.unit_of_work(origin="console:evt-1", lane="lobby"):
        created = store.add_effect("console", "create_room", '{"spec": {}}')
        room = f"@out:{created}/room_id"
        incident = make_incident(INC, rooms={"console": WarRoom(platform="console", room_id=room)})
        store.save(incident, [declared(incident)])
    assert store.committed(INC) == incident
    (create_room,) = store.pending_effects("lobby")

    store.delivered(create_room, json.dumps({"room_id": "war-7"}), {room: "war-7"})

    committed = store.committed(INC)
    assert committed is not None
    assert committed.rooms["console"].room_id == "war-7"


def test_a_room_is_known_once_seen_and_never_read_for(store: SqlStore) -> None:
    incident = make_incident(INC, rooms={"console": WarRoom(platform="console", room_id="war-1")})
    store.save(incident, [declared(incident)])
    assert store.known_room("console", "war-1") is None  # not seen yet

    assert store.by_room("console", "war-1") == incident
    seen = statements(store)

    assert store.known_room("console", "war-1") == INC
    assert store.known_room("console", "elsewhere") is None
    assert seen == []


# Which delivered effects have real ids to give to prompts


def test_an_effect_a_prompt_is_bound_to_gives_it_its_real_id_and_another_costs_no_statement(
    store: SqlStore,
) -> None:
    with store.unit_of_work(origin="console:evt-1", lane=INC):
        asked = store.add_effect("console", "send", '{"room_id": "war-1"}')
        store.bind_prompt("console", f"@out:{asked}/message_id", INC, "triage:Q3")
        store.add_effect("console", "send", '{"room_id": "war-1"}')  # a plain answer
    question, answer = store.pending_effects(INC)
    assert (question.binds, answer.binds) == (True, False)
    assert not store.marked_in_memory(question, {f"@out:{asked}/message_id": "m-1"})
    assert store.marked_in_memory(answer, {f"@out:{answer.key}/message_id": "m-2"})

    store.delivered(question, '{"message_id": "m-1"}', {f"@out:{asked}/message_id": "m-1"})
    seen = statements(store)
    store.delivered(answer, '{"message_id": "m-2"}', {f"@out:{answer.key}/message_id": "m-2"})

    assert seen == []  # its mark waits for the next transaction
    assert store.prompt("console", "m-1") == (INC, "triage:Q3")
    assert store.pending_effects() == []
    assert store.effect(answer.key) == (answer, '{"message_id": "m-2"}', True)


def done_in_table(store: SqlStore) -> dict[str, tuple[bool, str | None]]:
    with Session(store.engine) as session:
        return {row.key: (row.done, row.result) for row in session.exec(select(OutboxRow))}


def sent_once(store: SqlStore, origin: str) -> str:
    with store.unit_of_work(origin=origin, lane=INC):
        return store.add_effect("console", "send", '{"room_id": "war-1"}')


def test_a_delivered_mark_is_written_by_the_next_unit_of_work_before_it_reads_its_lane(
    store: SqlStore,
) -> None:
    first = sent_once(store, "console:evt-1")
    (effect,) = store.pending_effects(INC)
    store.delivered(effect, '{"message_id": "m-1"}', {})
    assert done_in_table(store) == {first: (False, None)}
    assert store.backlog() == (0, 0)

    with store.unit_of_work(origin="console:evt-2", lane=INC) as decided:
        second = store.add_effect("console", "send", '{"room_id": "war-1"}')

    assert done_in_table(store) == {first: (True, '{"message_id": "m-1"}'), second: (False, None)}
    assert decided.effects is not None
    assert [pending.key for pending in decided.effects] == [second]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # no other process writes
def test_on_sqlite_a_lane_known_to_have_nothing_waiting_is_not_read_again(
    store: SqlStore,
) -> None:
    sent_once(store, "console:evt-1")
    (effect,) = store.pending_effects(INC)
    store.delivered(effect, '{"message_id": "m-1"}', {})
    seen = statements(store)

    with store.unit_of_work(origin="console:evt-2", lane=INC) as decided:
        second = store.add_effect("console", "send", '{"room_id": "war-1"}')
    read_lane = [sql for sql in seen if sql.startswith("SELECT") and "FROM outbox" in sql]
    assert read_lane == []
    assert decided.effects is not None
    assert [pending.key for pending in decided.effects] == [second]

    # Its effect not delivered yet: the next unit of work reads the lane, and finds it first.
    seen.clear()
    with store.unit_of_work(origin="console:evt-3", lane=INC) as decided:
        third = store.add_effect("console", "send", '{"room_id": "war-1"}')
    assert any(sql.startswith("SELECT") and "FROM outbox" in sql for sql in seen)
    assert decided.effects is not None
    assert [pending.key for pending in decided.effects] == [second, third]


def test_a_mark_taken_by_a_unit_of_work_that_fails_is_written_by_the_next(store: SqlStore) -> None:
    first = sent_once(store, "console:evt-1")
    (effect,) = store.pending_effects(INC)
    store.delivered(effect, '{"message_id": "m-1"}', {})

    def refused() -> None:
        with store.unit_of_work(origin="console:evt-2", lane=INC):
            store.add_effect("console", "send", '{"room_id": "war-1"}')
            raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        refused()
    assert done_in_table(store) == {first: (False, None)}
    assert store.pending_effects() == []

    store.write_marks()
    assert done_in_table(store) == {first: (True, '{"message_id": "m-1"}')}


def test_marks_left_are_written_when_the_store_closes(db_file: Path, clock: FakeClock) -> None:
    url = database_url_for_path(db_file)
    store = open_store(url, clock)
    first = sent_once(store, "console:evt-1")
    (effect,) = store.pending_effects(INC)
    store.delivered(effect, '{"message_id": "m-1"}', {})
    store.close()

    again = open_store(url, clock)
    try:
        assert done_in_table(again) == {first: (True, '{"message_id": "m-1"}')}
    finally:
        again.close()


def test_a_prompt_bound_later_to_an_effect_still_waiting_is_given_its_real_id(
    store: SqlStore,
) -> None:
    with store.unit_of_work(origin="console:evt-1", lane=INC):
        sent = store.add_effect("console", "send", '{"room_id": "war-1"}')
    with store.unit_of_work(origin="console:evt-2", lane=INC):
        store.bind_prompt("console", f"@out:{sent}/message_id", INC, "page:analyst")
    (effect,) = store.pending_effects(INC)
    assert effect.binds

    store.delivered(effect, '{"message_id": "m-9"}', {f"@out:{sent}/message_id": "m-9"})

    assert store.prompt("console", "m-9") == (INC, "page:analyst")
