from __future__ import annotations

import hashlib
import itertools
import json
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, text

from bot.core.events import LogEvent
from storage.log import GENESIS_HASH, VerifyResult, entry_hash, stored_entry_hash, verify
from storage.sql_store import SqlStore
from tests.storage.conftest import START

ENTRIES = 5


def event(n: int, incident_id: str | None = "INC-2026-0001", **data: Any) -> LogEvent:
    return LogEvent(
        kind="note",
        actor=f"person-{n}",
        at=START + timedelta(minutes=n),
        incident_id=incident_id,
        data={"n": n, **data},
    )


@pytest.fixture
def filled(store: SqlStore) -> SqlStore:
    store.append([event(n) for n in range(1, ENTRIES + 1)])
    return store


def run_sql(engine: Engine, *statements: str, **params: Any) -> None:
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), params)


def row_hash(engine: Engine, seq: int) -> str:
    with engine.connect() as connection:
        found: str = connection.execute(
            text("SELECT hash FROM log WHERE seq = :seq"), {"seq": seq}
        ).scalar_one()
        return found


def insert_row(engine: Engine, seq: int, prev_hash: str, digest: str | None = None) -> None:
    """Write a forged entry straight into the table, with a correct hash unless given one."""
    at = START + timedelta(hours=1)
    data = {"forged": True}
    own_hash = digest or entry_hash(prev_hash, seq, at, None, "intruder", "note", data)
    run_sql(
        engine,
        "INSERT INTO log (seq, at, incident_id, actor, kind, data, prev_hash, hash) "
        "VALUES (:seq, :at, NULL, 'intruder', 'note', :data, :prev, :hash)",
        seq=seq,
        # SQLite keeps timestamps as UTC text in this format.
        at=at.strftime("%Y-%m-%d %H:%M:%S.%f") if engine.dialect.name == "sqlite" else at,
        data=json.dumps(data),
        prev=prev_hash,
        hash=own_hash,
    )


def renumber_from(engine: Engine, first_seq: int, shift: int) -> None:
    """Move entries >= first_seq by `shift`, one at a time so the primary key never collides."""
    order = range(ENTRIES, first_seq - 1, -1) if shift > 0 else range(first_seq, ENTRIES + 1)
    for seq in order:
        run_sql(engine, "UPDATE log SET seq = :new WHERE seq = :old", new=seq + shift, old=seq)


def test_first_entry_links_to_genesis_and_each_entry_to_the_one_before(filled: SqlStore) -> None:
    records = filled.log()

    assert [record.seq for record in records] == list(range(1, ENTRIES + 1))
    assert records[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(records):
        assert after.prev_hash == before.hash


def test_hash_covers_previous_hash_and_canonical_entry(filled: SqlStore) -> None:
    first = filled.log()[0]
    canonical = json.dumps(
        {
            "actor": "person-1",
            "at": "2026-03-02T09:01:00.000000+00:00",
            "data": {"n": 1},
            "incident_id": "INC-2026-0001",
            "kind": "note",
            "seq": 1,
        },
        separators=(",", ":"),
    )

    assert first.hash == hashlib.sha256((GENESIS_HASH + canonical).encode()).hexdigest()


def test_intact_log_verifies(filled: SqlStore) -> None:
    assert verify(filled.engine) == VerifyResult(ok=True, checked=ENTRIES)


def test_empty_log_verifies(store: SqlStore) -> None:
    assert verify(store.engine) == VerifyResult(ok=True, checked=0)


def test_appends_continue_the_chain_across_calls(filled: SqlStore) -> None:
    filled.append([event(ENTRIES + 1)])

    records = filled.log()
    assert records[-1].seq == ENTRIES + 1
    assert records[-1].prev_hash == records[-2].hash
    assert verify(filled.engine).ok


def test_times_come_back_as_utc(store: SqlStore) -> None:
    brussels = timezone(timedelta(hours=1))
    store.append(
        [LogEvent(kind="note", actor="a", at=datetime(2026, 3, 2, 10, 0, tzinfo=brussels))]
    )

    at = store.log()[0].event.at
    assert at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert at.utcoffset() == timedelta(0)
    assert verify(store.engine).ok


def test_event_without_timezone_is_refused(store: SqlStore) -> None:
    naive = LogEvent(kind="note", actor="a", at=datetime(2026, 3, 2, 9, 0))

    with pytest.raises(ValueError, match="no timezone"):
        store.append([naive])
    assert store.log() == []


def test_data_is_stored_in_json_form(store: SqlStore) -> None:
    store.append([event(1, at=START, nested={"b": [1, 2]})])

    assert store.log()[0].event.data == {
        "n": 1,
        "at": "2026-03-02T09:00:00Z",
        "nested": {"b": [1, 2]},
    }
    assert verify(store.engine).ok


def test_concurrent_appends_keep_one_contiguous_chain(store: SqlStore) -> None:
    def append_some(worker: int) -> None:
        for n in range(5):
            store.append([event(n, worker=worker)])

    workers = [threading.Thread(target=append_some, args=(w,)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert [record.seq for record in store.log()] == list(range(1, 21))
    assert verify(store.engine) == VerifyResult(ok=True, checked=20)


def test_edited_data_is_named(filled: SqlStore) -> None:
    run_sql(filled.engine, "UPDATE log SET data = :data WHERE seq = 3", data='{"n":99}')

    assert verify(filled.engine) == VerifyResult(False, 3, 3, "hash mismatch (row edited)")


def test_data_stored_in_another_json_form_of_the_same_value_still_verifies(
    filled: SqlStore,
) -> None:
    run_sql(filled.engine, "UPDATE log SET data = :data WHERE seq = 3", data='{ "n" : 3 }')

    assert verify(filled.engine) == VerifyResult(ok=True, checked=ENTRIES)


def test_an_entry_hashes_the_same_put_together_from_its_data_as_stored() -> None:
    awkward = 'Zoë "the \\ admin"\n\t\u0001 ✅'
    data = {"text": awkward, "ñ": [1.5, None, True], "nested": {"b": 1, "a": awkward}}
    stored = json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    stamp = START.isoformat(timespec="microseconds")

    for incident_id in (f"INC-{awkward}", None):
        expected = entry_hash(GENESIS_HASH, 7, START, incident_id, awkward, awkward, data)
        assert (
            stored_entry_hash(GENESIS_HASH, 7, stamp, incident_id, awkward, awkward, stored)
            == expected
        )


def test_names_and_text_needing_escapes_verify(store: SqlStore) -> None:
    awkward = 'Zoë "the \\ admin"\n\t\u0001 ✅'
    store.append(
        [
            LogEvent(
                kind="note",
                actor=awkward,
                at=START,
                incident_id=f"INC-{awkward}",
                data={"text": awkward, "ñ": [1.5, None, True]},
            )
        ]
    )

    assert verify(store.engine) == VerifyResult(ok=True, checked=1)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # SQLite keeps them as text
def test_a_timestamp_edited_into_something_else_is_named(filled: SqlStore) -> None:
    run_sql(filled.engine, "UPDATE log SET at = 'yesterday' WHERE seq = 2")

    assert verify(filled.engine) == VerifyResult(False, 2, 2, "hash mismatch (row edited)")


def test_edited_actor_is_named(filled: SqlStore) -> None:
    run_sql(filled.engine, "UPDATE log SET actor = 'someone-else' WHERE seq = 2")

    result = verify(filled.engine)
    assert (result.ok, result.first_bad_seq) == (False, 2)
    assert "edited" in result.problem


def test_edit_with_recomputed_hash_is_caught_at_the_next_entry(filled: SqlStore) -> None:
    forged = entry_hash(
        row_hash(filled.engine, 2),
        3,
        START + timedelta(minutes=3),
        "INC-2026-0001",
        "x",
        "note",
        {},
    )
    run_sql(
        filled.engine,
        """UPDATE log SET actor = 'x', data = '{}', hash = :hash WHERE seq = 3""",
        hash=forged,
    )

    result = verify(filled.engine)
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert "previous-hash mismatch" in result.problem


def test_deleted_middle_row_is_named(filled: SqlStore) -> None:
    run_sql(filled.engine, "DELETE FROM log WHERE seq = 3")

    assert verify(filled.engine) == VerifyResult(False, 3, 3, "entry missing (row deleted)")


def test_deleted_middle_row_with_renumbering_is_named(filled: SqlStore) -> None:
    run_sql(filled.engine, "DELETE FROM log WHERE seq = 3")
    renumber_from(filled.engine, 4, -1)

    result = verify(filled.engine)
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "previous-hash mismatch" in result.problem


def test_deleted_last_row_is_named(filled: SqlStore) -> None:
    run_sql(filled.engine, f"DELETE FROM log WHERE seq = {ENTRIES}")

    assert verify(filled.engine) == VerifyResult(
        False, ENTRIES - 1, ENTRIES, "entries missing at the end (rows deleted)"
    )


def test_replaced_last_row_is_named(filled: SqlStore) -> None:
    prev = row_hash(filled.engine, ENTRIES - 1)
    run_sql(filled.engine, f"DELETE FROM log WHERE seq = {ENTRIES}")
    insert_row(filled.engine, ENTRIES, prev)

    result = verify(filled.engine)
    assert (result.ok, result.first_bad_seq) == (False, ENTRIES)
    assert "replaced" in result.problem


def test_forged_row_appended_at_the_end_is_named(filled: SqlStore) -> None:
    insert_row(filled.engine, ENTRIES + 1, row_hash(filled.engine, ENTRIES))

    result = verify(filled.engine)
    assert (result.ok, result.first_bad_seq) == (False, ENTRIES + 1)
    assert "inserted" in result.problem


def test_forged_row_slipped_into_the_middle_is_named(filled: SqlStore) -> None:
    prev = row_hash(filled.engine, 2)
    renumber_from(filled.engine, 3, +1)
    insert_row(filled.engine, 3, prev)

    result = verify(filled.engine)
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "inserted" in result.problem


def test_forged_row_with_a_made_up_hash_is_named(filled: SqlStore) -> None:
    renumber_from(filled.engine, 3, +1)
    insert_row(filled.engine, 3, row_hash(filled.engine, 2), digest="f" * 64)

    assert verify(filled.engine) == VerifyResult(False, 3, 3, "hash mismatch (row edited)")


def test_swapped_rows_are_named(filled: SqlStore) -> None:
    run_sql(
        filled.engine,
        "UPDATE log SET seq = -1 WHERE seq = 2",
        "UPDATE log SET seq = 2 WHERE seq = 4",
        "UPDATE log SET seq = 4 WHERE seq = -1",
    )

    result = verify(filled.engine)
    assert (result.ok, result.first_bad_seq) == (False, 2)
    assert "moved" in result.problem


def test_row_numbered_before_the_start_is_named(filled: SqlStore) -> None:
    insert_row(filled.engine, 0, GENESIS_HASH)

    result = verify(filled.engine)
    assert (result.ok, result.first_bad_seq) == (False, 0)
    assert "inserted" in result.problem


def test_missing_head_is_reported(filled: SqlStore) -> None:
    run_sql(filled.engine, "DELETE FROM log_head")

    assert verify(filled.engine) == VerifyResult(
        False, ENTRIES, None, "the log head record is missing"
    )
