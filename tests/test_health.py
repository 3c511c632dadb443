"""`/healthz` and `/metrics` served over HTTP from what the bot reports."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio
from sqlalchemy import text

from bot.core.store import StorageLost
from bot.health import Health, StatusServer
from bot.metrics import CONTENT_TYPE, Metrics
from bot.supervise import State, Status
from storage.db import make_engine
from tests.fixtures.ports import free_port


class Database:
    """Stands in for the probe: writable until `lost` is set."""

    def __init__(self) -> None:
        self.lost: str | None = None

    async def probe(self) -> None:
        if self.lost is not None:
            raise StorageLost(self.lost)


class Served:
    def __init__(self) -> None:
        self.database = Database()
        self.platforms = {
            "slack": Status(State.CONNECTED),
            "matrix": Status(State.RETRYING, failures=2, error="PlatformError: M_UNKNOWN"),
        }
        self.metrics = Metrics()
        self.health = Health(self.database.probe, lambda: self.platforms)
        self.server = StatusServer(self.health, self.metrics, self.backlog, "127.0.0.1", 0)

    async def backlog(self) -> tuple[int, int]:
        return 2, 0

    async def get(self, path: str) -> tuple[int, str, str]:
        url = f"http://127.0.0.1:{self.server.port}{path}"
        async with aiohttp.ClientSession() as session, session.get(url) as answer:
            return answer.status, answer.headers["Content-Type"], await answer.text()


@pytest_asyncio.fixture
async def served() -> AsyncIterator[Served]:
    served = Served()
    await served.server.start()
    try:
        yield served
    finally:
        await served.server.stop()


async def test_healthy_while_running_with_a_writable_database(served: Served) -> None:
    served.health.running = True

    status, content_type, body = await served.get("/healthz")

    assert status == 200
    assert content_type.startswith("application/json")
    answer = json.loads(body)
    assert answer["status"] == "ok"
    assert answer["database"] == "writable"
    assert answer["platforms"]["slack"]["state"] == "connected"
    assert answer["platforms"]["matrix"] == {
        "state": "retrying",
        "since": answer["platforms"]["matrix"]["since"],
        "failures": 2,
        "error": "PlatformError: M_UNKNOWN",
    }
    assert answer["platforms"]["matrix"]["since"].endswith("Z")
    assert answer["degraded"] == ["matrix"]


async def test_a_platform_that_dropped_is_named_while_the_bot_stays_healthy(
    served: Served,
) -> None:
    served.health.running = True
    served.platforms = {
        "slack": Status(State.RECONNECTING, failures=1, error="Socket Mode connection lost"),
        "matrix": Status(State.CONNECTED),
    }

    status, _, body = await served.get("/healthz")

    assert status == 200
    answer = json.loads(body)
    assert answer["status"] == "ok"
    assert answer["degraded"] == ["slack"]
    assert answer["platforms"]["slack"]["state"] == "reconnecting"
    assert answer["platforms"]["slack"]["error"] == "Socket Mode connection lost"

    served.platforms["slack"] = Status(State.CONNECTED)
    status, _, body = await served.get("/healthz")
    assert (status, "degraded" in json.loads(body)) == (200, False)


async def test_a_standby_platform_is_shown_and_not_degraded(served: Served) -> None:
    """Another replica runs Matrix: as it should be."""
    served.health.running = True
    served.platforms = {"slack": Status(State.CONNECTED), "matrix": Status(State.STANDBY)}

    status, _, body = await served.get("/healthz")

    assert status == 200
    answer = json.loads(body)
    assert answer["platforms"]["matrix"]["state"] == "standby"
    assert "degraded" not in answer


async def test_unavailable_when_the_database_is_lost_or_the_bot_not_running(
    served: Served,
) -> None:
    status, _, body = await served.get("/healthz")
    assert (status, json.loads(body)["status"]) == (503, "not running")

    served.health.running = True
    served.database.lost = "the database file var/rrt.db was removed"
    status, _, body = await served.get("/healthz")
    assert status == 503
    assert json.loads(body)["database"] == ("StorageLost: the database file var/rrt.db was removed")


async def test_a_database_server_out_of_reach_is_reported_lost_with_why() -> None:
    port = free_port()
    engine = make_engine(f"postgresql://rrt@127.0.0.1:{port}/rrt")

    def write() -> None:
        with engine.begin() as connection:
            connection.execute(text("SELECT 1"))

    health = Health(lambda: asyncio.to_thread(write), dict)
    health.running = True
    try:
        healthy, answer = await health.report()
    finally:
        engine.dispose()

    assert healthy is False
    assert answer["status"] == "unavailable"
    assert answer["database"].startswith("lost: connection failed: ")
    assert answer["database"].endswith("Connection refused")


async def test_metrics_are_the_prometheus_text_with_the_backlog_measured(
    served: Served,
) -> None:
    served.metrics.event_received("slack", "text")

    status, content_type, body = await served.get("/metrics")

    assert status == 200
    assert content_type == CONTENT_TYPE
    assert 'rrt_events_received_total{kind="text",platform="slack"} 1.0' in body
    assert "rrt_outbox_pending 2.0" in body
