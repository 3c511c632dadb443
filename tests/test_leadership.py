"""The Matrix role held by one replica at a time: a PostgreSQL advisory lock, and the standby
that takes over once its holder's connection is gone."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable

import psycopg
import pytest
import pytest_asyncio

from bot.leadership import SoleLeader
from bot.supervise import State, Status, Supervisor
from storage.leadership import AdvisoryLease, libpq_url
from tests.fixtures.postgres import PrivateCluster

_roles = itertools.count(1)
TAKEOVER_S = 2.0


@pytest.fixture(scope="module")
def database_url(cluster: PrivateCluster) -> str:
    return cluster.create_database("leadership")


@pytest.fixture
def role() -> str:
    return f"test-role-{next(_roles)}"  # a lock of its own for each test


@pytest_asyncio.fixture
async def leases(database_url: str, role: str) -> AsyncIterator[list[AdvisoryLease]]:
    made = [AdvisoryLease(database_url, role) for _ in range(2)]
    yield made
    for lease in made:
        await lease.release()


async def taken_within(lease: AdvisoryLease, seconds: float) -> float:
    """Seconds until `lease` is acquired, asking every 0.1 s as a standby does (every 1 s)."""
    started = time.monotonic()
    while not await lease.acquire():
        assert time.monotonic() - started < seconds, f"not taken over within {seconds} s"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


@pytest.mark.postgres
async def test_only_one_of_two_holders_acquires(leases: list[AdvisoryLease]) -> None:
    first, second = leases
    assert await first.acquire()
    assert not await second.acquire()
    assert await first.acquire()  # asking again while holding it keeps it
    assert await first.still_held()
    assert not await second.still_held()


@pytest.mark.postgres
async def test_the_other_acquires_once_the_holder_releases(leases: list[AdvisoryLease]) -> None:
    first, second = leases
    assert await first.acquire()
    await first.release()
    assert await taken_within(second, TAKEOVER_S) < TAKEOVER_S
    assert not await first.acquire()


@pytest.mark.postgres
async def test_a_terminated_holder_loses_the_role_and_the_standby_takes_it(
    leases: list[AdvisoryLease], database_url: str, role: str
) -> None:
    first, second = leases
    assert await first.acquire()
    assert not await second.acquire()
    with psycopg.connect(libpq_url(database_url), autocommit=True) as connection:
        connection.execute(
            "SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_stat_activity a"
            " USING (pid) WHERE l.locktype = 'advisory' AND l.granted"
            " AND a.application_name = %s",
            (f"rrt {role}",),
        )
    assert await taken_within(second, TAKEOVER_S) < TAKEOVER_S
    assert not await first.still_held()  # the holder notices at its next check
    assert not await first.acquire()


@pytest.mark.postgres
async def test_the_lock_uses_the_server_side_keepalives(leases: list[AdvisoryLease]) -> None:
    """A holder whose machine vanished is noticed by the server within seconds."""
    assert await leases[0].acquire()
    connection = leases[0]._connection  # the lease's own session, to read its settings
    assert connection is not None
    idle = connection.execute("SHOW tcp_keepalives_idle").fetchone()
    assert idle is not None
    assert idle[0] in ("5", "5s")


class Platform:
    """A platform that counts its starts and stops."""

    def __init__(self) -> None:
        self.running = False
        self.starts = 0

    @property
    def name(self) -> str:
        return "matrix"

    async def start(self) -> None:
        self.starts += 1
        self.running = True

    async def stop(self) -> None:
        self.running = False


async def eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.mark.postgres
async def test_a_standby_platform_is_not_started_until_it_takes_over(
    leases: list[AdvisoryLease],
) -> None:
    states: dict[int, list[State]] = {0: [], 1: []}
    platforms = [Platform(), Platform()]

    def record(index: int) -> Callable[[str, Status], None]:
        def changed(name: str, status: Status) -> None:
            states[index].append(status.state)

        return changed

    leader = Supervisor(platforms[0], record(0), leadership=leases[0], poll=0.05)
    standby = Supervisor(platforms[1], record(1), leadership=leases[1], poll=0.05)
    leader.start()
    await leader.tried.wait()
    standby.start()
    await standby.tried.wait()
    assert leader.status.state is State.CONNECTED
    assert platforms[0].running
    assert standby.status.state is State.STANDBY
    assert platforms[1].starts == 0

    await leases[0].release()  # as the connection closing when the leader dies
    await eventually(lambda: platforms[1].running)
    assert standby.connected
    await eventually(lambda: not platforms[0].running)  # the old leader stopped at once
    assert states[0][-1] is State.STANDBY
    await leader.stop()
    await standby.stop()
    assert states[1][:2] == [State.STANDBY, State.CONNECTED]


async def test_on_sqlite_the_only_process_always_leads() -> None:
    sole = SoleLeader()
    assert await sole.acquire()
    assert await sole.still_held()
    await sole.release()
    assert await sole.acquire()
