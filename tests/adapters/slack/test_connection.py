"""The Socket Mode connection watched after it is made: a drop is reported, not only the start."""

from __future__ import annotations

import asyncio
import time

from bot.adapters.slack import SlackAdapter
from bot.supervise import State, Supervisor
from tests.adapters.slack.conftest import APP_TOKEN, BOT_TOKEN, Received
from tests.fixtures.memory import MemoryKeyValue
from tests.fixtures.slack_api import FakeSlack

WAIT_SECONDS = 10.0


async def test_a_dropped_socket_shows_the_platform_reconnecting(
    slack_api: FakeSlack, store: MemoryKeyValue, received: Received
) -> None:
    adapter = SlackAdapter(
        bot_token=BOT_TOKEN,
        store=store,
        on_inbound=received,
        app_token=APP_TOKEN,
        api_base_url=slack_api.base_url,
    )
    supervisor = Supervisor(adapter)
    supervisor.start()
    try:
        await asyncio.wait_for(supervisor.tried.wait(), WAIT_SECONDS)
        assert supervisor.status.state is State.CONNECTED

        await slack_api.close()  # Slack goes away: the socket closes, no new one can be had

        deadline = time.monotonic() + WAIT_SECONDS
        while supervisor.status.state is State.CONNECTED:
            assert time.monotonic() < deadline, "the drop was never reported"
            await asyncio.sleep(0.1)
        assert supervisor.status.state is State.RECONNECTING
        assert supervisor.status.error == "Socket Mode connection lost"
    finally:
        await supervisor.stop()
