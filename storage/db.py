"""Database engines: SQLite (a file, the default) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

_SQLITE_BUSY_TIMEOUT_S = 30
_POSTGRESQL_SCHEMES = ("postgresql", "postgres")
# A PostgreSQL server that vanishes without closing the connection (a machine or network gone)
# is noticed within seconds, on both ends: seconds of silence before probing, between probes,
# and probes lost before the peer counts as dead. The server then ends the session, freeing
# its locks; the bot's own side fails the statement instead of waiting for hours.
KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT = 5, 2, 3
CONNECT_TIMEOUT_S = 5


def database_url_for_path(path: str | Path) -> str:
    """The SQLite URL for a database file."""
    return f"sqlite:///{Path(path).expanduser().resolve()}"


def make_engine(url: str) -> Engine:
    """An engine for `sqlite:///<path>` (`sqlite://` in memory) or `postgresql://...` (also
    `postgres://...`, the form hosting providers give in `DATABASE_URL`)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    if parsed.get_backend_name() in _POSTGRESQL_SCHEMES:
        engine = create_engine(
            parsed.set(drivername="postgresql+psycopg"), connect_args=postgresql_keepalives()
        )
        event.listen(engine, "connect", _server_keepalives)
        return engine
    raise ValueError(f"unsupported database URL {parsed!r}; use sqlite:///<path> or postgresql://")


def sqlite_path(url: str | URL) -> Path | None:
    """The file a `sqlite:///<path>` URL names; None for an in-memory or other database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))


def describe(url: str) -> str:
    """The database a URL names, fit to print: the SQLite file, else the URL without its
    password."""
    path = sqlite_path(url)
    if path is not None:
        return str(path)
    return make_url(url).render_as_string(hide_password=True)


def reader_for(engine: Engine) -> Engine:
    """An engine for reads alone. On a SQLite file its transactions start deferred, taking no
    write lock, so that a read never waits for a writer (in WAL mode readers see the last
    commit). On PostgreSQL each statement is its own transaction (one round trip, not three
    with BEGIN and COMMIT); a read of several statements must not need them to agree."""
    if is_postgresql(engine):
        return single_statements(engine)
    if sqlite_path(engine.url) is None:
        return engine
    connect_args = {"check_same_thread": False, "timeout": _SQLITE_BUSY_TIMEOUT_S}
    reader = create_engine(engine.url, connect_args=connect_args)
    event.listen(reader, "connect", _configure_sqlite_connection)
    event.listen(reader, "begin", _begin_deferred)
    return reader


def postgresql_keepalives() -> dict[str, Any]:
    """libpq's connection settings for a bot's connections to PostgreSQL."""
    return {
        "connect_timeout": CONNECT_TIMEOUT_S,
        "keepalives": 1,
        "keepalives_idle": KEEPALIVE_IDLE_S,
        "keepalives_interval": KEEPALIVE_INTERVAL_S,
        "keepalives_count": KEEPALIVE_COUNT,
    }


SERVER_KEEPALIVES = (
    "SELECT set_config('tcp_keepalives_idle', %s, false),"
    " set_config('tcp_keepalives_interval', %s, false),"
    " set_config('tcp_keepalives_count', %s, false)"
)
SERVER_KEEPALIVE_VALUES = (str(KEEPALIVE_IDLE_S), str(KEEPALIVE_INTERVAL_S), str(KEEPALIVE_COUNT))


def _server_keepalives(dbapi_connection: Any, _record: Any) -> None:
    # The server's side, so that it ends the session of a bot whose machine is gone.
    cursor = dbapi_connection.cursor()
    cursor.execute(SERVER_KEEPALIVES, SERVER_KEEPALIVE_VALUES)
    cursor.close()
    dbapi_connection.commit()


def advisory_key(role: str) -> str:
    """The SQL of a role's advisory lock key, `role` being an SQL expression for its name: the
    schema is part of it, so deployments sharing a database in different schemas do not
    exclude each other."""
    return f"hashtext('rrt:' || current_schema() || ':' || {role})"


def is_postgresql(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "postgresql"


def single_statements(engine: Engine) -> Engine:
    """The engine, for work that is one statement: on PostgreSQL without BEGIN and COMMIT
    around it (autocommit), elsewhere as it is."""
    if not is_postgresql(engine):
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def _sqlite_engine(url: URL) -> Engine:
    in_memory = url.database in (None, "", ":memory:")
    if not in_memory:
        assert url.database is not None
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    connect_args = {"check_same_thread": False, "timeout": _SQLITE_BUSY_TIMEOUT_S}
    if in_memory:
        # An in-memory database lives in its connection: every session must share that one.
        engine = create_engine(url, connect_args=connect_args, poolclass=StaticPool)
    else:
        engine = create_engine(url, connect_args=connect_args)
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_immediate)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 module's own implicit transactions start late and never cover DDL; turn them
    # off so that `_begin_immediate` controls every transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL keeps every commit safe from a crash of the bot; only a power loss can
    # undo the last commits, and a commit then costs no fsync, which keeps acks fast in bursts.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_deferred(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def _begin_immediate(connection: Any) -> None:
    # Take the write lock at the start, so that read-then-write sequences (the log head, the
    # id counter) are serialized between processes instead of failing on upgrade.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
