"""`rrt run` as a service: a real process, its platforms out of reach, stopped by a signal,
watched over HTTP (`/healthz`, `/metrics`) and through its one-line logs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.adapters.slack.payloads import slash_command
from tests.fixtures.cli import rrt
from tests.fixtures.ports import free_port
from tests.fixtures.slack_api import FakeSlack, running_fake_slack

REPO = Path(__file__).resolve().parents[1]
STOP_SECONDS = 5.0  # SIGTERM to exit, whatever a platform is doing
WAIT_SECONDS = 30.0  # for start-up and retries; only a failing test waits this long
ANNA = "U0UJZDE8GXD"  # a roster member (config/roster.example.yaml)


class Bot:
    """`rrt run` in a subprocess; its stderr read line by line as it comes."""

    def __init__(self, process: asyncio.subprocess.Process, metrics_port: int) -> None:
        self.process = process
        self.metrics_port = metrics_port
        self.lines: list[str] = []
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self.lines.append(line.decode().rstrip("\n"))

    def records(self) -> list[dict[str, Any]]:
        """Every log line, each a JSON object (a line that is not fails the test)."""
        return [json.loads(line) for line in self.lines]

    def retries(self, platform: str) -> list[dict[str, Any]]:
        return [
            record
            for record in self.records()
            if record.get("platform") == platform and "could not connect" in record["message"]
        ]

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not condition():
            if self.process.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(f"never {what}; log:\n" + "\n".join(self.lines))
            await asyncio.sleep(0.1)

    async def get(self, path: str) -> tuple[int, str]:
        url = f"http://127.0.0.1:{self.metrics_port}{path}"
        async with aiohttp.ClientSession() as session, session.get(url) as answer:
            return answer.status, await answer.text()

    async def health(self) -> tuple[int, dict[str, Any]] | None:
        try:
            status, body = await self.get("/healthz")
        except aiohttp.ClientConnectionError:
            return None  # not listening yet
        return status, json.loads(body)

    async def until_healthy(self, check: Callable[[int, dict[str, Any]], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            answer = await self.health()
            if answer is not None and check(*answer):
                return
            if self.process.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"never {what} (last: {answer}); log:\n" + "\n".join(self.lines)
                )
            await asyncio.sleep(0.2)

    async def metrics_once(
        self, condition: Callable[[dict[str, float]], bool], what: str
    ) -> dict[str, float]:
        """The samples of /metrics, once `condition` holds for them."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            status, text = await self.get("/metrics")
            assert status == 200
            found = metric_samples(text)
            if condition(found):
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"never {what}:\n{text}")
            await asyncio.sleep(0.1)

    async def terminate(self) -> float:
        """SIGTERM; returns the seconds until it exited."""
        sent = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.process.wait(), STOP_SECONDS)
        await self._reader
        return time.monotonic() - sent


@asynccontextmanager
async def rrt_run(folder: Path, settings: dict[str, str]) -> AsyncIterator[Bot]:
    """`rrt run` in `folder` with `settings` (on SQLite there unless they name a database)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith("RRT_") and name.upper() != "DATABASE_URL"
    }
    metrics_port = free_port()
    env.update(
        {
            "HOME": str(folder),
            "PYTHONPATH": str(REPO),
            "RRT_DATABASE_URL": f"sqlite:///{folder / 'rrt.db'}",
            "RRT_REPORTS_DIR": str(folder / "reports"),
            "RRT_LOG_FORMAT": "json",
            "RRT_METRICS_HOST": "127.0.0.1",
            "RRT_METRICS_PORT": str(metrics_port),
            **settings,
        }
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        cwd=folder,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    bot = Bot(process, metrics_port)
    try:
        yield bot
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def slack_at(api_url: str) -> dict[str, str]:
    return {
        "RRT_SLACK__BOT_TOKEN": "xoxb-service",
        "RRT_SLACK__APP_TOKEN": "xapp-service",
        "RRT_SLACK__API_URL": api_url,
    }


@asynccontextmanager
async def homeserver_answering_502() -> AsyncIterator[list[str]]:
    """A homeserver behind a proxy whose upstream is down: every request gets a 502."""
    requests: list[str] = []

    async def bad_gateway(request: web.Request) -> web.Response:
        requests.append(request.path)
        return web.Response(status=502, text="<html>502 Bad Gateway</html>")

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", bad_gateway)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    requests.append(f"http://127.0.0.1:{port}")  # the first entry is the server's address
    try:
        yield requests
    finally:
        await runner.cleanup()


async def test_sigterm_ends_the_bot_while_slack_accepts_but_never_answers(
    tmp_path: Path,
) -> None:
    with closing(socket.socket()) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the backlog; nothing ever answers them
        api_url = f"http://127.0.0.1:{silent.getsockname()[1]}/api/"
        async with rrt_run(tmp_path, slack_at(api_url)) as bot:
            await bot.until_healthy(
                lambda status, body: body["platforms"]["slack"]["state"] == "connecting",
                "connecting to Slack",
            )
            await asyncio.sleep(1.0)  # well into the request Slack never answers

            took = await bot.terminate()

    assert bot.process.returncode == 0
    assert took < STOP_SECONDS
    messages = [record["message"] for record in bot.records()]
    assert "stopping" in messages
    assert messages[-1] == "stopped"


async def test_an_unreachable_slack_is_retried_one_line_each_until_sigterm(
    tmp_path: Path,
) -> None:
    closed = free_port()  # nothing listens there: connections are refused
    async with rrt_run(tmp_path, slack_at(f"http://127.0.0.1:{closed}/api/")) as bot:
        await bot.until(lambda: len(bot.retries("slack")) >= 2, "retried Slack twice")

        took = await bot.terminate()

    assert bot.process.returncode == 0
    assert took < STOP_SECONDS
    retries = bot.retries("slack")
    assert [record["failures"] for record in retries] == list(range(1, len(retries) + 1))
    first = retries[0]
    assert first["level"] == "warning"
    assert first["logger"] == "rrt.platforms"
    assert first["time"].endswith("Z")
    assert "ClientConnectorError" in first["message"]
    assert 0.5 <= first["retry_in"] <= 1.0  # the first delay: 1 s with jitter
    assert not any("traceback" in record for record in bot.records())


async def test_a_failing_matrix_is_retried_while_slack_serves_and_reports_over_http(
    tmp_path: Path,
) -> None:
    async with (
        running_fake_slack() as slack,
        homeserver_answering_502() as matrix_requests,
        rrt_run(
            tmp_path,
            {
                **slack_at(slack.base_url),
                "RRT_MATRIX__HOMESERVER": matrix_requests[0],
                "RRT_MATRIX__USER_ID": "@rrt:localhost",
                "RRT_MATRIX__ACCESS_TOKEN": "syt_service",
                "RRT_MATRIX__STORE_DIR": str(tmp_path / "matrix"),
            },
        ) as bot,
    ):
        await bot.until_healthy(
            lambda status, body: (
                status == 200
                and body["platforms"]["slack"]["state"] == "connected"
                and body["platforms"]["matrix"]["state"] == "retrying"
            ),
            "healthy with Slack connected and Matrix retrying",
        )
        await bot.until(lambda: len(bot.retries("matrix")) >= 2, "retried Matrix twice")

        await answered_on_slack(slack)

        status, body = await bot.health() or (0, {})
        assert status == 200
        assert body["status"] == "ok"
        assert body["database"] == "writable"
        matrix = body["platforms"]["matrix"]
        assert matrix["failures"] >= 2
        assert "homeserver answered HTTP 502" in matrix["error"]
        assert body["degraded"] == ["matrix"]

        samples = await bot.metrics_once(
            lambda found: found.get("rrt_outbox_pending") == 0.0, "delivered the answer"
        )
        assert samples['rrt_platform_connected{platform="slack"}'] == 1.0
        assert samples['rrt_platform_connected{platform="matrix"}'] == 0.0
        assert samples['rrt_platform_connect_failures_total{platform="matrix"}'] >= 2.0
        assert samples['rrt_events_received_total{kind="text",platform="slack"}'] == 1.0
        assert samples['rrt_events_handled_total{kind="text",platform="slack"}'] == 1.0
        assert samples['rrt_decision_duration_seconds_count{platform="slack"}'] == 1.0
        assert samples["rrt_inbox_unhandled"] == 0.0
        assert any(
            name.startswith("rrt_effects_total{") and 'outcome="delivered"' in name
            for name in samples
        )

        assert await image_healthcheck(bot.metrics_port) == 0

        (tmp_path / "rrt.db").unlink()  # the database goes away under the running bot
        status, body = await bot.health() or (0, {})
        assert status == 503
        assert body["status"] == "unavailable"
        assert "was removed" in body["database"]
        assert await image_healthcheck(bot.metrics_port) != 0

        took = await bot.terminate()

    assert bot.process.returncode == 0
    assert took < STOP_SECONDS
    retries = bot.retries("matrix")
    assert [record["failures"] for record in retries] == list(range(1, len(retries) + 1))
    assert not any("traceback" in record for record in bot.records())
    assert len(matrix_requests) > 2  # it kept asking


class Homeserver:
    """A homeserver stand-in that knows the bot's token and syncs nothing, until `down` is
    set: then a proxy in front of it answers every request with a 502."""

    def __init__(self) -> None:
        self.down = False
        self.url = ""
        self.syncs = 0

    async def answer(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=502, text="<html>502 Bad Gateway</html>")
        if request.path.endswith("/account/whoami"):
            return web.json_response({"user_id": "@rrt:localhost", "device_id": "RRTDEVICE"})
        if request.path.endswith("/sync"):
            self.syncs += 1
            if "since" in request.query:
                await asyncio.sleep(0.2)  # a long-poll with nothing new, cut short
            return web.json_response({"next_batch": f"s{self.syncs}"})
        return web.json_response({"errcode": "M_UNRECOGNIZED", "error": "no"}, status=404)


@asynccontextmanager
async def homeserver() -> AsyncIterator[Homeserver]:
    server = Homeserver()
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", server.answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield server
    finally:
        await runner.cleanup()


async def test_a_matrix_that_drops_after_connecting_shows_as_reconnecting_until_it_is_back(
    tmp_path: Path,
) -> None:
    async with (
        homeserver() as matrix,
        rrt_run(
            tmp_path,
            {
                "RRT_MATRIX__HOMESERVER": matrix.url,
                "RRT_MATRIX__USER_ID": "@rrt:localhost",
                "RRT_MATRIX__ACCESS_TOKEN": "syt_service",
                "RRT_MATRIX__STORE_DIR": str(tmp_path / "matrix"),
            },
        ) as bot,
    ):
        await bot.until_healthy(
            lambda status, body: body["platforms"]["matrix"]["state"] == "connected",
            "connected to Matrix",
        )

        matrix.down = True
        await bot.until_healthy(
            lambda status, body: body["platforms"]["matrix"]["state"] == "reconnecting",
            "showed Matrix reconnecting",
        )
        status, body = await bot.health() or (0, {})
        assert status == 200  # the bot itself is fine; restarting it would not help
        assert body["degraded"] == ["matrix"]
        assert "homeserver answered HTTP 502" in body["platforms"]["matrix"]["error"]
        samples = await bot.metrics_once(lambda found: True, "read the metrics")
        assert samples['rrt_platform_connected{platform="matrix"}'] == 0.0

        matrix.down = False
        await bot.until_healthy(
            lambda status, body: (
                body["platforms"]["matrix"]["state"] == "connected" and "degraded" not in body
            ),
            "showed Matrix connected again",
        )
        samples = await bot.metrics_once(lambda found: True, "read the metrics")
        assert samples['rrt_platform_connected{platform="matrix"}'] == 1.0

        await bot.terminate()

    messages = [record["message"] for record in bot.records()]
    assert any(message.startswith("matrix: connection lost (") for message in messages)
    assert "matrix reconnected" in messages


async def answered_on_slack(slack: FakeSlack) -> None:
    """`/incident help` over Socket Mode is acknowledged and answered."""
    command = {**slash_command("help"), "user_id": ANNA}
    envelope = await slack.push("slash_commands", command)
    assert (await slack.ack_for(envelope))["envelope_id"] == envelope
    await slack.wait_until(
        lambda: bool(slack.calls_to("chat.postEphemeral") or slack.calls_to("chat.postMessage")),
        seconds=WAIT_SECONDS,
    )


async def image_healthcheck(metrics_port: int) -> int:
    """The exit status of the Docker image's HEALTHCHECK command, run here."""
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    (line,) = [line for line in dockerfile.splitlines() if line.startswith("HEALTHCHECK")]
    command = line.split(" CMD ", 1)[1]
    env = {**os.environ, "RRT_METRICS_PORT": str(metrics_port)}
    check = await asyncio.create_subprocess_shell(
        command.replace("python ", f"{sys.executable} ", 1),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(check.wait(), WAIT_SECONDS)


def metric_samples(text: str) -> dict[str, float]:
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_a_metrics_port_in_use_is_refused_in_one_line(tmp_path: Path) -> None:
    with closing(socket.socket()) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = {
            **slack_at(f"http://127.0.0.1:{free_port()}/api/"),
            "RRT_METRICS_HOST": "127.0.0.1",
            "RRT_METRICS_PORT": str(port),
        }

        called = rrt("run", cwd=tmp_path, env=env)

    assert called.returncode == 2
    assert f"RRT_METRICS_PORT={port}: cannot listen (" in called.stderr
    assert "Traceback" not in called.stderr
