"""Platforms under supervision: what is decided for a platform not connected waits for it,
uncounted, and goes out in order when it connects; the other platforms are not held up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest_asyncio

from bot.adapters.console import ConsolePlatform
from bot.adapters.slack import SlackAdapter
from bot.adapters.slack.limits import RateLimiter
from bot.bootstrap import Bot, build
from bot.metrics import Metrics
from bot.serve import supervised
from bot.supervise import Report, State, Supervisor
from tests.adapters.slack.payloads import slash_command
from tests.fixtures.roster import small_roster
from tests.fixtures.settings import settings_in
from tests.fixtures.slack_api import FakeSlack, running_fake_slack

WAIT_SECONDS = 10.0


class Late:
    """Starts the console only when `connect` is set, as a platform still logging in; once
    connected, `report` tells of drops as Slack and Matrix do."""

    def __init__(self) -> None:
        self.connect = asyncio.Event()
        self.report: Report = lambda up, why: None

    def watch_connection(self, report: Report) -> None:
        self.report = report

    @property
    def name(self) -> str:
        return "console"

    async def start(self) -> None:
        await self.connect.wait()

    async def stop(self) -> None:
        pass


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never {what}")
        await asyncio.sleep(0.02)


def outcomes(metrics: Metrics, outcome: str) -> float:
    return sum(
        sample.value
        for metric in metrics.effects.collect()
        for sample in metric.samples
        if sample.name == "rrt_effects_total" and sample.labels["outcome"] == outcome
    )


class Running:
    def __init__(self, bot: Bot, slack: FakeSlack, late: Late, supervisors: list[Supervisor]):
        self.bot = bot
        self.slack = slack
        self.late = late
        self.supervisors = supervisors

    @property
    def console(self) -> ConsolePlatform:
        platform = self.bot.platform("console")
        assert isinstance(platform, ConsolePlatform)
        return platform

    def state(self, name: str) -> State:
        return next(s.status.state for s in self.supervisors if s.name == name)


@pytest_asyncio.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[Running, Metrics]]:
    bot = build(settings_in(tmp_path), roster=small_roster())
    metrics = Metrics()
    bot.dispatcher.observe(metrics)
    async with running_fake_slack() as slack:
        adapter = SlackAdapter(
            bot_token="xoxb-serve",
            store=bot.adapter_state,
            on_inbound=bot.dispatcher,
            app_token="xapp-serve",
            api_base_url=slack.base_url,
            limiter=RateLimiter({}),
        )
        bot.attach(ConsolePlatform(on_inbound=bot.dispatcher))
        bot.attach(adapter)
        late = Late()
        supervisors = supervised(bot, [adapter, late], metrics)
        for supervisor in supervisors:
            supervisor.start()
        try:
            yield Running(bot, slack, late, supervisors), metrics
        finally:
            await asyncio.gather(*(supervisor.stop() for supervisor in supervisors))
            await bot.dispatcher.settle(2.0)
            bot.close()


async def test_effects_wait_for_a_platform_still_connecting_while_others_go_out(
    running: tuple[Running, Metrics],
) -> None:
    run, metrics = running
    await until(lambda: run.state("slack") is State.CONNECTED, "connected Slack")
    await run.bot.start()
    console = run.console

    await console.say("alice", console.lobby, "declare Ransomware at AZ Noord")

    waiting = run.bot.store.pending_effects()
    assert waiting, "the declaration's effects wait for the console"
    assert {effect.platform for effect in waiting} == {"console"}
    assert [effect.attempts for effect in waiting] == [0] * len(waiting)
    assert not [room for room in console.rooms.values() if room.name.startswith("inc-")]

    # Slack is not held up meanwhile.
    envelope = await run.slack.push("slash_commands", {**slash_command("help"), "user_id": "UBOB"})
    await run.slack.ack_for(envelope)
    await run.slack.wait_until(
        lambda: bool(
            run.slack.calls_to("chat.postEphemeral") or run.slack.calls_to("chat.postMessage")
        )
    )
    await until(lambda: run.bot.store.pending_effects() == waiting, "answered on Slack")

    run.late.connect.set()
    await until(lambda: not run.bot.store.pending_effects(), "delivered what waited")

    (war_room,) = [room for room in console.rooms.values() if room.name.startswith("inc-")]
    assert console.last(console.lobby).text == (
        f"Declared INC-{datetime.now(UTC).year}-0001 (TLP:AMBER); you are invited to its war room."
    )
    assert console.last(war_room.id).text  # the headline, posted in the room made first
    assert outcomes(metrics, "failed") == 0
    assert outcomes(metrics, "delivered") >= len(waiting)


async def test_a_platform_that_drops_holds_its_effects_until_it_is_back(
    running: tuple[Running, Metrics],
) -> None:
    run, metrics = running
    run.late.connect.set()
    await until(lambda: run.state("console") is State.CONNECTED, "connected the console")
    await run.bot.start()
    console = run.console

    run.late.report(False, "connection lost")
    await console.say("alice", console.lobby, "declare Phishing wave")
    assert run.bot.store.pending_effects()
    assert run.state("console") is State.RECONNECTING

    run.late.report(True, None)
    await until(lambda: not run.bot.store.pending_effects(), "delivered what waited")
    assert outcomes(metrics, "failed") == 0
