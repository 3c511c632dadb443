from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import (
    database_url_for_path,
    describe,
    is_postgresql,
    make_engine,
    sqlite_path,
)


def test_url_for_a_path_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    assert database_url_for_path("var/rrt.db") == f"sqlite:///{tmp_path}/var/rrt.db"


def test_sqlite_file_gets_its_directory_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(database_url_for_path(tmp_path / "deep" / "er" / "rrt.db"))
    try:
        with engine.connect() as connection:
            journal = connection.execute(text("PRAGMA journal_mode")).scalar_one()
            foreign_keys = connection.execute(text("PRAGMA foreign_keys")).scalar_one()
        assert (tmp_path / "deep" / "er" / "rrt.db").exists()
        assert (journal, foreign_keys) == ("wal", 1)
        assert not is_postgresql(engine)
    finally:
        engine.dispose()


def test_sqlite_transactions_are_real(tmp_path: Path) -> None:
    engine = make_engine(database_url_for_path(tmp_path / "rrt.db"))
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))

        def insert_then_fail() -> None:
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO t VALUES (1)"))
                raise RuntimeError("abort")

        with pytest.raises(RuntimeError):
            insert_then_fail()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    finally:
        engine.dispose()


def test_in_memory_sqlite_is_one_database_for_all_sessions() -> None:
    engine = make_engine("sqlite://")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgresql_urls_use_psycopg_3(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        assert engine.url.drivername == "postgresql+psycopg"
        assert is_postgresql(engine)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgresql_connections_notice_a_vanished_peer_within_seconds_on_both_ends(
    postgres_url: str,
) -> None:
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as connection:
            server = [
                connection.exec_driver_sql(f"SHOW {name}").scalar()
                for name in (
                    "tcp_keepalives_idle",
                    "tcp_keepalives_interval",
                    "tcp_keepalives_count",
                )
            ]
            client = connection.connection.dbapi_connection.info.get_parameters()
    finally:
        engine.dispose()

    assert server == ["5", "2", "3"]
    assert {name: client.get(name) for name in ("keepalives", "keepalives_idle")} == {
        "keepalives": "1",
        "keepalives_idle": "5",
    }


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_hosting_providers_postgres_urls_use_psycopg_3_without_connecting(scheme: str) -> None:
    # Port 1 refuses connections: the engine must be made without trying one.
    engine = make_engine(f"{scheme}://u:p@127.0.0.1:1/db")
    try:
        assert engine.url.drivername == "postgresql+psycopg"
        assert is_postgresql(engine)
        assert (engine.url.host, engine.url.port, engine.url.database) == ("127.0.0.1", 1, "db")
    finally:
        engine.dispose()


def test_describe_names_the_file_or_the_url_without_its_password() -> None:
    assert describe("sqlite:///var/rrt.db") == "var/rrt.db"
    assert (
        describe("postgres://u:secret@db.example:5432/rrt")
        == "postgres://u:***@db.example:5432/rrt"
    )
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("postgresql://u@h/db") is None


def test_other_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database URL"):
        make_engine("mysql://localhost/rrt")


def test_a_new_database_file_appears_whole_and_nothing_is_left_beside_it(tmp_path: Path) -> None:
    from storage.identity import create_whole

    path = tmp_path / "var" / "rrt.db"
    create_whole(path)
    create_whole(path)  # already there: left alone

    assert path.read_bytes()[:16] == b"SQLite format 3\x00"
    assert sorted(p.name for p in path.parent.iterdir()) == ["rrt.db"]
