"""Slack adapter fixtures: an in-memory KeyValue, an inbound recorder, adapters on the fake API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.adapters.slack import RateLimiter, SlackAdapter
from bot.adapters.slack.platform import SlackPlatform
from bot.adapters.slack.web import SlackWeb, web_client
from bot.port import Inbound
from tests.adapters.slack.payloads import SIGNING_SECRET
from tests.fixtures.memory import MemoryKeyValue
from tests.fixtures.slack_api import FakeSlack, running_fake_slack

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-1-test-token"
WAIT_SECONDS = 5.0  # only a failing test ever waits this long


class Received:
    """The inbound handler under test: records what arrives; `gate` can hold it up and
    event ids in `failing` make it raise, as a buggy handler would."""

    def __init__(self) -> None:
        self.items: list[Inbound] = []
        self.gate: asyncio.Event | None = None
        self.failing: set[str] = set()
        self._arrived = asyncio.Event()

    async def __call__(self, inbound: Inbound) -> None:
        self.items.append(inbound)
        self._arrived.set()
        if inbound.event_id in self.failing:
            raise RuntimeError("handler bug")
        if self.gate is not None:
            await self.gate.wait()

    async def wait_for(self, count: int = 1) -> list[Inbound]:
        async with asyncio.timeout(WAIT_SECONDS):
            while len(self.items) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.items


@pytest_asyncio.fixture
async def slack_api() -> AsyncIterator[FakeSlack]:
    # The plugin's fixture, declared here: pytest takes `pytest_plugins` only in the top conftest.
    async with running_fake_slack() as fake:
        yield fake


@pytest.fixture
def store() -> MemoryKeyValue:
    return MemoryKeyValue()


@pytest.fixture
def received() -> Received:
    return Received()


@pytest.fixture
def platform(slack_api: FakeSlack, store: MemoryKeyValue) -> SlackPlatform:
    web = SlackWeb(web_client(BOT_TOKEN, slack_api.base_url), RateLimiter({}))
    return SlackPlatform(web, store)


@pytest_asyncio.fixture
async def http_app(
    slack_api: FakeSlack, store: MemoryKeyValue, received: Received
) -> AsyncIterator[SlackAdapter]:
    adapter = SlackAdapter(
        bot_token=BOT_TOKEN,
        store=store,
        on_inbound=received,
        mode="http",
        signing_secret=SIGNING_SECRET,
        host="127.0.0.1",
        port=0,
        api_base_url=slack_api.base_url,
    )
    await adapter.start()
    yield adapter
    if received.gate is not None:
        received.gate.set()
    await adapter.stop()


@pytest_asyncio.fixture
async def socket_app(
    slack_api: FakeSlack, store: MemoryKeyValue, received: Received
) -> AsyncIterator[SlackAdapter]:
    adapter = SlackAdapter(
        bot_token=BOT_TOKEN,
        store=store,
        on_inbound=received,
        app_token=APP_TOKEN,
        api_base_url=slack_api.base_url,
    )
    await adapter.start()
    yield adapter
    await adapter.stop()
