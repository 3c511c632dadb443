"""How long a Matrix declaration takes until the war room is ready, beside raw client calls.

Starts a private Synapse on the loopback interface (as the tests do), the real bot with the
Matrix adapter on a temporary SQLite file, and a coordinator with her own client. "Ready" is
when the bot has finished handling `!incident declare`: war room created with the coordinator
invited, headline posted and pinned, the coordinator paged by direct message, the first
triage question posted. The baseline is the least a bare client must do for the same room:
createRoom (invite, name, topic), send the headline, pin it, send the question.

    .venv/bin/python bench/matrix_declare.py [--serial 30] [--burst 50]
"""

# ruff: noqa: E402  (the Synapse fixture lives under tests/, which is not an installed package)

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nio import AsyncClient, AsyncClientConfig, ErrorResponse, RoomPreset

from bot.adapters.matrix import MatrixAdapter, MatrixSettings
from bot.bootstrap import Bot, build
from bot.core.lifecycle import State
from bot.core.roster import Organisation, Roster
from bot.port import Inbound, InboundHandler
from bot.serve import invite_policy
from config.settings import Settings
from tests.fixtures.roster import person
from tests.fixtures.synapse import SynapseServer, start_synapse

WAIT_SECONDS = 120.0  # bound on any one wait; only a broken run gets near it
TITLE = "Ransomware at hospital"
QUESTION = "Triage 1/17 · Q1: What kind of incident is it?\n\n1️⃣ Malicious code  2️⃣ Intrusion"


class Handled:
    """Stands before the dispatcher and notes when each event has been handled."""

    def __init__(self, dispatcher: InboundHandler) -> None:
        self._dispatcher = dispatcher
        self.at: dict[str, float] = {}
        self.failed = 0
        self._changed = asyncio.Event()

    async def __call__(self, inbound: Inbound) -> None:
        try:
            await self._dispatcher(inbound)
        except Exception:
            self.failed += 1
            raise
        finally:
            self.at[inbound.event_id] = time.perf_counter()
            self._changed.set()

    async def wait_for(self, event_ids: list[str]) -> list[float]:
        async with asyncio.timeout(WAIT_SECONDS):
            while not all(event_id in self.at for event_id in event_ids):
                self._changed.clear()
                await self._changed.wait()
        return [self.at[event_id] for event_id in event_ids]


class Problems(logging.Handler):
    """Counts warnings and errors the bot logs: each is a declaration that went wrong."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def ok(response: Any) -> Any:
    if isinstance(response, ErrorResponse):
        raise RuntimeError(str(response))
    return response


def client(synapse: SynapseServer, user_id: str, token: str) -> AsyncClient:
    made = AsyncClient(synapse.base_url, user_id, config=AsyncClientConfig(max_timeouts=3))
    made.restore_login(user_id, "BENCH", token)
    return made


async def raw_sequence(bare: AsyncClient, coordinator: str, n: int) -> None:
    """The least a bare client does for the same war room."""
    created = ok(
        await bare.room_create(
            preset=RoomPreset.private_chat,
            invite=[coordinator],
            name=f"INC-2026-{n:04d} · {TITLE}",
            topic="TLP:AMBER · L? · pending triage",
        )
    )
    headline = ok(await bare.room_send(created.room_id, "m.room.message", text(f"🚨 {TITLE}")))
    ok(
        await bare.room_put_state(
            created.room_id, "m.room.pinned_events", {"pinned": [headline.event_id]}
        )
    )
    ok(await bare.room_send(created.room_id, "m.room.message", text(QUESTION)))


def text(body: str) -> dict[str, str]:
    return {"msgtype": "m.text", "body": body}


class Bench:
    def __init__(self, synapse: SynapseServer, directory: Path) -> None:
        self.synapse = synapse
        bot_id, bot_token = synapse.register("rrt", "bot-password")
        alice_id, alice_token = synapse.register("alice", "pw")
        bob_id, _ = synapse.register("bob", "pw")
        self.alice = client(synapse, alice_id, alice_token)
        self.bare = client(synapse, *synapse.register("bare", "pw"))
        roster = Roster(
            orgs=[Organisation(id="cert", name="National CERT", kind="cert")],
            people=[
                person(
                    "alice", "Alice Martin", "cert", ["coordinator"], handles={"matrix": alice_id}
                ),
                person("bob", "Bob Peeters", "cert", ["analyst"], handles={"matrix": bob_id}),
            ],
        )
        self.bot: Bot = build(
            Settings(database_url=f"sqlite:///{directory / 'rrt.db'}"), roster=roster
        )
        self.handled = Handled(self.bot.dispatcher)
        self.adapter = MatrixAdapter(
            MatrixSettings(
                homeserver=synapse.base_url,
                user_id=bot_id,
                access_token=bot_token,
                store_dir=directory / "nio",
                sync_timeout_ms=10_000,
            ),
            self.bot.store.kv,
            self.handled,
            accept_invite_from=invite_policy(roster, []),
        )
        self.bot.attach(self.adapter)
        self.bot_id = bot_id
        self.lobby = ""

    async def start(self) -> None:
        await self.adapter.start()
        created = ok(
            await self.alice.room_create(preset=RoomPreset.private_chat, invite=[self.bot_id])
        )
        self.lobby = created.room_id
        async with asyncio.timeout(WAIT_SECONDS):  # until the bot has joined the lobby
            while True:
                if await self._bot_in_lobby():
                    return
                await asyncio.sleep(0.05)

    async def _bot_in_lobby(self) -> bool:
        members = ok(await self.alice.joined_members(self.lobby)).members
        return any(member.user_id == self.bot_id for member in members)

    async def declare(self) -> tuple[float, str]:
        started = time.perf_counter()
        sent = ok(
            await self.alice.room_send(
                self.lobby, "m.room.message", text(f"!incident declare {TITLE}")
            )
        )
        return started, sent.event_id

    async def declarations(self, count: int, *, at_once: bool) -> tuple[list[float], float]:
        """Latency of each declaration, and the wall time of them all."""
        began = time.perf_counter()
        if at_once:
            sent = await asyncio.gather(*(self.declare() for _ in range(count)))
            done = await self.handled.wait_for([event_id for _, event_id in sent])
        else:
            sent, done = [], []
            for _ in range(count):
                one = await self.declare()
                sent.append(one)
                done += await self.handled.wait_for([one[1]])
        latencies = [end - start for (start, _), end in zip(sent, done, strict=True)]
        return latencies, max(done) - began

    async def raw(self, count: int, *, at_once: bool, first: int) -> tuple[list[float], float]:
        async def timed(n: int) -> float:
            started = time.perf_counter()
            await raw_sequence(self.bare, self.alice.user_id or "", n)
            return time.perf_counter() - started

        began = time.perf_counter()
        if at_once:
            latencies = list(await asyncio.gather(*(timed(first + n) for n in range(count))))
        else:
            latencies = [await timed(first + n) for n in range(count)]
        return latencies, time.perf_counter() - began

    def war_rooms_ready(self) -> int:
        return sum(
            1
            for incident in self.bot.store.open_incidents()
            if incident.state is State.TRIAGE
            and "matrix" in incident.rooms
            and incident.rooms["matrix"].headline_id is not None
        )

    async def close(self) -> None:
        await self.adapter.stop()
        self.bot.close()
        await self.alice.close()
        await self.bare.close()


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


async def run(serial: int, burst: int, directory: Path, synapse: SynapseServer) -> int:
    problems = Problems()
    logging.getLogger().addHandler(problems)
    bench = Bench(synapse, directory)
    try:
        await bench.start()
        await bench.declarations(1, at_once=False)  # warm-up: capabilities, the page DM room
        await bench.raw(1, at_once=False, first=9000)

        bot, _ = await bench.declarations(serial, at_once=False)
        raw, _ = await bench.raw(serial, at_once=False, first=9001)
        print(f"One at a time, {serial} declarations (declaration → war room ready):")
        for name, fraction in (("p50", 0.5), ("p95", 0.95)):
            bot_at, raw_at = percentile(bot, fraction), percentile(raw, fraction)
            print(
                f"  {name}: bot {ms(bot_at)}   bare client {ms(raw_at)}"
                f"   ratio {bot_at / raw_at:4.1f}×"
            )

        before = bench.war_rooms_ready()
        _, bot_wall = await bench.declarations(burst, at_once=True)
        _, raw_wall = await bench.raw(burst, at_once=True, first=9100)
        ready = bench.war_rooms_ready() - before
        errors = problems.count + bench.handled.failed + (burst - ready)
        print(f"{burst} declarations at once:")
        print(
            f"  bot {ms(bot_wall)}   bare client {ms(raw_wall)}   ratio {bot_wall / raw_wall:4.1f}×"
        )
        print(f"  war rooms ready: {ready}/{burst}   errors: {errors}")
        return 1 if errors else 0
    finally:
        await bench.close()
        logging.getLogger().removeHandler(problems)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--serial", type=int, default=30, help="declarations one at a time")
    parser.add_argument("--burst", type=int, default=50, help="declarations at once")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="rrt-bench-") as temporary:
        directory = Path(temporary)
        (directory / "synapse").mkdir()
        synapse = start_synapse(directory / "synapse")
        try:
            return asyncio.run(run(args.serial, args.burst, directory, synapse))
        finally:
            synapse.stop()


if __name__ == "__main__":
    sys.exit(main())
