"""Retries: rate limits wait as told, lost connections back off, other errors raise."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from nio import AsyncClient, ErrorResponse, RoomSendResponse

from bot.adapters.matrix import MatrixAdapter
from bot.adapters.matrix.calls import Backoff, MatrixCalls
from bot.port import Outbound, PlatformError, RoomSpec
from tests.adapters.matrix.conftest import MatrixWorld
from tests.fixtures.ports import free_port


class RecordedSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def scripted(*outcomes: object) -> tuple[Callable[[], Awaitable[Any]], list[int]]:
    """An operation answering with `outcomes` in turn (exceptions are raised)."""
    calls = [0]

    async def operation() -> Any:
        outcome = outcomes[calls[0]]
        calls[0] += 1
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return operation, calls


def calls_with(sleep: RecordedSleep, connection_attempts: int = 3) -> MatrixCalls:
    return MatrixCalls(
        Backoff(0.5, 4.0),
        connection_attempts=connection_attempts,
        rate_limit_attempts=3,
        sleep=sleep,
    )


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(0.5, 4.0)

    assert [backoff.delay(failures) for failures in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]


async def test_rate_limit_waits_retry_after_then_succeeds() -> None:
    sleep = RecordedSleep()
    sent = RoomSendResponse("$event", "!room:rrt.test")
    operation, calls = scripted(ErrorResponse("slow down", "M_LIMIT_EXCEEDED", 1500), sent)

    assert await calls_with(sleep)("send", operation) is sent
    assert (sleep.delays, calls[0]) == ([1.5], 2)


async def test_endless_rate_limit_gives_up() -> None:
    sleep = RecordedSleep()
    limited = ErrorResponse("slow down", "M_LIMIT_EXCEEDED", 10)
    operation, _ = scripted(limited, limited, limited)

    with pytest.raises(PlatformError) as raised:
        await calls_with(sleep)("send", operation)

    assert raised.value.code == "M_LIMIT_EXCEEDED"


async def test_other_errors_raise_with_their_code() -> None:
    operation, calls = scripted(ErrorResponse("You are not invited", "M_FORBIDDEN"))

    with pytest.raises(PlatformError) as raised:
        await calls_with(RecordedSleep())("join", operation)

    assert (raised.value.code, calls[0]) == ("M_FORBIDDEN", 1)
    assert "You are not invited" in raised.value.detail


async def test_lost_connection_backs_off_then_recovers() -> None:
    sleep = RecordedSleep()
    lost = aiohttp.ServerDisconnectedError()
    operation, _ = scripted(lost, TimeoutError(), "synced")

    assert await calls_with(sleep)("sync", operation) == "synced"
    assert sleep.delays == [0.5, 1.0]


async def test_unreachable_homeserver_raises_after_the_attempts() -> None:
    sleep = RecordedSleep()
    closed_port = free_port()

    async def connect() -> Any:
        async with aiohttp.ClientSession() as session:
            return await session.get(f"http://127.0.0.1:{closed_port}/")

    with pytest.raises(PlatformError) as raised:
        await calls_with(sleep, connection_attempts=3)("versions", connect)

    assert raised.value.code == "matrix_unreachable"
    assert sleep.delays == [0.5, 1.0]


async def test_an_answer_that_is_not_a_matrix_error_is_named_by_its_http_status() -> None:
    async def bad_gateway(request: web.Request) -> web.Response:
        return web.Response(status=502, text="<html>502 Bad Gateway</html>")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", bad_gateway)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    client = AsyncClient(f"http://127.0.0.1:{runner.addresses[0][1]}", "@rrt:rrt.test")
    try:
        with pytest.raises(PlatformError) as raised:
            await calls_with(RecordedSleep())("login", lambda: client.login(password="pw"))
    finally:
        await client.close()
        await runner.cleanup()

    assert str(raised.value) == "M_UNKNOWN: login: homeserver answered HTTP 502"


Rule = Callable[[web.Request], bool]


class TroubleProxy:
    """A real HTTP front for Synapse that answers chosen requests with an error, once each."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.base_url = ""
        self.planned: list[tuple[Rule, int, dict[str, Any]]] = []
        self.answered: list[str] = []

    def fail_once(self, rule: Rule, status: int, error: dict[str, Any]) -> None:
        self.planned.append((rule, status, error))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        for planned in self.planned:
            rule, status, error = planned
            if rule(request):
                self.planned.remove(planned)
                self.answered.append(f"{request.method} {request.path}")
                return web.json_response(error, status=status)
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method,
                self.upstream + request.path_qs,
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
                data=await request.read(),
            ) as answer,
        ):
            return web.Response(
                status=answer.status, body=await answer.read(), content_type=answer.content_type
            )


def is_message_send(request: web.Request) -> bool:
    return request.method == "PUT" and "/send/m.room.message/" in request.path


def is_sync(request: web.Request) -> bool:
    return request.path.endswith("/sync")


@pytest.fixture
async def proxy(world: MatrixWorld) -> AsyncIterator[TroubleProxy]:
    front = TroubleProxy(world.synapse.base_url)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", front.handle)
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    front.base_url = f"http://127.0.0.1:{port}"
    yield front
    await runner.cleanup()


async def open_room(world: MatrixWorld, adapter: MatrixAdapter) -> str:
    alice = world.analysts[0]
    room_id = await adapter.create_room(
        RoomSpec(name="INC", slug="inc", topic="t", invite=(alice.user_id,))
    )
    await alice.join(room_id)
    return room_id


@pytest.mark.matrix
async def test_rate_limited_send_is_retried_once(world: MatrixWorld, proxy: TroubleProxy) -> None:
    proxy.fail_once(
        is_message_send,
        429,
        {"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests", "retry_after_ms": 250},
    )
    sleep = RecordedSleep()
    adapter = world.adapter(homeserver=proxy.base_url, sleep=sleep)
    await adapter.start()
    room_id = await open_room(world, adapter)

    sent = await adapter.send(room_id, Outbound("Containment started."))

    assert len(proxy.answered) == 1
    assert 0.25 in sleep.delays
    bodies = [
        event["content"].get("body")
        for event in await world.analysts[0].recent_events(room_id)
        if event["type"] == "m.room.message"
    ]
    assert bodies == ["Containment started."]
    assert sent.message_id.startswith("$")


@pytest.mark.matrix
async def test_sync_loop_carries_on_after_a_server_error(
    world: MatrixWorld, proxy: TroubleProxy
) -> None:
    adapter = world.adapter(homeserver=proxy.base_url, sync_timeout_ms=200)
    await adapter.start()
    room_id = await open_room(world, adapter)
    alice = world.analysts[0]
    proxy.fail_once(is_sync, 500, {"errcode": "M_UNKNOWN", "error": "Internal server error"})
    for _ in range(100):  # the next long-poll ends within 200 ms
        if proxy.answered:
            break
        await asyncio.sleep(0.05)
    assert [answer.rsplit("/", 1)[-1] for answer in proxy.answered] == ["sync"]

    await alice.say(room_id, "!incident status")

    [status] = await world.inbox.wait_for_actions(alice.user_id, 1)
    assert status.text == "status"
