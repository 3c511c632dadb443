"""Replicas: several `rrt run` processes on one PostgreSQL database, all of them active; and
SQLite, which serves one process only.

Two real bots in Slack HTTP mode, each on its own port, speak to one fake Web API. An incident
is played with its commands sent to either replica, some to both (Slack retrying a request on
another replica behind a load balancer): every event is handled once, every effect delivered
once, and the page's answer timeout fires once although both replicas wake for it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from bot.adapters.console import ConsolePlatform
from bot.adapters.slack.app import EVENTS_PATH
from bot.bootstrap import Bot as ChatBot
from bot.bootstrap import build
from bot.core.clock import FakeClock
from bot.core.store import StoredEffect
from bot.delivery import Deliverer, TryLater
from bot.effects import RecordingPlatform
from bot.port import Inbound, InboundKind, Outbound
from bot.runtime import run_to_end
from bot.scheduler import ORPHAN_GRACE, Scheduler
from config.settings import Settings
from handlers.dispatch import encode
from storage.presence import Presence
from storage.sql_store import CLAIM, SqlStore, open_store
from storage.tables import OutboxRow, table_of
from tests.adapters.slack.payloads import form, signed_headers, slash_command
from tests.fixtures.chat import START
from tests.fixtures.cli import rrt
from tests.fixtures.ports import free_port
from tests.fixtures.postgres import (  # noqa: F401
    fresh_postgres_url,
    postgres_cluster,
    postgres_url,
)
from tests.fixtures.roster import small_roster
from tests.fixtures.slack_api import FakeSlack, running_fake_slack
from tests.test_service import Bot, rrt_run

REPO = Path(__file__).resolve().parents[1]
SECRET = "replica0signing0secret0000000000"
ANNA = "U0UJZDE8GXD"  # a coordinator (config/roster.example.yaml)
PIETER = "U0SEH60KVJ5"  # an analyst, available
LOBBY = "C0LOBBY01"
INCIDENT = f"INC-{datetime.now(UTC).year}-0001"  # the replicas run on the real clock
ELSEWHERE = "elsewhere:1:0000"  # another replica
WAIT_SECONDS = 30.0
# A page's answer timeout, short enough for a test, long enough that the third cycle's pages
# are not sent before the test ends.
ACK_TIMEOUT = "30s"
TIMEOUT_WAIT = 120.0


@asynccontextmanager
async def replica(
    folder: Path, slack: FakeSlack, port: int, settings: dict[str, str]
) -> AsyncIterator[Bot]:
    """`rrt run` in Slack HTTP mode on `port`, once it has connected."""
    async with rrt_run(folder, {**slack_http(slack, port), **settings}) as bot:
        await bot.until_healthy(
            lambda status, body: (
                status == 200 and body["platforms"]["slack"]["state"] == "connected"
            ),
            "connected to Slack",
        )
        yield bot


def slack_http(slack: FakeSlack, port: int) -> dict[str, str]:
    """Settings for Slack in HTTP mode, requests taken on `port`, the Web API `slack`'s."""
    return {
        "RRT_SLACK__BOT_TOKEN": "xoxb-replica",
        "RRT_SLACK__MODE": "http",
        "RRT_SLACK__SIGNING_SECRET": SECRET,
        "RRT_SLACK__HTTP_HOST": "127.0.0.1",
        "RRT_SLACK__HTTP_PORT": str(port),
        "RRT_SLACK__API_URL": slack.base_url,
    }


def short_timeouts(folder: Path, ack_timeout: str = ACK_TIMEOUT) -> Path:
    """The policy with an L1 page answered within `ack_timeout`."""
    text = (REPO / "config" / "policy.yaml").read_text(encoding="utf-8")
    shorter = text.replace("L1: {ack_timeout: 30m,", f"L1: {{ack_timeout: {ack_timeout},")
    assert shorter != text
    path = folder / "policy.yaml"
    path.write_text(shorter, encoding="utf-8")
    return path


async def command(port: int, user: str, channel: str, text: str, trigger: str) -> None:
    """`/incident <text>` as Slack posts it to the replica on `port`; acknowledged."""
    body = form({**slash_command(text, trigger), "user_id": user, "channel_id": channel})
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        **signed_headers(body, SECRET),
    }
    url = f"http://127.0.0.1:{port}{EVENTS_PATH}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as answer,
    ):
        assert answer.status == 200


async def until(condition: object, what: str, seconds: float = WAIT_SECONDS) -> None:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never {what}")
        await asyncio.sleep(0.2)


@pytest.mark.postgres
async def test_two_replicas_handle_each_event_deliver_each_effect_and_fire_each_timer_once(
    tmp_path: Path,
    fresh_postgres_url: str,  # noqa: F811
) -> None:
    folders = [tmp_path / "a", tmp_path / "b"]
    for folder in folders:
        folder.mkdir()
    policy = short_timeouts(tmp_path)
    key = tmp_path / "rrt-log.key"
    ports = [free_port(), free_port()]
    async with running_fake_slack() as slack, AsyncExitStack() as stack:
        shared = {
            "RRT_DATABASE_URL": fresh_postgres_url,
            "RRT_POLICY_FILE": str(policy),
            "RRT_LOG_KEY_FILE": str(key),  # one signing key for the one log
        }
        replicas = [
            await stack.enter_async_context(replica(folder, slack, port, shared))
            for folder, port in zip(folders, ports, strict=True)
        ]
        a, b = ports

        # Declared through both replicas at once: one request, sent to each.
        await asyncio.gather(
            command(a, ANNA, LOBBY, "declare Ransomware at hospital", "trig-declare"),
            command(b, ANNA, LOBBY, "declare Ransomware at hospital", "trig-declare"),
        )
        await until(lambda: war_room(slack) is not None, "opened the war room")
        room = war_room(slack)
        assert room is not None
        await asyncio.gather(
            command(b, ANNA, room, "page Pieter as analyst", "trig-page"),
            command(a, ANNA, room, "page Pieter as analyst", "trig-page"),
        )
        await command(b, ANNA, room, "status", "trig-status-b")
        await command(a, ANNA, room, "help", "trig-help-a")
        await until(lambda: len(pages(slack)) >= 1, "paged Pieter")

        # Nobody answers (neither the declarer, paged as coordinator, nor Pieter): both
        # replicas wake for each timeout, one fires it.
        await until(
            lambda: timed_out(fresh_postgres_url) == 2, "timed both pages out", TIMEOUT_WAIT
        )
        await until(lambda: settled(fresh_postgres_url), "delivered every effect")
        for bot in replicas:
            await bot.terminate()

    store = open_store(fresh_postgres_url)
    try:
        kinds = Counter(record.event.kind for record in store.log(INCIDENT))
        assert kinds["declared"] == 1
        assert kinds["page_requested"] == 1
        assert store.unhandled() == []
        timers = store.fired(INCIDENT)
        # Each page's answer timeout (the declarer's as coordinator, Pieter's), once each.
        assert sorted(t.key.split("/")[0] for t in timers) == ["analyst", "coordinator"]
        assert kinds["page_timed_out"] == len(timers)
        with Session(store.engine) as session:
            rows = list(session.exec(select(OutboxRow)))
    finally:
        store.close()
    assert rows
    assert [
        (row.key, row.kind, row.attempts, row.error)
        for row in rows
        if not row.done or row.attempts != 1
    ] == []
    assert slack.posted_twice() == []
    # Pieter did not answer: the timeout paged him again, once.
    assert len(pages(slack)) == 2
    assert len(slack.calls_to("conversations.create")) == 1


def war_room(slack: FakeSlack) -> str | None:
    rooms = [
        channel_id
        for channel_id, channel in slack.channels.items()
        if str(channel.get("name", "")).startswith(INCIDENT.lower())
    ]
    return rooms[0] if rooms else None


def pages(slack: FakeSlack) -> list[object]:
    dm = slack.direct_channel(PIETER)
    if dm is None:
        return []
    return [m for m in slack.messages_in(dm) if "You are paged as analyst" in str(m.get("text"))]


def timed_out(url: str) -> int:
    """How many of the incident's timers have fired."""
    store = open_store(url)
    try:
        return len(store.fired(INCIDENT))
    finally:
        store.close()


def settled(url: str) -> bool:
    store = open_store(url)
    try:
        return not store.pending_effects() and not store.unhandled()
    finally:
        store.close()


async def test_a_second_bot_on_one_sqlite_file_refuses_to_start_and_the_cli_still_reads_it(
    tmp_path: Path,
) -> None:
    db = tmp_path / "rrt.db"
    settings = {"RRT_DATABASE_URL": f"sqlite:///{db}"}
    async with running_fake_slack() as slack:
        async with replica(tmp_path, slack, free_port(), settings) as first:
            second = await asyncio.to_thread(
                rrt, "run", cwd=tmp_path, env={**slack_http(slack, free_port()), **settings}
            )
            verified = await asyncio.to_thread(rrt, "log", "verify", cwd=tmp_path, env=settings)

            assert second.returncode == 2
            assert second.stderr.strip().splitlines()[-1] == (
                f"another rrt process (pid {first.process.pid}) is using {db}; SQLite serves "
                "one process — use PostgreSQL for replicas"
            )
            assert verified.returncode == 0, verified.stderr

            first.process.kill()  # SIGKILL: the kernel drops its lock
            await first.process.wait()

        # The next bot starts: no lock file left behind holds it.
        async with replica(tmp_path, slack, free_port(), settings) as after:
            await after.terminate()


@pytest.mark.postgres
async def test_an_effect_another_replica_delivers_is_waited_for_and_taken_over_when_it_dies(
    fresh_postgres_url: str,  # noqa: F811
) -> None:
    clock = FakeClock(START)
    store = open_store(fresh_postgres_url, clock)
    console = ConsolePlatform()
    recording = RecordingPlatform("console", store)
    for text in ("one", "two", "three"):
        with store.unit_of_work(origin=f"console:{text}", lane=INCIDENT):
            run_to_end(recording.send(console.lobby, Outbound(text=text)))
    one, _, three = store.pending_effects(INCIDENT)
    deliverer = Deliverer(store, {"console": console}, asyncio.to_thread)
    elsewhere = Presence(fresh_postgres_url, ELSEWHERE)
    assert elsewhere.hold()  # the other replica is alive

    # Another replica is delivering "one" and records it done a moment later: not sent again.
    claimed_elsewhere(store, one.id, START + CLAIM)
    finishing = asyncio.create_task(asyncio.to_thread(finishes_soon, store, one))
    await deliverer.drain(INCIDENT)
    await finishing
    assert bot_texts(console) == ["two", "three"]

    # Another replica took "three" again and died before recording it: nothing after it goes
    # out (their order is kept) until its claim runs out; then it is tried again here, where
    # the platform knows its key and does not repeat it. (A new deliverer: this one remembers
    # that it delivered "three".)
    with store.unit_of_work(origin="console:four", lane=INCIDENT):
        run_to_end(recording.send(console.lobby, Outbound(text="four")))
    reopen(store, three.id)
    claimed_elsewhere(store, three.id, START + CLAIM)
    deliverer = Deliverer(store, {"console": console}, asyncio.to_thread, clock=clock)
    with pytest.raises(TryLater):
        await deliverer.drain(INCIDENT)
    assert bot_texts(console) == ["two", "three"]
    clock.advance(CLAIM + timedelta(seconds=1))
    await deliverer.drain(INCIDENT)
    assert bot_texts(console) == ["two", "three", "four"]
    taken_over = store.effect(three.key)
    assert taken_over is not None
    assert (taken_over[0].attempts, taken_over[2]) == (2, True)
    assert store.pending_effects() == []
    elsewhere.close()
    store.close()


def claimed_elsewhere(store: SqlStore, effect_id: int, until: datetime) -> None:
    """The row as another replica leaves it when it claims the effect."""
    with store.engine.begin() as connection:
        connection.execute(
            update(table_of(OutboxRow))
            .where(table_of(OutboxRow).c.id == effect_id)
            .values(claimed_by=ELSEWHERE, claimed_until=until, attempts=1)
        )


def reopen(store: SqlStore, effect_id: int) -> None:
    with store.engine.begin() as connection:
        connection.execute(
            update(table_of(OutboxRow))
            .where(table_of(OutboxRow).c.id == effect_id)
            .values(done=False, result=None)
        )


def finishes_soon(store: SqlStore, effect: StoredEffect) -> None:
    time.sleep(0.3)
    store.delivered(effect, json.dumps({"room_id": "lobby", "message_id": "m-1"}), {})


def bot_texts(console: ConsolePlatform) -> list[str]:
    return [m.text for m in console.rooms[console.lobby].messages if m.author == "bot"]


@pytest.mark.postgres
async def test_an_event_a_dead_replica_recorded_is_handled_once_by_the_live_ones_after_a_grace(
    tmp_path: Path,
    fresh_postgres_url: str,  # noqa: F811
) -> None:
    # Now, not START: the timers the declaration sets are then in the future for the scheduler.
    clock = FakeClock(datetime.now(UTC))
    settings = Settings(database_url=fresh_postgres_url, reports_dir=tmp_path / "reports")
    bots: list[ChatBot] = []
    consoles: list[ConsolePlatform] = []
    try:
        for _ in range(2):
            bot = build(settings, clock=clock, roster=small_roster())
            bots.append(bot)
            console = ConsolePlatform(on_inbound=bot.dispatcher)
            consoles.append(console)
            bot.attach(console)
            bot.scheduler = Scheduler(bot.services, bot.dispatcher, sweep=0.1)
            await bot.start()

        # A replica records an event and dies before handling it.
        dead = open_store(fresh_postgres_url, clock)
        event = Inbound(
            platform="console",
            event_id="evt-orphan",
            kind=InboundKind.TEXT,
            user_id="alice",
            room_id=consoles[0].lobby,
            text="declare Ransomware at AZ Noord",
        )
        assert dead.record("console", event.event_id, encode(event))
        dead.close()

        # Within the grace it is left to the replica that recorded it.
        await asyncio.sleep(0.5)
        assert len(bots[0].store.unhandled()) == 1

        # After it, both live bots look for it at once; one handles it.
        clock.advance(ORPHAN_GRACE + timedelta(seconds=1))
        await until(lambda: settled(fresh_postgres_url), "handled the event", 10)
        incident = f"INC-{clock.now().year}-0001"
        kinds = Counter(record.event.kind for record in bots[0].store.log(incident))
        assert kinds["declared"] == 1
        created = [room for console in consoles for room in console.rooms.values()]
        assert sum(1 for room in created if room.name.startswith(incident.lower())) == 1
    finally:
        for bot in bots:
            bot.close()
