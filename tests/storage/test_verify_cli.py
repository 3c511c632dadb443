from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from bot.core.events import LogEvent
from storage.db import database_url_for_path
from storage.signing import LogVerifier, default_key_file, public_key_path
from storage.sql_store import open_store
from storage.verify_cli import verify_report
from tests.storage.conftest import START


def fill(url: str, entries: int) -> None:
    store = open_store(url)
    store.append(
        [LogEvent(kind="note", actor="a", at=START + timedelta(minutes=n)) for n in range(entries)]
    )
    store.close()


def key_of(url: str) -> str:
    """The fingerprint of the default key for `url`, which `open_store` signs with."""
    key_file = default_key_file(url)
    assert key_file is not None
    return LogVerifier.load(public_key_path(key_file)).fingerprint


def test_intact_log(store_url: str) -> None:
    fill(store_url, 42)

    assert verify_report(store_url) == (
        True,
        f"log OK: 42 entries, head signed by key {key_of(store_url)}",
    )


def test_single_entry_is_singular(store_url: str) -> None:
    fill(store_url, 1)

    assert verify_report(store_url) == (
        True,
        f"log OK: 1 entry, head signed by key {key_of(store_url)}",
    )


def test_tampered_log_names_the_entry(store_url: str) -> None:
    fill(store_url, 20)
    store = open_store(store_url)
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE log SET kind = 'erased' WHERE seq = 17"))
    store.close()

    assert verify_report(store_url) == (
        False,
        "log TAMPERED at entry 17: hash mismatch (row edited)",
    )


def test_missing_head_is_reported_without_an_entry(store_url: str) -> None:
    fill(store_url, 2)
    store = open_store(store_url)
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM log_head"))
    store.close()

    assert verify_report(store_url) == (False, "log TAMPERED: the log head record is missing")


def test_uninitialised_database(tmp_path: Path) -> None:
    ok, message = verify_report(database_url_for_path(tmp_path / "empty.db"))

    assert not ok
    assert message == "no incident log here: the database was never initialised"


def test_a_log_read_in_several_batches_is_checked_to_its_end(store_url: str) -> None:
    fill(store_url, 2_500)  # the chain is read a thousand entries at a time
    assert verify_report(store_url)[0]
    store = open_store(store_url)
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE log SET actor = 'mallory' WHERE seq = 2345"))
    store.close()

    assert verify_report(store_url) == (
        False,
        "log TAMPERED at entry 2345: hash mismatch (row edited)",
    )
