"""An incident goes on when the homeserver or the bot stops half-way through triage."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bot.core.clock import FakeClock, SystemClock
from bot.core.option_keys import KEYCAPS
from storage.sql_store import open_store
from storage.verify_cli import verify_report
from tests.adapters.matrix.conftest import Team
from tests.adapters.matrix.support import RoomWatch, option_number
from tests.adapters.matrix.test_end_to_end import (
    WAIT_SECONDS,
    analysts_join,
    answer,
    answer_all,
    assert_recorded_whole_incident,
    declare,
    finish,
)
from tests.fixtures.replicas import BotProcess
from tests.fixtures.synapse import SynapseServer

START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
# Answers sent while the bot is down: (who, question, how). Q2 was asked before it stopped.
WHILE_DOWN = [("carla", "Q2", "keycap"), ("bob", "Q3", "command"), ("carla", "Q4", "command")]
ANSWERS = {"Q1": "malicious-code", "Q2": "declared", "Q3": "essential", "Q4": "denial"}
NAMES = {"bob": "Bob Peeters", "carla": "Carla Dubois"}


async def test_the_incident_completes_across_a_homeserver_restart(
    team: Team, synapse: SynapseServer
) -> None:
    clock = FakeClock(START)
    bot, adapter = await team.start_bot(clock)
    try:
        _, war_room = await declare(team)
        await analysts_join(team, war_room)
        watch = RoomWatch(team.alice, war_room, team.bot_user_id, WAIT_SECONDS)
        await answer_all(team, watch, clock, stop=2)
        # Off the event loop, so the bot keeps running (and failing to sync) meanwhile.
        await asyncio.to_thread(synapse.restart)
        await answer_all(team, watch, clock, first=2)
        await finish(team, bot, watch, clock)
        assert_recorded_whole_incident(bot, team)
    finally:
        await adapter.stop()
        bot.close()


async def answer_while_down(team: Team, watch: RoomWatch) -> None:
    question_2 = await watch.question("Q2")
    for who, question_id, how in WHILE_DOWN:
        member = team.members[who]
        number = option_number(question_id, ANSWERS[question_id])
        if how == "keycap":
            await member.react(watch.room_id, question_2["event_id"], KEYCAPS[number - 1])
        else:
            await member.say(watch.room_id, f"!incident answer {question_id} {number}")


async def assert_each_answer_acknowledged_once(watch: RoomWatch) -> None:
    for question_id in ("Q2", "Q3", "Q4", "Q5"):
        await watch.question(question_id)  # asked, or re-asked, after the restart
    said = [m["content"]["body"] for m in await watch.messages()]
    for who, question_id, _ in WHILE_DOWN:
        ack = f"{question_id} → {ANSWERS[question_id]} (answered by {NAMES[who]})."
        assert said.count(ack) == 1, (ack, said)


def answered(team: Team) -> list[tuple[str, str]]:
    store = open_store(team.database_url, SystemClock())
    try:
        return [
            (r.event.data["question"], r.event.actor)
            for r in store.log("INC-2026-0001")
            if r.event.kind == "answered"
        ]
    finally:
        store.close()


EXPECTED_ANSWERS = [("Q1", "bob"), ("Q2", "carla"), ("Q3", "bob"), ("Q4", "carla"), ("Q5", "bob")]


async def test_answers_sent_while_the_bot_is_stopped_are_each_handled_once(team: Team) -> None:
    clock = FakeClock(START)
    bot, adapter = await team.start_bot(clock)
    try:
        _, war_room = await declare(team)
        await analysts_join(team, war_room)
        watch = RoomWatch(team.alice, war_room, team.bot_user_id, WAIT_SECONDS)
        await answer(team.bob, watch, "Q1", ANSWERS["Q1"], NAMES["bob"])
        await watch.question("Q2")
    finally:
        await adapter.stop()
        bot.close()

    await answer_while_down(team, watch)
    bot, adapter = await team.start_bot(clock)  # same database, so the same device and token
    try:
        await assert_each_answer_acknowledged_once(watch)
        await answer(team.bob, watch, "Q5", "critical-data", NAMES["bob"])
    finally:
        await adapter.stop()
        bot.close()
    assert answered(team) == EXPECTED_ANSWERS
    intact, report = verify_report(team.database_url)
    assert intact, report


# ---- the bot as `rrt run`, killed without warning


def environment(team: Team, roster_file: Path) -> dict[str, str]:
    return {
        **os.environ,
        "RRT_DATABASE_URL": team.database_url,
        "RRT_ROSTER_FILE": str(roster_file),
        "RRT_REPORTS_DIR": str(team.database.parent / "reports"),
        "RRT_MATRIX__HOMESERVER": team.synapse.base_url,
        "RRT_MATRIX__USER_ID": team.bot_user_id,
        "RRT_MATRIX__ACCESS_TOKEN": team.bot_token,
        "RRT_MATRIX__STORE_DIR": str(team.store_dir),
    }


@pytest.fixture
async def bot_process(team: Team, tmp_path: Path) -> AsyncIterator[BotProcess]:
    roster_file = tmp_path / "roster.yaml"
    roster_file.write_text(
        yaml.safe_dump(team.roster.model_dump(mode="json", exclude_none=True), allow_unicode=True)
    )
    # `rrt run`, its output kept in a log file beside the database.
    process = BotProcess(environment(team, roster_file), team.database.parent / "bot.log")
    yield process
    if process.running:
        await process.stop(signal.SIGKILL)


async def test_a_killed_bot_process_handles_what_was_said_meanwhile_exactly_once(
    team: Team, bot_process: BotProcess
) -> None:
    await bot_process.start()
    _, war_room = await declare(team)
    await analysts_join(team, war_room)
    watch = RoomWatch(team.alice, war_room, team.bot_user_id, WAIT_SECONDS)
    await answer(team.bob, watch, "Q1", ANSWERS["Q1"], NAMES["bob"])
    await watch.question("Q2")
    assert await bot_process.stop(signal.SIGKILL) == -signal.SIGKILL

    await answer_while_down(team, watch)
    await bot_process.start()
    await assert_each_answer_acknowledged_once(watch)
    await answer(team.bob, watch, "Q5", "critical-data", NAMES["bob"])
    assert await bot_process.stop(signal.SIGTERM) == 0, bot_process.output()

    assert answered(team) == EXPECTED_ANSWERS
    intact, report = verify_report(team.database_url)
    assert intact, report
