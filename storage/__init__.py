"""Persistence: SQLite or PostgreSQL, the hash-chained incident log, schema migrations."""
