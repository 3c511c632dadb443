"""How long a Matrix declaration takes until the war room is ready, beside a bare client.

Starts a private Synapse on the loopback interface (as the tests do), the real bot with the
Matrix adapter on a temporary SQLite file, wired as `rrt run` wires it (the sync loop hands each
event to the runtime, which records it and queues it in its lane), and a coordinator with her
own client. A declaration is timed from the coordinator sending `!incident declare` until the
bot has handled it and delivered what it decided: the war room created with the coordinator
invited, the headline posted and pinned, the reply in the lobby, the coordinator paged by
direct message, the first triage question.

The baseline is a hand-written client doing the same job, timed the same way: it hears the
command in its own lobby over its own long-polling sync, then sends, one request after the
other, `createRoom` with the bot's own arguments (invite, name, topic, power levels, join
rule, history visibility, guest access, alias), the headline, the pin (one state event), the
reply in its lobby, the page in its direct room with the coordinator (opened in the warm-up,
as the bot's is) and the question: six requests, with the bot's own message contents. It
records nothing and decides nothing.

The last line sums it up: p50 one at a time and the wall time of the burst, each beside its
baseline with the ratio, the homeserver requests per declaration (bot and baseline) and the
errors.

    .venv/bin/python bench/matrix_declare.py [--serial 30] [--burst 50] [--quick]
"""

# ruff: noqa: E402  (the Synapse fixture lives under tests/, which is not an installed package)

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import math
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nio import AsyncClient, AsyncClientConfig, ErrorResponse, RoomPreset

from bot.adapters.matrix import MatrixAdapter, MatrixSettings
from bot.adapters.matrix.rendering import message_content
from bot.adapters.matrix.rooms import room_alias_name, room_create_arguments
from bot.bootstrap import Bot, build
from bot.core.lifecycle import State
from bot.core.roster import Organisation, Roster
from bot.port import Inbound, Outbound, RoomSpec
from bot.runtime import Runtime
from bot.serve import invite_policy
from config.settings import Settings
from tests.fixtures.roster import person
from tests.fixtures.synapse import SynapseServer, start_synapse

WAIT_SECONDS = 120.0  # bound on any one wait; only a broken run gets near it
TITLE = "Ransomware at hospital"
HEADLINE = (
    f"🚨 INC-2026-9000 · {TITLE}\n"
    "TLP:AMBER · Level pending triage · Severity pending triage · State triage\n"
    "T0 2026-12-01 09:00 UTC · declared 2026-12-01 09:00 UTC\n"
    "Team 0/1 filled · 1 being paged"
)
REPLY = "Declared INC-2026-9000 (TLP:AMBER); you are invited to its war room."
PAGE = (
    "📟 You are paged as coordinator for INC-2026-9000 (TLP:AMBER).\n"
    "Why you: on call.\nPlease answer by 09:15 UTC."
)
QUESTION = "Triage 1/17 · Q1: What kind of incident is it?\n\n1️⃣ Malicious code  2️⃣ Intrusion"
QUICK = {"serial": 3, "burst": 5}
BARE_FILTER = {"room": {"timeline": {"limit": 100}}}  # a burst fits in one sync


class Done:
    """When each declaration, named by the event id of its command, was ready."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.failed = 0
        self._changed = asyncio.Event()

    def note(self, event_id: str, *, failed: bool = False) -> None:
        self.failed += failed
        self.at[event_id] = time.perf_counter()
        self._changed.set()

    async def wait_for(self, event_ids: list[str]) -> list[float]:
        async with asyncio.timeout(WAIT_SECONDS):
            while not all(event_id in self.at for event_id in event_ids):
                self._changed.clear()
                await self._changed.wait()
        return [self.at[event_id] for event_id in event_ids]


class Handled(Done):
    """The bot's `on_inbound`: records and queues each event as `Runtime.enqueue` does, and
    notes when its handling (decision and delivery) has finished."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self._runtime = runtime

    async def __call__(self, inbound: Inbound) -> None:
        handling = await self._runtime.accept(inbound)
        if handling is not None:
            handling.add_done_callback(lambda done: self._finished(inbound.event_id, done))

    def _finished(self, event_id: str, done: asyncio.Future[None]) -> None:
        self.note(event_id, failed=done.cancelled() or done.exception() is not None)


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


class Bare:
    """A hand-written client making the same war room as the bot, request by request, when
    it hears the command in its lobby over its own sync (as the bot does)."""

    def __init__(self, bare: AsyncClient, coordinator: str) -> None:
        self.client = bare
        self.coordinator = coordinator
        self.lobby = ""
        self.direct = ""
        self.room_version = ""
        self.requests = 0
        self.done = Done()
        self._numbers = itertools.count(9000)
        self._listening: asyncio.Task[None] | None = None
        self._sequences: set[asyncio.Task[None]] = set()

    async def prepare(self, lobby: str) -> None:
        """Joins its lobby, opens its direct room (as the bot has before its first page)
        and starts syncing."""
        self.lobby = lobby
        ok(await self.client.join(lobby))
        self.direct = ok(
            await self.client.room_create(
                is_direct=True, preset=RoomPreset.private_chat, invite=[self.coordinator]
            )
        ).room_id
        self.room_version = await self._default_room_version()
        since = ok(await self.client.sync(timeout=0)).next_batch
        self._listening = asyncio.create_task(self._listen(since))

    async def stop(self) -> None:
        if self._listening is not None:
            self._listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listening
        await self.client.close()

    async def _listen(self, since: str) -> None:
        while True:
            response = ok(
                await self.client.sync(timeout=10_000, since=since, sync_filter=BARE_FILTER)
            )
            since = response.next_batch
            lobby = response.rooms.join.get(self.lobby)
            if lobby is None:
                continue
            assert not lobby.timeline.limited, "commands were missed"
            for event in lobby.timeline.events:
                if event.source.get("sender") == self.coordinator and event.source.get(
                    "content", {}
                ).get("body", "").startswith("!incident declare"):
                    task = asyncio.create_task(self._declared(event.event_id))
                    self._sequences.add(task)
                    task.add_done_callback(self._sequences.discard)

    async def _declared(self, event_id: str) -> None:
        try:
            await self.sequence(next(self._numbers))
        except Exception:
            self.done.note(event_id, failed=True)
            raise
        self.done.note(event_id)

    async def _default_room_version(self) -> str:
        answer = await self.client.send(
            "GET",
            "/_matrix/client/v3/capabilities",
            headers={"Authorization": f"Bearer {self.client.access_token}"},
        )
        found = await answer.json()
        version: str = found["capabilities"]["m.room_versions"]["default"]
        return version

    async def _call(self, response: Any) -> Any:
        self.requests += 1
        return ok(await response)

    async def sequence(self, n: int) -> None:
        spec = RoomSpec(
            name=f"INC-2026-{n:04d} · {TITLE}",
            slug=f"inc-2026-{n:04d}",
            topic="TLP:AMBER · triage · pending · triage",
            invite=(self.coordinator,),
        )
        arguments = room_create_arguments(
            spec,
            bot_user_id=self.client.user_id,
            room_version=self.room_version,
            encrypt=False,
            space=None,
            alias=room_alias_name(self.client.user_id, f"bench:{n}"),
        )
        room_id = (await self._call(self.client.room_create(**arguments))).room_id
        headline = await self._call(self._send(room_id, HEADLINE))
        await self._call(
            self.client.room_put_state(
                room_id, "m.room.pinned_events", {"pinned": [headline.event_id]}
            )
        )
        await self._call(self._send(self.lobby, REPLY))
        await self._call(self._send(self.direct, PAGE))
        await self._call(self._send(room_id, QUESTION))

    def _send(self, room_id: str, text: str) -> Any:
        content = message_content(Outbound(text))
        return self.client.room_send(room_id, "m.room.message", content)


class Bench:
    def __init__(self, synapse: SynapseServer, directory: Path) -> None:
        self.synapse = synapse
        bot_id, bot_token = synapse.register("rrt", "bot-password")
        alice_id, alice_token = synapse.register("alice", "pw")
        bob_id, _ = synapse.register("bob", "pw")
        self.alice = client(synapse, alice_id, alice_token)
        self.bare = Bare(client(synapse, *synapse.register("bare", "pw")), alice_id)
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
        self.requests: Counter[str] = Counter()  # the bot's homeserver requests but syncs
        self.adapter = MatrixAdapter(
            MatrixSettings(
                homeserver=synapse.base_url,
                user_id=bot_id,
                access_token=bot_token,
                store_dir=directory / "nio",
                sync_timeout_ms=10_000,
            ),
            self.bot.adapter_state,  # written off the event loop, as `rrt run` does
            self.handled,
            accept_invite_from=invite_policy(roster, []),
            on_request=self._count,
        )
        self.bot.attach(self.adapter)
        self.bot_id = bot_id
        self.lobby = ""

    def _count(self, what: str) -> None:
        if what != "sync":
            self.requests[what] += 1

    async def start(self) -> None:
        await self.adapter.start()
        self.lobby = await self._lobby_with(self.bot_id)
        async with asyncio.timeout(WAIT_SECONDS):  # until the bot has joined the lobby
            while True:
                if await self._in_lobby(self.bot_id):
                    break
                await asyncio.sleep(0.05)
        assert self.bare.client.user_id
        await self.bare.prepare(await self._lobby_with(self.bare.client.user_id))

    async def _lobby_with(self, user_id: str) -> str:
        created = ok(await self.alice.room_create(preset=RoomPreset.private_chat, invite=[user_id]))
        room_id: str = created.room_id
        return room_id

    async def _in_lobby(self, user_id: str) -> bool:
        members = ok(await self.alice.joined_members(self.lobby)).members
        return any(member.user_id == user_id for member in members)

    async def declare(self, lobby: str) -> tuple[float, str]:
        started = time.perf_counter()
        content = {"msgtype": "m.text", "body": f"!incident declare {TITLE}"}
        sent = ok(await self.alice.room_send(lobby, "m.room.message", content))
        return started, sent.event_id

    async def declarations(
        self, count: int, *, at_once: bool, bare: bool = False
    ) -> tuple[list[float], float]:
        """Latency of each declaration (to the bot, or the bare client), and the wall time
        of them all."""
        lobby, done = (self.bare.lobby, self.bare.done) if bare else (self.lobby, self.handled)
        began = time.perf_counter()
        if at_once:
            sent = await asyncio.gather(*(self.declare(lobby) for _ in range(count)))
            ready = await done.wait_for([event_id for _, event_id in sent])
        else:
            sent, ready = [], []
            for _ in range(count):
                one = await self.declare(lobby)
                sent.append(one)
                ready += await done.wait_for([one[1]])
        latencies = [end - start for (start, _), end in zip(sent, ready, strict=True)]
        return latencies, max(ready) - began

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
        await self.bare.stop()


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


async def run(serial: int, burst: int, directory: Path, synapse: SynapseServer) -> int:
    bench = Bench(synapse, directory)
    problems = Problems()  # from here on: building the bot may warn of a new signing key
    logging.getLogger().addHandler(problems)
    try:
        await bench.start()
        await bench.declarations(1, at_once=False)  # warm-up: capabilities, the page DM room
        await bench.declarations(1, at_once=False, bare=True)

        bench.requests.clear()
        bench.bare.requests = 0
        bot, _ = await bench.declarations(serial, at_once=False)
        raw, _ = await bench.declarations(serial, at_once=False, bare=True)
        bot_requests = sum(bench.requests.values()) / serial
        raw_requests = bench.bare.requests / serial
        print(f"One at a time, {serial} declarations (declaration → war room ready):")
        for name, fraction in (("p50", 0.5), ("p95", 0.95)):
            bot_at, raw_at = percentile(bot, fraction), percentile(raw, fraction)
            print(
                f"  {name}: bot {ms(bot_at)}   bare client {ms(raw_at)}"
                f"   ratio {bot_at / raw_at:4.2f}×"
            )
        made = ", ".join(f"{what} {n / serial:g}" for what, n in sorted(bench.requests.items()))
        print(f"  homeserver requests per declaration: bot {bot_requests:g} ({made})")
        print(f"  bare client {raw_requests:g}")

        before = bench.war_rooms_ready()
        _, bot_wall = await bench.declarations(burst, at_once=True)
        _, raw_wall = await bench.declarations(burst, at_once=True, bare=True)
        ready = bench.war_rooms_ready() - before
        errors = problems.count + bench.handled.failed + bench.bare.done.failed + (burst - ready)
        print(f"{burst} declarations at once:")
        print(
            f"  bot {ms(bot_wall)}   bare client {ms(raw_wall)}   ratio {bot_wall / raw_wall:4.2f}×"
        )
        print(f"  war rooms ready: {ready}/{burst}   errors: {errors}")
        load = " ".join(f"{value:.2f}" for value in os.getloadavg())
        p50_bot, p50_raw = percentile(bot, 0.5), percentile(raw, 0.5)
        print(
            f"result: p50 {p50_bot * 1000:.1f} ms vs bare {p50_raw * 1000:.1f} ms"
            f" = {p50_bot / p50_raw:.2f}×; burst {burst} {bot_wall * 1000:.1f} ms"
            f" vs bare {raw_wall * 1000:.1f} ms = {bot_wall / raw_wall:.2f}×;"
            f" requests {bot_requests:g} vs bare {raw_requests:g}; errors {errors}; load {load}"
        )
        return 1 if errors else 0
    finally:
        await bench.close()
        logging.getLogger().removeHandler(problems)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--serial", type=int, default=30, help="declarations one at a time")
    parser.add_argument("--burst", type=int, default=50, help="declarations at once")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke run: {QUICK['serial']} one at a time, {QUICK['burst']} at once",
    )
    args = parser.parse_args()
    serial, burst = (QUICK["serial"], QUICK["burst"]) if args.quick else (args.serial, args.burst)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="rrt-bench-") as temporary:
        directory = Path(temporary)
        (directory / "synapse").mkdir()
        synapse = start_synapse(directory / "synapse")
        try:
            return asyncio.run(run(serial, burst, directory, synapse))
        finally:
            synapse.stop()


if __name__ == "__main__":
    sys.exit(main())
