"""PostgreSQL going down under a running bot, and coming back.

On a private cluster of its own (stopping the session's shared cluster would disturb other
tests): the sender of an event that could not be handled is told at once, the bot keeps
running, what was acknowledged is in the log exactly once, the log still verifies, and a timer
that fell due while the database was down fires once when it is back, without a restart.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot, build
from bot.core.clock import FakeClock, SystemClock
from bot.port import Inbound
from bot.runtime import RETRY_SECONDS
from config.settings import Settings
from storage.verify_cli import verify_report
from tests.fixtures.chat import START
from tests.fixtures.postgres import PrivateCluster, private_cluster
from tests.fixtures.roster import small_roster

pytestmark = pytest.mark.postgres

INC = "INC-2026-0001"
NOTED = f"Noted in {INC}."
RECORDED_NOT_HANDLED = "⚠️ Recorded, but"
NOT_RECORDED = "⚠️ Not recorded"
STOP_TIMEOUT_S = 10
_databases = itertools.count(1)


@dataclass
class Cluster:
    """A private PostgreSQL cluster that a test may stop and start again."""

    server: PrivateCluster

    def create_database(self) -> str:
        return self.server.create_database(f"faults_{next(_databases)}")

    def running(self) -> bool:
        return self.server.running()

    def start_now(self) -> None:
        self.server.start()

    def stop_now(self) -> None:
        """Fast shutdown: sessions are terminated, open transactions rolled back."""
        self.server.stop(timeout_s=STOP_TIMEOUT_S)

    async def stop(self) -> None:
        await asyncio.to_thread(self.stop_now)

    async def start(self) -> None:
        await asyncio.to_thread(self.start_now)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """Set up as `tests.fixtures.postgres.postgres_cluster` is, but ours to stop."""
    with private_cluster(prefix="rrt-pg-faults-") as server:
        yield Cluster(server)


@pytest.fixture
def database_url(cluster: Cluster) -> Iterator[str]:
    """A database of its own; the cluster is running again afterwards, whatever happened."""
    if not cluster.running():
        cluster.start_now()
    yield cluster.create_database()
    if not cluster.running():
        cluster.start_now()


def settings_on(url: str, folder: Path) -> Settings:
    return Settings(database_url=url, reports_dir=folder / "reports")


@pytest_asyncio.fixture
async def chat_bot(database_url: str, tmp_path: Path) -> AsyncIterator[Bot]:
    bot = build(settings_on(database_url, tmp_path), clock=FakeClock(START), roster=small_roster())
    bot.attach(ConsolePlatform(on_inbound=bot.dispatcher))
    yield bot
    bot.close()


@pytest_asyncio.fixture
async def live_bot(database_url: str, tmp_path: Path) -> AsyncIterator[Bot]:
    """Real time and a running scheduler, as in tests/test_scheduler.py."""
    bot = build(settings_on(database_url, tmp_path), clock=SystemClock(), roster=small_roster())
    yield bot
    bot.close()


async def say(console: ConsolePlatform, room: str, text: str) -> list[str]:
    """Post as alice and return what the bot wrote in the room meanwhile."""
    before = len(console.rooms[room].messages)
    await console.say("alice", room, text)
    return [m.text for m in console.rooms[room].messages[before:] if m.author == "bot"]


async def say_recorded_first(bot: Bot, console: ConsolePlatform, room: str, text: str) -> list[str]:
    """Post as alice through `enqueue`, as a sync loop does (the event is recorded in the inbox,
    then handled), and return what the bot wrote in the room by the time it answered."""
    before = len(console.rooms[room].messages)
    console.on_inbound = bot.dispatcher.enqueue
    try:
        await console.say("alice", room, text)
    finally:
        console.on_inbound = bot.dispatcher

    async def answered() -> bool:
        return any(m.author == "bot" for m in console.rooms[room].messages[before:])

    await until(answered, 10)
    return [m.text for m in console.rooms[room].messages[before:] if m.author == "bot"]


async def until(check: Callable[[], Awaitable[bool]], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return await check()


def notes_in_log(bot: Bot) -> list[str]:
    return [r.event.data["text"] for r in bot.store.log(INC) if r.event.kind == "note"]


async def until_noted(bot: Bot, texts: list[str]) -> None:
    """Wait (bounded) until every note in `texts` is in the log and every answer delivered:
    the retry runs RETRY_SECONDS after a failure."""

    def settled() -> bool:
        logged = set(notes_in_log(bot))
        return set(texts) <= logged and not bot.store.pending_effects()

    async def all_in() -> bool:
        return await asyncio.to_thread(settled)

    await until(all_in, RETRY_SECONDS + 10)


def assert_recorded_once(bot: Bot, acknowledged: list[str], url: str) -> None:
    """Each acknowledged note is in the log exactly once, nothing else is, nothing is left
    unhandled in the inbox, and `rrt log verify` passes."""
    notes = Counter(notes_in_log(bot))
    assert notes == Counter(acknowledged), notes
    assert bot.store.unhandled() == []
    ok, message = verify_report(url)
    assert ok, message


async def test_postgres_down_mid_incident_the_sender_is_told_and_nothing_is_lost(
    cluster: Cluster, chat_bot: Bot, database_url: str
) -> None:
    console = chat_bot.platform("console")
    assert isinstance(console, ConsolePlatform)
    await console.say("alice", console.lobby, "declare Ransomware at AZ Noord")
    room = console.room_by_name("inc-").id
    assert await say(console, room, "note Backups offline") == [NOTED]

    await cluster.stop()
    told = await say(console, room, "note Tape restore started")  # returns: nothing escapes
    assert len(told) == 1, told
    assert told[0].startswith("⚠️"), told
    assert "database" in told[0]

    # The pool's connections died with the server; now nothing even accepts a connection.
    told_again = await say(console, room, "note Still no database")
    assert len(told_again) == 1, told_again
    assert told_again[0].startswith("⚠️"), told_again

    await cluster.start()
    assert await say(console, room, "note Restore verified") == [NOTED]

    acknowledged = ["Backups offline", "Restore verified"]
    for text, answer in [("Tape restore started", told[0]), ("Still no database", told_again[0])]:
        if answer.startswith(RECORDED_NOT_HANDLED):
            acknowledged.append(text)  # recorded meanwhile: handled by the retry, once back
        else:
            assert answer.startswith(NOT_RECORDED), answer
    await until_noted(chat_bot, acknowledged)
    assert_recorded_once(chat_bot, acknowledged, database_url)


async def test_postgres_down_after_an_event_is_recorded_it_is_handled_once_back(
    cluster: Cluster, chat_bot: Bot, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database fails between recording an event and handling it."""
    console = chat_bot.platform("console")
    assert isinstance(console, ConsolePlatform)
    await console.say("alice", console.lobby, "declare Ransomware at AZ Noord")
    room = console.room_by_name("inc-").id
    assert await say(console, room, "note Backups offline") == [NOTED]

    record = chat_bot.dispatcher._record

    def record_then_fail(inbound: Inbound) -> tuple[bool, str]:
        recorded = record(inbound)
        monkeypatch.undo()
        cluster.stop_now()  # recorded and routed, not yet handled
        return recorded

    monkeypatch.setattr(chat_bot.dispatcher, "_record", record_then_fail)
    told = await say_recorded_first(chat_bot, console, room, "note Tape restore started")
    assert len(told) == 1, told
    assert told[0].startswith(RECORDED_NOT_HANDLED), told

    await cluster.start()  # no new event: the runtime's own retry handles it
    acknowledged = ["Backups offline", "Tape restore started"]
    await until_noted(chat_bot, acknowledged)
    assert console.last(room).text == NOTED
    assert_recorded_once(chat_bot, acknowledged, database_url)


async def test_postgres_down_right_after_the_inbox_commit_the_sender_is_not_misled(
    cluster: Cluster, chat_bot: Bot, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database fails after the event's inbox row commits, before the runtime has routed
    it: the event is recorded, so the sender must not be told "Not recorded … send it again",
    and it must be handled once the database is back, without being sent again."""
    console = chat_bot.platform("console")
    assert isinstance(console, ConsolePlatform)
    await console.say("alice", console.lobby, "declare Ransomware at AZ Noord")
    room = console.room_by_name("inc-").id
    assert await say(console, room, "note Backups offline") == [NOTED]

    record = chat_bot.store.record

    def commit_then_fail(platform: str, event_id: str, payload: str) -> bool:
        fresh = record(platform, event_id, payload)
        monkeypatch.undo()
        cluster.stop_now()  # the inbox row is committed
        return fresh

    monkeypatch.setattr(chat_bot.store, "record", commit_then_fail)
    told = await say_recorded_first(chat_bot, console, room, "note Tape restore started")
    assert len(told) == 1, told
    assert told[0].startswith(RECORDED_NOT_HANDLED), told

    await cluster.start()
    acknowledged = ["Backups offline", "Tape restore started"]
    await until_noted(chat_bot, acknowledged)
    assert_recorded_once(chat_bot, acknowledged, database_url)


async def test_a_timer_due_while_postgres_is_down_fires_once_when_it_is_back(
    cluster: Cluster, live_bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler, timers, clock = live_bot.scheduler, live_bot.services.timers, live_bot.services.clock
    await scheduler.start()
    due = clock.now() + timedelta(milliseconds=500)
    timers.schedule(INC, "checkin", "slot", due)
    await scheduler.arm()
    assert scheduler.next_wake() == due

    await cluster.stop()
    assert clock.now() < due, "PostgreSQL took too long to stop: the timer was not due yet"
    await asyncio.sleep((due - clock.now()).total_seconds() + 0.5)  # falls due, database down
    await cluster.start()
    back = clock.now()

    async def fired() -> bool:
        return bool(await asyncio.to_thread(live_bot.store.fired, INC))

    assert await until(fired, 20), "the timer never fired after the database came back"
    await asyncio.sleep(0.5)  # and it does not fire again
    (timer,) = live_bot.store.fired(INC)
    assert timer.due_at == due
    assert timer.fired_at is not None
    assert timer.fired_at >= back  # fired only once the database was back
    assert timers.next_due_at() is None
    # The outage is told one line at a time, without a traceback: it is no fault of the bot's.
    told = [r for r in caplog.records if r.name.startswith("rrt") and r.levelname == "ERROR"]
    assert any("firing due timers failed" in r.getMessage() for r in told)
    assert [r.getMessage() for r in told if r.exc_info] == []
