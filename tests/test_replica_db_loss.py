"""A replica that loses the database: it says so on /healthz, claims no work meanwhile (the
other replica fires the timers and handles the events), and rejoins once it is back.

Two real bots in Slack HTTP mode share one PostgreSQL database and one fake Web API; A reaches
the database through a TCP proxy the test cuts and restores, B directly. Pages time out after
a few seconds, so that timers fall due while A is cut off and after it is back.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import make_url
from sqlmodel import Session, select

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import build
from bot.core.clock import FakeClock
from bot.core.store import Timer
from bot.runtime import RETRY_SECONDS
from config.settings import Settings
from handlers.timer_sync import ACK
from storage.sql_store import open_store
from storage.tables import OutboxRow
from tests.fixtures.chat import START
from tests.fixtures.ports import free_port
from tests.fixtures.postgres import (  # noqa: F401
    PostgresCluster,
    fresh_postgres_url,
    postgres_cluster,
    postgres_url,
)
from tests.fixtures.roster import small_roster
from tests.fixtures.slack_api import FakeSlack, effect_key, running_fake_slack
from tests.fixtures.tcp_proxy import running_proxy
from tests.test_replicas import (
    ANNA,
    INCIDENT,
    LOBBY,
    command,
    pages,
    replica,
    settled,
    short_timeouts,
    until,
    war_room,
)
from tests.test_service import Bot

INCIDENT_AZ = f"INC-{START.year}-0001"
ACK_SECONDS = 8  # an L1 page's answer timeout
BACK_WITHIN = 15.0  # seconds for A to be healthy again once the database is back


@pytest.mark.postgres
async def test_a_replica_cut_off_from_the_database_says_so_claims_nothing_and_rejoins(
    tmp_path: Path,
    postgres_cluster: PostgresCluster,  # noqa: F811
    fresh_postgres_url: str,  # noqa: F811
) -> None:
    url = fresh_postgres_url
    policy = short_timeouts(tmp_path, f"{ACK_SECONDS}s")
    ports = {"a": free_port(), "b": free_port()}
    with running_proxy("127.0.0.1", postgres_cluster.port) as proxy:
        proxied = make_url(url).set(port=proxy.port).render_as_string(hide_password=False)
        async with running_fake_slack() as slack:
            shared = {"RRT_POLICY_FILE": str(policy), "RRT_LOG_KEY_FILE": str(tmp_path / "key")}
            folders = {name: tmp_path / name for name in ports}
            for folder in folders.values():
                folder.mkdir()
            async with (
                replica(
                    folders["a"], slack, ports["a"], {**shared, "RRT_DATABASE_URL": proxied}
                ) as a,
                replica(folders["b"], slack, ports["b"], {**shared, "RRT_DATABASE_URL": url}) as b,
            ):
                assert proxy.accepted > 0  # A's database is behind the proxy
                await command(ports["a"], ANNA, LOBBY, "declare Ransomware at hospital", "t-1")
                await until(lambda: war_room(slack) is not None, "opened the war room")
                room = war_room(slack)
                assert room is not None
                await until(lambda: settled(url), "delivered the declaration")

                # Cut off: A says why it is unhealthy, and refuses what is sent to it.
                proxy.cut()
                cut_at = datetime.now(UTC)
                await a.until_healthy(lambda status, body: status == 503, "reported the loss")
                answer = await a.health()
                assert answer is not None
                _, body = answer
                assert body["status"] == "unavailable"
                assert body["database"].startswith("lost: ")
                assert "refused" in body["database"].lower()
                await command(ports["a"], ANNA, room, "status", "t-a-cut")
                await until(lambda: said(slack, room, "Not recorded"), "refused the event")
                # B carries on: it handles events, and fires the timers that fall due,
                # A's (the declarer's page as coordinator) and its own (Pieter's).
                await command(ports["b"], ANNA, room, "page Pieter as analyst", "t-b-page")
                await until(lambda: len(pages(slack)) == 1, "paged Pieter")
                await until(lambda: len(ack_timers(url)) >= 2, "timed both pages out", 30)
                await until(lambda: settled(url), "delivered what the timeouts decided")
                # A's periodic look for the others' work has come round meanwhile, in vain.
                await a.until(lambda: looked_in_vain(a), "looked for work while cut off")
                assert (await a.health() or (0,))[0] == 503

                # Back: A is healthy again soon, and takes work again.
                proxy.restore()
                restored_at = datetime.now(UTC)
                started = time.monotonic()
                await a.until_healthy(lambda status, body: status == 200, "healthy again")
                assert time.monotonic() - started < BACK_WITHIN
                await b.terminate()
                b_stopped_at = datetime.now(UTC)
                await command(ports["a"], ANNA, room, "status", "t-a-back")
                await until(lambda: handled(url, "t-a-back"), "handled an event after")
                await until(
                    lambda: fired_since(url, b_stopped_at), "fired a timer after", ACK_SECONDS * 3
                )
                await until(lambda: settled(url), "delivered what A decided")
                await a.terminate()

    replicas = {"a": a.process.pid, "b": b.process.pid}
    rows = outbox(url)
    fired = ack_timers(url)
    # What fell due while A was cut off was fired (and delivered) by B, each page's timeout
    # at least; A claimed nothing. After B stopped, A fired and delivered on its own.
    during = [t for t in fired if t.due_at >= cut_at and fired_before(t, restored_at)]
    after = [t for t in fired if not fired_before(t, b_stopped_at)]
    assert len(during) >= 2
    assert after
    assert {delivered_by(rows, t, replicas) for t in during} == {"b"}
    assert {delivered_by(rows, t, replicas) for t in after} == {"a"}
    # Nothing done twice: each decision logged once, each effect attempted once.
    store = open_store(url)
    try:
        kinds = Counter(record.event.kind for record in store.log(INCIDENT))
        assert store.unhandled() == []
        assert not store.is_handled("slack", "command:t-a-cut")  # refused, not recorded
    finally:
        store.close()
    assert kinds["declared"] == 1
    assert kinds["page_requested"] == 1
    assert kinds["page_timed_out"] == len(fired)
    assert [(r.key, r.attempts, r.error) for r in rows if r.attempts != 1 or r.error] == []
    # Each message posted once (a page repeated in a later cycle is an effect of its own).
    posted = [effect_key(call.params) for call in slack.calls_to("chat.postMessage")]
    assert [key for key, n in Counter(posted).items() if n > 1 and key is not None] == []


@pytest.mark.postgres
async def test_an_event_recorded_before_the_database_was_lost_is_handled_once_it_is_back(
    tmp_path: Path,
    postgres_cluster: PostgresCluster,  # noqa: F811
    fresh_postgres_url: str,  # noqa: F811
) -> None:
    with running_proxy("127.0.0.1", postgres_cluster.port) as proxy:
        proxied = make_url(fresh_postgres_url).set(port=proxy.port)
        settings = Settings(
            database_url=proxied.render_as_string(hide_password=False),
            reports_dir=tmp_path / "reports",
        )
        bot = build(settings, clock=FakeClock(START), roster=small_roster())
        console = ConsolePlatform(on_inbound=bot.dispatcher)
        bot.attach(console)
        try:
            await console.say("alice", console.lobby, "declare Ransomware at AZ Noord")
            room = console.room_by_name("inc-").id
            bot.dispatcher.hold()  # the next event is recorded, and handled once released
            saying = asyncio.ensure_future(console.say("alice", room, "note Tape restore started"))
            await until(lambda: unhandled(fresh_postgres_url) == 1, "recorded the event")
            proxy.cut()
            bot.dispatcher.release()
            await saying
            assert console.last(room).text.startswith("⚠️ Recorded, but")
            # Lost for longer than a retry: the first one fails too.
            await asyncio.sleep(RETRY_SECONDS + 1.5)
            proxy.restore()
            # No new event comes; the bot's own retries handle it.
            await until(lambda: noted(fresh_postgres_url), "handled it", RETRY_SECONDS * 2 + 5)
            assert console.last(room).text == f"Noted in {INCIDENT_AZ}."
        finally:
            bot.close()
    assert unhandled(fresh_postgres_url) == 0


def unhandled(url: str) -> int:
    store = open_store(url)
    try:
        return len(store.unhandled())
    finally:
        store.close()


def noted(url: str) -> bool:
    store = open_store(url)
    try:
        notes = [r.event.data["text"] for r in store.log(INCIDENT_AZ) if r.event.kind == "note"]
        return notes == ["Tape restore started"] and not store.pending_effects()
    finally:
        store.close()


def said(slack: FakeSlack, channel: str, text: str) -> bool:
    """Whether the bot has told `channel` something containing `text`, however it answered."""
    answers = [
        *slack.calls_to("chat.postMessage"),
        *slack.calls_to("chat.postEphemeral"),
    ]
    return any(
        call.params.get("channel") == channel and text in str(call.params.get("text"))
        for call in answers
    ) or any(text in str(response.get("text")) for response in slack.responses)


def ack_timers(url: str) -> list[Timer]:
    """The incident's page timeouts that have fired."""
    store = open_store(url)
    try:
        return [t for t in store.fired(INCIDENT) if t.kind == ACK]
    finally:
        store.close()


def fired_since(url: str, moment: datetime) -> bool:
    return any(not fired_before(t, moment) for t in ack_timers(url))


def fired_before(timer: Timer, moment: datetime) -> bool:
    assert timer.fired_at is not None
    return timer.fired_at < moment


def looked_in_vain(bot: Bot) -> bool:
    return any(
        record["message"].startswith("looking for the work of other replicas failed")
        for record in bot.records()
    )


def handled(url: str, trigger: str) -> bool:
    store = open_store(url)
    try:
        return store.is_handled("slack", f"command:{trigger}")
    finally:
        store.close()


def outbox(url: str) -> list[OutboxRow]:
    store = open_store(url)
    try:
        with Session(store.engine) as session:
            return list(session.exec(select(OutboxRow)))
    finally:
        store.close()


def delivered_by(rows: list[OutboxRow], timer: Timer, replicas: dict[str, int]) -> str:
    """Which replica delivered the effects of the timer's firing (each has its pid in its
    claims)."""
    claims = {
        row.claimed_by
        for row in rows
        if row.key.startswith(f"timer:{timer.id}#") and row.claimed_by is not None
    }
    names = {name for name, pid in replicas.items() for claim in claims if f":{pid}:" in claim}
    assert len(names) == 1, (timer, claims)
    return names.pop()
