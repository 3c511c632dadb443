"""Changes sent at the same moment by several people, through the real adapter and Synapse.

The adapter is wired as `rrt run` wires it: its sync loop hands each event to
`Runtime.enqueue`, which records and queues it without waiting for its handling, so events
arrive while earlier ones are still being decided. None of the changes may be lost.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.adapters.matrix import MatrixAdapter
from bot.bootstrap import Bot, build
from bot.core.clock import FakeClock
from bot.core.tlp import TLP
from bot.port import Outbound, SentMessage
from bot.serve import invite_policy
from config.settings import Settings
from storage.verify_cli import verify_report
from tests.adapters.matrix.conftest import Team
from tests.adapters.matrix.support import RoomWatch, eventually, ok
from tests.adapters.matrix.test_end_to_end import (
    INCIDENT,
    WAIT_SECONDS,
    WAR_ROOM_NAME,
    declare,
    join_when_invited,
)
from tests.fixtures.triage import WORKED_EXAMPLE

pytestmark = pytest.mark.matrix

START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
ANSWERERS = ("bob", "carla", "erik", "jan")  # two answers each, in turn
ANSWERS = dict(list(WORKED_EXAMPLE.items())[:8])


async def start_queueing_bot(team: Team, clock: FakeClock) -> tuple[Bot, MatrixAdapter]:
    """The bot as `bot.serve.matrix_platform` wires it: `on_inbound` is `enqueue`."""
    settings = Settings(
        database_url=team.database_url, reports_dir=team.database.parent / "reports"
    )
    bot = build(settings, clock=clock, roster=team.roster)
    adapter = MatrixAdapter(
        team.connection(),
        bot.store.kv,
        bot.dispatcher.enqueue,
        accept_invite_from=invite_policy(team.roster, []),
    )
    bot.attach(adapter)
    await adapter.start()
    await bot.dispatcher.replay()
    return bot, adapter


async def bring_in(team: Team, war_room: str, people: tuple[str, ...]) -> None:
    for person_id in people:
        member = team.members[person_id]
        ok(await team.alice.client.room_invite(war_room, member.user_id))
        await join_when_invited(member, WAR_ROOM_NAME)


def author_of(question_id: str) -> str:
    return ANSWERERS[list(ANSWERS).index(question_id) % len(ANSWERERS)]


async def everything_handled(bot: Bot) -> bool | None:
    """True once every change is in the snapshot and nothing is left to deliver."""
    incident = bot.store.get(INCIDENT)
    if incident is None or incident.tlp is not TLP.AMBER_STRICT:
        return None
    if set(incident.answers) != set(ANSWERS) or bot.store.pending_effects():
        return None
    return True


async def test_simultaneous_answers_and_a_tlp_change_are_all_kept(l2_team: Team) -> None:
    team = l2_team
    bot, adapter = await start_queueing_bot(team, FakeClock(START))
    try:
        _, war_room = await declare(team)
        watch = RoomWatch(team.alice, war_room, team.bot_user_id, WAIT_SECONDS)
        await watch.question("Q1")
        await bring_in(team, war_room, ANSWERERS)

        await asyncio.gather(
            *(
                team.members[author_of(question_id)].say(
                    war_room, f"!incident answer {question_id} {option}"
                )
                for question_id, option in ANSWERS.items()
            ),
            team.alice.say(war_room, "!incident tlp amber+strict"),
        )
        await eventually(lambda: everything_handled(bot), "every change handled", WAIT_SECONDS)

        incident = bot.store.get(INCIDENT)
        assert incident is not None
        assert {q: (a.option, a.author) for q, a in incident.answers.items()} == {
            q: (option, author_of(q)) for q, option in ANSWERS.items()
        }
        assert incident.tlp is TLP.AMBER_STRICT
        log = [record.event for record in bot.store.log(INCIDENT)]
        answered = [e for e in log if e.kind == "answered"]
        assert sorted((e.data["question"], e.data["option"], e.actor) for e in answered) == sorted(
            (q, option, author_of(q)) for q, option in ANSWERS.items()
        )
        assert all(e.data["previous"] is None for e in answered)
        [tlp_changed] = [e for e in log if e.kind == "tlp_changed"]
        assert (tlp_changed.actor, tlp_changed.data["from_tlp"], tlp_changed.data["to_tlp"]) == (
            "alice",
            "TLP:AMBER",
            "TLP:AMBER+STRICT",
        )
        intact, report = verify_report(team.database_url)
        assert intact, report

        said = [m["content"]["body"] for m in await watch.messages()]
        for question_id, option in ANSWERS.items():
            name = team.roster.person(author_of(question_id))
            assert name is not None
            ack = f"{question_id} → {option} (answered by {name.name})."
            assert said.count(ack) == 1, (ack, said)
        raised = "TLP raised from TLP:AMBER to TLP:AMBER+STRICT by Alice Martin."
        assert sum(body.startswith(raised) for body in said) == 1, said
    finally:
        await adapter.stop()
        bot.close()


class SlowRoom:
    """The adapter, except that a message to `room_id` waits until `release` is set: a war
    room whose homeserver answers slowly."""

    def __init__(self, adapter: MatrixAdapter) -> None:
        self._adapter = adapter
        self.room_id: str | None = None
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._adapter, name)

    async def send(self, room_id: str, message: Outbound) -> SentMessage:
        if room_id == self.room_id:
            self.holding.set()
            await self.release.wait()
        return await self._adapter.send(room_id, message)


async def test_a_slow_incident_does_not_hold_up_another(team: Team) -> None:
    bot = build(
        Settings(database_url=team.database_url, reports_dir=team.database.parent / "reports"),
        clock=FakeClock(START),
        roster=team.roster,
    )
    adapter = MatrixAdapter(
        team.connection(),
        bot.adapter_state,
        bot.dispatcher.enqueue,
        accept_invite_from=invite_policy(team.roster, []),
    )
    slow = SlowRoom(adapter)
    bot.attach(slow)  # type: ignore[arg-type]  # a ChatPlatform by delegation
    await adapter.start()
    try:
        lobby, first = await declare(team)
        await team.alice.say(lobby, "!incident declare Phishing wave")
        second = await join_when_invited(team.alice, "INC-2026-0002 · Phishing wave")
        watches = [
            RoomWatch(team.alice, room, team.bot_user_id, WAIT_SECONDS) for room in (first, second)
        ]
        for watch in watches:
            await watch.question("Q1")

        slow.room_id = first
        await team.alice.say(first, "!incident note first")
        async with asyncio.timeout(WAIT_SECONDS):
            await slow.holding.wait()
        await team.alice.say(second, "!incident note second")
        await watches[1].message_with("Noted in INC-2026-0002.")
        assert not [m for m in await watches[0].messages() if "Noted in" in m["content"]["body"]]

        slow.release.set()
        await watches[0].message_with("Noted in INC-2026-0001.")
    finally:
        slow.release.set()
        await adapter.stop()
        bot.close()
