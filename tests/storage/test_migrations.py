from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, inspect, text

from storage.db import make_engine
from storage.log import GENESIS_HASH
from storage.migrations import MIGRATIONS, Migration, SchemaTooNew, current_version, migrate
from storage.sql_store import SqlStore, open_store

TABLES = {
    "incidents",
    "rooms",
    "log",
    "log_head",
    "prompts",
    "inbox",
    "key_values",
    "incident_counters",
    "schema_version",
    "timers",
}
LATEST = len(MIGRATIONS)
NEXT = LATEST + 1


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    created = make_engine(store_url)
    yield created
    created.dispose()


def add_column(connection: Connection) -> None:
    connection.execute(text("ALTER TABLE key_values ADD COLUMN note VARCHAR"))


def fail(connection: Connection) -> None:
    connection.execute(text("CREATE TABLE half_done (id INTEGER)"))
    raise RuntimeError("step failed")


def test_fresh_database_gets_the_initial_tables(engine: Engine) -> None:
    assert current_version(engine) == 0

    assert migrate(engine) == len(MIGRATIONS)

    assert current_version(engine) == LATEST
    assert set(inspect(engine).get_table_names()) >= TABLES
    with engine.connect() as connection:
        head = connection.execute(text("SELECT id, seq, hash FROM log_head")).all()
    assert [tuple(row) for row in head] == [(1, 0, GENESIS_HASH)]


def test_migrating_again_is_harmless(store_url: str) -> None:
    store = open_store(store_url)
    store.kv.set("k", "v")
    store.append([])
    store.close()

    engine = make_engine(store_url)
    try:
        assert migrate(engine) == LATEST
        assert migrate(engine) == LATEST
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version FROM schema_version")).scalars()
            assert list(versions) == list(range(1, NEXT))
            assert connection.execute(text("SELECT count(*) FROM log_head")).scalar_one() == 1
    finally:
        engine.dispose()
    reopened = open_store(store_url)
    assert reopened.kv.get("k") == "v"
    reopened.close()


def test_database_at_an_older_version_gets_only_the_newer_steps(engine: Engine) -> None:
    migrate(engine)
    applied: list[int] = []

    def second(connection: Connection) -> None:
        applied.append(NEXT)
        add_column(connection)

    newer = (*MIGRATIONS, Migration(NEXT, "key notes", second))

    assert migrate(engine, newer) == NEXT
    assert migrate(engine, newer) == NEXT

    assert applied == [NEXT]
    assert current_version(engine) == NEXT
    assert "note" in {column["name"] for column in inspect(engine).get_columns("key_values")}


def test_failed_step_leaves_the_previous_version(engine: Engine) -> None:
    migrate(engine)

    with pytest.raises(RuntimeError, match="step failed"):
        migrate(engine, (*MIGRATIONS, Migration(NEXT, "broken", fail)))

    assert current_version(engine) == LATEST
    assert "half_done" not in inspect(engine).get_table_names()


def test_database_from_a_newer_release_is_refused(engine: Engine) -> None:
    migrate(engine, (*MIGRATIONS, Migration(NEXT, "key notes", add_column)))

    with pytest.raises(SchemaTooNew, match=f"schema version {NEXT}"):
        migrate(engine)


def test_steps_must_be_numbered_in_order(engine: Engine) -> None:
    with pytest.raises(ValueError, match="in order"):
        migrate(engine, (Migration(2, "skips one", add_column),))


def test_open_store_migrates(store_url: str) -> None:
    store = open_store(store_url)
    try:
        assert isinstance(store, SqlStore)
        assert current_version(store.engine) == len(MIGRATIONS)
    finally:
        store.close()


def test_effects_from_before_binds_was_kept_count_as_binding_a_prompt(engine: Engine) -> None:
    migrate(engine, MIGRATIONS[:6])
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE outbox DROP COLUMN binds"))  # as a release before
        connection.execute(
            text(
                "INSERT INTO outbox (key, lane, platform, kind, payload, created_at, attempts,"
                " done) VALUES ('console:evt-1#1', 'INC-2026-0001', 'console', 'send', '{}',"
                " '2026-03-02 09:00:00+00:00', 0, false)"
            )
        )

    assert migrate(engine) == len(MIGRATIONS)

    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM outbox WHERE binds")).scalar() == 1
