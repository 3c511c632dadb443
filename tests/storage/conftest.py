"""Storage tests run against SQLite and against a private PostgreSQL cluster."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.clock import FakeClock
from storage.db import database_url_for_path
from storage.sql_store import SqlStore, open_store

# Imported rather than listed in `pytest_plugins`: pytest accepts that only in the top-level
# conftest.
from tests.fixtures.postgres import (  # noqa: F401
    fresh_postgres_url,
    postgres_cluster,
    postgres_url,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend."""
    if request.param == "sqlite":
        return database_url_for_path(tmp_path / "var" / "rrt.db")
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def store(store_url: str, clock: FakeClock) -> Iterator[SqlStore]:
    opened = open_store(store_url, clock)
    yield opened
    opened.close()
