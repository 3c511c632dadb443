"""`rrt run`'s Slack wiring: the adapter built from settings serves signed requests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from bot.bootstrap import build
from bot.core.clock import FakeClock
from bot.serve import slack_platform
from config.settings import SlackSettings
from tests.adapters.slack.payloads import form, signed_headers, slash_command
from tests.fixtures.ports import free_port
from tests.fixtures.roster import small_roster
from tests.fixtures.settings import settings_in
from tests.fixtures.slack_api import FakeSlack

SIGNING_SECRET = "serve0signing0secret000000000000"


async def test_the_adapter_from_settings_declares_over_signed_http(
    tmp_path: Path, slack_api: FakeSlack
) -> None:
    port = free_port()
    slack = SlackSettings(
        bot_token=SecretStr("xoxb-serve"),
        signing_secret=SecretStr(SIGNING_SECRET),
        mode="http",
        http_host="127.0.0.1",
        http_port=port,
        api_url=slack_api.base_url,
    )
    bot = build(
        settings_in(tmp_path, slack=slack),
        clock=FakeClock(datetime(2026, 11, 30, 8, 0, tzinfo=UTC)),
        roster=small_roster(),
    )
    adapter = slack_platform(bot.settings.slack, bot)
    bot.attach(adapter)
    await adapter.start()
    try:
        assert adapter.http_port == port
        body = form({**slash_command("declare Ransomware at hospital"), "user_id": "UALICE"})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        headers.update(signed_headers(body, SIGNING_SECRET))
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers
            ) as ack,
        ):
            assert ack.status == 200
        (create,) = await slack_api.wait_for_calls("conversations.create")
        assert create.params["name"] == "inc-2026-0001-ransomware-at-hospital"
        assert create.headers["Authorization"] == "Bearer xoxb-serve"
        await adapter.stop()  # lets the declaration finish
        assert [incident.id for incident in bot.store.open_incidents()] == ["INC-2026-0001"]
    finally:
        await adapter.stop()
        bot.close()


async def test_socket_mode_fails_its_start_when_slack_is_out_of_reach(tmp_path: Path) -> None:
    """`rrt run` retries a failed start itself, with back-off: the start must fail, not loop."""
    slack = SlackSettings(
        bot_token=SecretStr("xoxb-serve"),
        app_token=SecretStr("xapp-serve"),
        api_url=f"http://127.0.0.1:{free_port()}/api/",  # nothing listens: refused
    )
    bot = build(settings_in(tmp_path, slack=slack), roster=small_roster())
    adapter = slack_platform(bot.settings.slack, bot)
    try:
        with pytest.raises(aiohttp.ClientConnectionError):
            await asyncio.wait_for(adapter.start(), 10)
    finally:
        await adapter.stop()
        bot.close()
