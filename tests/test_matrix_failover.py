"""Two `rrt run` replicas on one PostgreSQL database and one Matrix store: one syncs, with one
device; when it is killed the other takes over, with the same device, and answers."""

from __future__ import annotations

import asyncio
import json
import signal
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from bot.core.clock import SystemClock
from storage.sql_store import open_store
from tests.adapters.matrix.conftest import Team
from tests.adapters.matrix.support import eventually
from tests.adapters.matrix.test_end_to_end import lobby_with_bot
from tests.fixtures.postgres import PrivateCluster
from tests.fixtures.replicas import WAIT_SECONDS, Replica, replica_environment

pytestmark = [pytest.mark.matrix, pytest.mark.postgres]


@pytest.fixture
def encrypt() -> bool:
    return False


@pytest.fixture
async def replicas(
    team: Team, cluster: PrivateCluster, tmp_path: Path, encrypt: bool
) -> AsyncIterator[tuple[Replica, Replica, str]]:
    database_url = cluster.create_database(f"failover_{tmp_path.name}".lower())
    environment = replica_environment(team, database_url, tmp_path)
    environment["RRT_MATRIX__ENCRYPT"] = str(encrypt).lower()
    made = (
        Replica("first", environment, tmp_path),
        Replica("second", environment, tmp_path),
        database_url,
    )
    yield made
    for replica in made[:2]:
        if replica.running:
            await replica.stop(signal.SIGKILL)


async def bot_devices(team: Team) -> set[str]:
    """The bot account's devices, as the homeserver lists them."""

    def read() -> set[str]:
        request = urllib.request.Request(
            f"{team.synapse.base_url}/_matrix/client/v3/devices",
            headers={"Authorization": f"Bearer {team.bot_token}"},
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            return {device["device_id"] for device in json.load(answer)["devices"]}

    return await asyncio.to_thread(read)


def remembered_device(database_url: str) -> str | None:
    store = open_store(database_url, SystemClock())
    try:
        return store.kv.get("matrix:device_id")
    finally:
        store.close()


async def help_answered(team: Team, room_id: str, before: int) -> None:
    async def answered() -> bool | None:
        said = await team.alice.bot_messages(room_id, team.bot_user_id)
        return True if len(said) > before else None

    await eventually(answered, "the bot to answer", WAIT_SECONDS)


async def test_a_standby_replica_takes_over_the_same_device_when_the_leader_is_killed(
    team: Team, replicas: tuple[Replica, Replica, str]
) -> None:
    first, second, database_url = replicas
    registered = await bot_devices(team)  # the device of the token registration gave
    await first.start()
    await first.wait_for_state("connected")
    await second.start()
    await second.wait_for_state("standby")

    lobby = await lobby_with_bot(team)
    said = len(await team.alice.bot_messages(lobby, team.bot_user_id))
    await team.alice.say(lobby, "!incident help")
    await help_answered(team, lobby, said)
    device = remembered_device(database_url)
    assert device is not None
    # One device for both replicas: the standby neither logged in nor synced.
    assert await bot_devices(team) == registered | {device}
    assert await second.matrix_state() == "standby"

    assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
    said = len(await team.alice.bot_messages(lobby, team.bot_user_id))
    await team.alice.say(lobby, "!incident help")  # sent after the kill
    await second.wait_for_state("connected")
    await help_answered(team, lobby, said)
    assert remembered_device(database_url) == device
    assert await bot_devices(team) == registered | {device}
    assert await second.stop(signal.SIGTERM) == 0, second.output()


def terminate_lease_holder(database_url: str) -> None:
    """Ends the database session holding the Matrix role, as a network cut would."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        ended = connection.execute(
            "SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_stat_activity a"
            " USING (pid) WHERE l.locktype = 'advisory' AND l.granted"
            " AND a.application_name = 'rrt matrix-sync'"
        ).fetchall()
    assert len(ended) == 1


async def test_a_leader_that_loses_its_lease_stops_and_can_lead_again(
    team: Team, replicas: tuple[Replica, Replica, str]
) -> None:
    first, second, database_url = replicas
    await first.start()
    await first.wait_for_state("connected")
    await second.start()
    await second.wait_for_state("standby")
    lobby = await lobby_with_bot(team)
    device = remembered_device(database_url)
    assert device is not None

    terminate_lease_holder(database_url)
    await second.wait_for_state("connected")
    await first.wait_for_state("standby")  # stopped syncing, still running
    said = len(await team.alice.bot_messages(lobby, team.bot_user_id))
    await team.alice.say(lobby, "!incident help")
    await help_answered(team, lobby, said)
    await asyncio.sleep(2)  # time for a second answer, had the first kept syncing
    assert len(await team.alice.bot_messages(lobby, team.bot_user_id)) == said + 1

    # Back to the first process, in a second term: it reads what the other left.
    assert await second.stop(signal.SIGKILL) == -signal.SIGKILL
    said = len(await team.alice.bot_messages(lobby, team.bot_user_id))
    await team.alice.say(lobby, "!incident help")
    await first.wait_for_state("connected")
    await help_answered(team, lobby, said)
    assert remembered_device(database_url) == device
    assert len(await bot_devices(team)) == 2  # the registration's and the bot's one device
    assert await first.stop(signal.SIGTERM) == 0, first.output()


async def device_key(team: Team, device: str) -> str:
    """The bot device's published identity key."""

    def read() -> str:
        request = urllib.request.Request(
            f"{team.synapse.base_url}/_matrix/client/v3/keys/query",
            data=json.dumps({"device_keys": {team.bot_user_id: []}}).encode(),
            headers={"Authorization": f"Bearer {team.bot_token}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            keys = json.load(answer)["device_keys"][team.bot_user_id][device]["keys"]
        return str(keys[f"ed25519:{device}"])

    return await asyncio.to_thread(read)


@pytest.mark.parametrize("encrypt", [True])
async def test_with_encryption_the_standby_takes_over_the_same_device_keys(
    team: Team, replicas: tuple[Replica, Replica, str]
) -> None:
    """The key store is shared: the standby opens it only on taking over, and signs with the
    device's keys rather than making new ones."""
    first, second, database_url = replicas
    await first.start()
    await first.wait_for_state("connected")
    await second.start()
    await second.wait_for_state("standby")
    lobby = await lobby_with_bot(team)
    device = remembered_device(database_url)
    assert device is not None
    key = await device_key(team, device)

    assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
    said = len(await team.alice.bot_messages(lobby, team.bot_user_id))
    await team.alice.say(lobby, "!incident help")
    await second.wait_for_state("connected")
    await help_answered(team, lobby, said)
    assert remembered_device(database_url) == device
    assert await device_key(team, device) == key
    assert "level=error" not in second.output(), second.output()
    assert await second.stop(signal.SIGTERM) == 0, second.output()
