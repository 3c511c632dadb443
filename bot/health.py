"""`/healthz` and `/metrics` over HTTP, for a bot run as a service (`RRT_METRICS_PORT`).

`/healthz` answers 200 while the bot runs and its database takes a write, 503 otherwise
(starting up, stopping, database gone or read-only; `lost: ` and why when it cannot be reached,
and the bot then claims no work until it can again), with each platform's current state in a
small JSON body: connecting, connected, retrying (its start failed), reconnecting (it was
connected and lost it), each since when. A platform that is not connected does not make the
bot unhealthy: restarting would not bring it back, the other platforms still serve, and what
is decided for it waits for it; `degraded` names it, and its state says what is wrong.
A platform in `standby` is run by another replica sharing the database (see `bot.leadership`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError

from bot.runtime import short_reason
from bot.supervise import State, Status, reason

if TYPE_CHECKING:
    from aiohttp import web

    from bot.metrics import Metrics

log = logging.getLogger("rrt.health")

PROBE_TIMEOUT = 5.0  # a database that takes longer to write is reported unavailable

Probe = Callable[[], Awaitable[None]]  # raises when the database cannot be written
Backlog = Callable[[], Awaitable[tuple[int, int]]]  # (outbox pending, inbox unhandled)


class Health:
    def __init__(self, probe: Probe, platforms: Callable[[], Mapping[str, Status]]) -> None:
        self._probe = probe
        self._platforms = platforms
        self.running = False  # true from the end of start-up to the start of shutdown

    async def report(self) -> tuple[bool, dict[str, Any]]:
        """Whether the bot is healthy, and what /healthz says."""
        database = "writable"
        try:
            await asyncio.wait_for(self._probe(), PROBE_TIMEOUT)
        except TimeoutError:
            database = f"no answer in {PROBE_TIMEOUT:.0f} s"
        except Exception as error:
            database = f"lost: {short_reason(error)}" if _unreachable(error) else reason(error)
        healthy = self.running and database == "writable"
        platforms = self._platforms()
        body: dict[str, Any] = {
            "status": "ok" if healthy else ("unavailable" if self.running else "not running"),
            "database": database,
            "platforms": {name: _status(status) for name, status in platforms.items()},
        }
        # A standby is as it should be: another replica runs that platform.
        degraded = [
            name
            for name, status in platforms.items()
            if status.state not in (State.CONNECTED, State.STANDBY)
        ]
        if degraded:
            body["degraded"] = degraded
        return healthy, body


def _unreachable(error: Exception) -> bool:
    """The database server gave no answer at all (refused, dropped, timed out): the driver's
    error carries no SQLSTATE, as every answer of the server does."""
    driver = getattr(error, "orig", None)
    return isinstance(error, DBAPIError) and getattr(driver, "sqlstate", "") is None


def _status(status: Status) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "state": status.state.value,
        "since": status.since.isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    if status.failures:
        shown["failures"] = status.failures
    if status.error:
        shown["error"] = status.error
    return shown


class StatusServer:
    """Serves /healthz and /metrics on `host:port` (port 0: any free port, see `port`).

    aiohttp's server and the Prometheus client are imported only when it runs: a bot without
    `RRT_METRICS_PORT` does without their memory."""

    def __init__(
        self, health: Health, metrics: Metrics, backlog: Backlog, host: str, port: int
    ) -> None:
        self._health = health
        self._metrics = metrics
        self._backlog = backlog
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int | None:
        if self._runner is None or not self._runner.addresses:
            return None
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        from aiohttp import web

        app = web.Application()
        app.add_routes([web.get("/healthz", self._healthz), web.get("/metrics", self._scrape)])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        log.info("health and metrics on http://%s:%s/", self._host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        from aiohttp import web

        healthy, body = await self._health.report()
        return web.json_response(body, status=200 if healthy else 503)

    async def _scrape(self, request: web.Request) -> web.Response:
        from aiohttp import web

        from bot.metrics import CONTENT_TYPE

        try:
            outbox, inbox = await asyncio.wait_for(self._backlog(), PROBE_TIMEOUT)
        except Exception as error:  # the counters are still worth reading
            log.warning("backlog not measured: %s", error)
        else:
            self._metrics.backlog(outbox, inbox)
        return web.Response(body=self._metrics.render(), headers={"Content-Type": CONTENT_TYPE})
