"""Matrix fail-over: time from killing the syncing replica to the standby's answer.

    .venv/bin/python bench/failover.py [--drills 10] [--quick]

Starts its own Synapse homeserver and PostgreSQL cluster on 127.0.0.1 (the ones the tests
use) and two `rrt run` replicas sharing the database and the Matrix store directory. Each
drill SIGKILLs the replica that syncs, has the coordinator send `!incident help` at once, and
times until the bot's answer is in the room: the standby's takeover (it asks for the lease
every second), its login on the same device, its catch-up from the stored sync token, and the
handling and delivery of the command. The killed replica is started again as the new standby.
The bot account must keep one device throughout; any other is counted as an error.

With `--incident`, each drill instead plays the scripted incident of
`tests/test_failover_drills.py`, killing the syncing replica at random moments of it (seeded:
`--seed`), and compares what it left with an uninterrupted run: the log, the bot's messages,
the rooms, the device. It prints each drill and sums up the drills that ended as the
uninterrupted run did, with the drills' times and their longest wait for one answer.
"""

# ruff: noqa: E402  (the test fixtures live under tests/, not an installed package)

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.adapters.matrix.conftest import Team
from tests.adapters.matrix.test_end_to_end import lobby_with_bot
from tests.fixtures.postgres import private_cluster
from tests.fixtures.replicas import WAIT_SECONDS, Replica, replica_environment
from tests.fixtures.synapse import SynapseServer, start_synapse
from tests.test_failover_drills import Drills, summary

QUICK_DRILLS = 2


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def devices(team: Team) -> set[str]:
    request = urllib.request.Request(
        f"{team.synapse.base_url}/_matrix/client/v3/devices",
        headers={"Authorization": f"Bearer {team.bot_token}"},
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        return {device["device_id"] for device in json.load(answer)["devices"]}


async def answered_after(team: Team, room_id: str, before: int) -> float:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if len(await team.alice.bot_messages(room_id, team.bot_user_id)) > before:
            return time.monotonic()
        await asyncio.sleep(0.02)
    raise TimeoutError(f"no answer within {WAIT_SECONDS:.0f} s")


async def run(drills: int, directory: Path, synapse: SynapseServer, database_url: str) -> int:
    team = Team(synapse, directory)
    environment = replica_environment(team, database_url, directory)
    leader, standby = Replica("a", environment, directory), Replica("b", environment, directory)
    errors = 0
    times: list[float] = []
    try:
        await leader.start()
        await leader.wait_for_state("connected")
        await standby.start()
        await standby.wait_for_state("standby")
        lobby = await lobby_with_bot(team)
        registered = devices(team)
        for drill in range(1, drills + 1):
            said = len(await team.alice.bot_messages(lobby, team.bot_user_id))
            killed_at = time.monotonic()
            await leader.stop(signal.SIGKILL)
            await team.alice.say(lobby, "!incident help")
            try:
                took = await answered_after(team, lobby, said) - killed_at
            except TimeoutError as error:
                errors += 1
                print(f"drill {drill}: {error}")
                break
            times.append(took)
            now = devices(team)
            if now != registered:
                errors += 1
                print(f"drill {drill}: the bot's devices changed: {sorted(now)}")
            print(f"drill {drill}: takeover to answer {took:.2f} s")
            await leader.start()  # the killed replica comes back as the standby
            await leader.wait_for_state("standby")
            leader, standby = standby, leader
    finally:
        for replica in (leader, standby):
            if replica.running:
                await replica.stop(signal.SIGKILL)
        await team.close()
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    if not times:
        print(f"result: no takeover measured; errors {errors}; load {load}")
        return 1
    print(
        f"result: takeover p50 {percentile(times, 0.5):.2f} s, p95 {percentile(times, 0.95):.2f} s"
        f" over {len(times)} drills; errors {errors}; load {load}"
    )
    return 1 if errors else 0


async def run_incidents(
    drills: int, seed: int, directory: Path, synapse: SynapseServer, database_url: str
) -> int:
    team = Team(synapse, directory)
    runs = Drills(team, database_url, directory)
    passed, times, waits = 0, [], []
    try:
        reference = await runs.start()
        print(f"reference: {reference.seconds:.1f} s, longest wait {reference.longest_wait:.1f} s")
        for drill_seed in range(seed, seed + drills):
            played, found = await runs.drill(drill_seed)
            print(summary(drill_seed, played, found))
            passed += not found
            times.append(played.seconds)
            waits.append(played.longest_wait)
    finally:
        await runs.stop()
        await team.close()
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"result: {passed}/{drills} drills as uninterrupted; drill p50"
        f" {percentile(times, 0.5):.1f} s, p95 {percentile(times, 0.95):.1f} s; longest wait"
        f" p95 {percentile(waits, 0.95):.1f} s (reference {reference.seconds:.1f} s); load {load}"
    )
    return 0 if passed == drills else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--drills", type=int, default=10, help="leader kills to time")
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: {QUICK_DRILLS} drills")
    parser.add_argument(
        "--incident", action="store_true", help="kill at random moments of a scripted incident"
    )
    parser.add_argument("--seed", type=int, default=20261201, help="of the first --incident drill")
    args = parser.parse_args()
    drills = QUICK_DRILLS if args.quick else args.drills
    with tempfile.TemporaryDirectory(prefix="rrt-bench-") as temporary:
        directory = Path(temporary)
        (directory / "synapse").mkdir()
        synapse = start_synapse(directory / "synapse")
        try:
            with private_cluster("rrt-bench-pg-") as cluster:
                database_url = cluster.create_database("failover")
                if args.incident:
                    return asyncio.run(
                        run_incidents(drills, args.seed, directory, synapse, database_url)
                    )
                return asyncio.run(run(drills, directory, synapse, database_url))
        finally:
            synapse.stop()


if __name__ == "__main__":
    sys.exit(main())
