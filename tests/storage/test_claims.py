"""Replicas sharing one database: an effect or a due timer is taken by one process only."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.core.clock import FakeClock
from storage.db import database_url_for_path
from storage.presence import Presence
from storage.sql_store import CLAIM, SqlStore, open_store
from storage.tables import OutboxRow, table_of
from tests.storage.conftest import START

REPO = Path(__file__).resolve().parents[2]
OTHER = "elsewhere:1:0000"  # another replica
RACERS = 4
# Each racer opens the store, then at the same moment claims; a timer's claim is held (as
# while it fires) for HOLD seconds.
RACE = """
import sys, time
from datetime import datetime
from storage.sql_store import open_store
url, what, ident, at, hold = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), 0.5
store = open_store(url)
time.sleep(max(0.0, at - time.time()))
started = time.monotonic()
if what == "effect":
    won = store.attempted(ident)
else:
    with store.unit_of_work(origin=f"timer:{ident}", lane="race"):
        won = store.claim(ident, datetime.fromisoformat(sys.argv[5]))
        took = time.monotonic() - started
        if won:
            time.sleep(hold)
print(won, took if what == "timer" else 0.0)
"""


def race(url: str, what: str, ident: int, *extra: str) -> list[tuple[bool, float]]:
    """Start RACERS processes claiming the same row at the same moment: (won, seconds)."""
    at = str(time.time() + 4.0)  # once every racer has imported and connected
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, url, what, str(ident), at, *extra],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        for _ in range(RACERS)
    ]
    results = []
    for racer in racers:
        out, _ = racer.communicate(timeout=60)
        assert racer.returncode == 0
        won, took = out.split()
        results.append((won == "True", float(took)))
    return results


def pending_effect(store: SqlStore) -> int:
    with store.unit_of_work(origin="console:evt-1", lane="INC-2026-0001"):
        store.add_effect("console", "send", '{"room_id": "!r", "text": "hi"}')
    (effect,) = store.pending_effects()
    return effect.id


def claimed_elsewhere(store: SqlStore, effect_id: int) -> None:
    """The row as another replica leaves it when it claims the effect now."""
    with store.engine.begin() as connection:
        connection.execute(
            update(table_of(OutboxRow))
            .where(table_of(OutboxRow).c.id == effect_id)
            .values(claimed_by=OTHER, claimed_until=START + CLAIM, attempts=1)
        )


@pytest.mark.postgres
def test_an_effect_another_replica_claimed_is_taken_over_once_its_claim_runs_out(
    fresh_postgres_url: str,
) -> None:
    clock = FakeClock(START)
    store = open_store(fresh_postgres_url, clock)
    effect_id = pending_effect(store)
    other = Presence(fresh_postgres_url, OTHER)
    assert other.hold()  # the other replica is alive
    claimed_elsewhere(store, effect_id)

    assert store.attempted(effect_id) is False
    clock.advance(CLAIM - timedelta(seconds=1))
    assert store.attempted(effect_id) is False
    clock.advance(timedelta(seconds=2))
    assert store.attempted(effect_id) is True
    assert store.attempted(effect_id) is True  # its own claim, tried again
    assert store.pending_effects()[0].attempts == 3
    other.close()
    store.close()


@pytest.mark.postgres
def test_an_effect_claimed_by_a_replica_that_died_is_taken_over_at_once(
    fresh_postgres_url: str,
) -> None:
    store = open_store(fresh_postgres_url, FakeClock(START))
    effect_id = pending_effect(store)
    other = Presence(fresh_postgres_url, OTHER)
    assert other.hold()
    claimed_elsewhere(store, effect_id)
    assert store.attempted(effect_id) is False

    other.close()  # as its connection ends when the process is killed

    assert store.attempted(effect_id) is True
    assert store.pending_effects()[0].attempts == 2
    store.close()


def test_on_sqlite_an_effect_is_always_tried_a_claim_left_by_a_crash_holds_nothing(
    tmp_path: Path,
) -> None:
    store = open_store(database_url_for_path(tmp_path / "rrt.db"), FakeClock(START))
    effect_id = pending_effect(store)
    claimed_elsewhere(store, effect_id)

    assert store.attempted(effect_id) is True
    store.close()


def test_a_done_effect_is_not_claimed(store: SqlStore) -> None:
    effect_id = pending_effect(store)
    store.failed(effect_id, "refused")

    assert store.attempted(effect_id) is False


@pytest.mark.postgres
def test_processes_racing_for_one_effect_deliver_it_once(fresh_postgres_url: str) -> None:
    store = open_store(fresh_postgres_url)
    effect_id = pending_effect(store)

    results = race(fresh_postgres_url, "effect", effect_id)

    assert sorted(won for won, _ in results) == [False] * (RACERS - 1) + [True]
    assert store.pending_effects()[0].attempts == 1
    store.close()


@pytest.mark.postgres
def test_processes_racing_for_a_due_timer_fire_it_once_and_do_not_wait_for_each_other(
    fresh_postgres_url: str,
) -> None:
    store = open_store(fresh_postgres_url)
    store.schedule("INC-2026-0001", "page_ack", "bob", START)
    (timer,) = store.due(START)

    results = race(fresh_postgres_url, "timer", timer.id, START.isoformat())

    assert sorted(won for won, _ in results) == [False] * (RACERS - 1) + [True]
    # The others skipped it while the winner held it, rather than queueing behind it.
    assert all(took < 0.4 for won, took in results if not won)
    assert [t.id for t in store.fired("INC-2026-0001")] == [timer.id]
    store.close()
