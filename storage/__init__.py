"""Persistence: SQLite or PostgreSQL, the hash-chained incident log, schema migrations."""

from storage.sql_store import RoomAlreadyBound, SqlKeyValue, SqlStore, open_store
from storage.verify_cli import verify_report

__all__ = ["RoomAlreadyBound", "SqlKeyValue", "SqlStore", "open_store", "verify_report"]
