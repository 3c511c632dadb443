"""A whole incident through the real bot and the real Matrix adapter, against a real Synapse.

People act with their own Matrix clients; every wait is for something to appear on the
homeserver or in the store, bounded by a timeout.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from bot.adapters.matrix.keycaps import KEYCAPS
from bot.bootstrap import Bot
from bot.core.clock import FakeClock
from bot.core.lifecycle import State
from storage.verify_cli import verify_report
from tests.adapters.matrix.conftest import Team
from tests.adapters.matrix.support import (
    Analyst,
    RoomWatch,
    eventually,
    ok,
    option_number,
)
from tests.fixtures.triage import WORKED_EXAMPLE

START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
WAIT_SECONDS = 20.0  # only a failing test waits this long
TITLE = "Ransomware at hospital"
WAR_ROOM_NAME = f"INC-2026-0001 · {TITLE}"
ANSWERED_BY_COMMAND = "Q3"
ANSWERED_BY_REACTION = "Q4"
# Log kinds of the incident's course; paging records come between them.
MILESTONES = {"declared", "war_room_opened", "state_changed", "level_proposed", "level_confirmed"}


async def lobby_with_bot(team: Team) -> str:
    """A room of the coordinator's, once the bot has taken up the invite to it."""
    alice = team.alice
    lobby = await alice.open_room(team.bot_user_id)

    async def bot_joined() -> bool | None:
        response = ok(await alice.client.joined_members(lobby))
        return True if any(m.user_id == team.bot_user_id for m in response.members) else None

    await eventually(bot_joined, "the bot to join the lobby", WAIT_SECONDS)
    return lobby


async def join_when_invited(member: Analyst, room_name: str) -> str:
    room_id = await eventually(
        lambda: member.invited_room_named(room_name), f"an invite to {room_name!r}", WAIT_SECONDS
    )
    await member.join(room_id)
    return room_id


async def declare(team: Team) -> tuple[str, str]:
    """(lobby, war room): the coordinator declares, then joins the war room she is invited to."""
    lobby = await lobby_with_bot(team)
    await team.alice.say(lobby, f"!incident declare {TITLE}")
    return lobby, await join_when_invited(team.alice, WAR_ROOM_NAME)


async def accept_page(team: Team, member: Analyst, how: str) -> None:
    """The paged member answers the page's direct message, then joins the war room."""
    direct = await join_when_invited(member, "")  # unnamed: the first room they are invited to
    page = await RoomWatch(member, direct, team.bot_user_id, WAIT_SECONDS).message_with("Accept")
    if how == "reaction":
        await member.react(direct, page["event_id"], "✅")
    else:
        await member.reply(direct, page["event_id"], "1")
    await join_when_invited(member, WAR_ROOM_NAME)


async def answer(
    member: Analyst, watch: RoomWatch, question_id: str, option: str, name: str
) -> None:
    asked = await watch.question(question_id)
    number = option_number(question_id, option)
    if question_id == ANSWERED_BY_COMMAND:
        await member.say(watch.room_id, f"!incident answer {question_id} {number}")
    elif question_id == ANSWERED_BY_REACTION:
        await member.react(watch.room_id, asked["event_id"], KEYCAPS[number - 1])
    else:
        await member.reply(watch.room_id, asked["event_id"], str(number))
    await watch.message_with(f"{question_id} → {option} (answered by {name}).")


async def answer_all(
    team: Team, watch: RoomWatch, clock: FakeClock, first: int = 0, stop: int | None = None
) -> None:
    """The analysts answer the worked example's questions `first` to `stop`, taking turns."""
    for n, (question_id, option) in enumerate(list(WORKED_EXAMPLE.items())[first:stop], first):
        clock.advance(timedelta(minutes=1))
        if n % 2:
            await answer(team.bob, watch, question_id, option, "Bob Peeters")
        else:
            await answer(team.carla, watch, question_id, option, "Carla Dubois")


async def state_of(bot: Bot, wanted: State) -> bool | None:
    incident = bot.store.get("INC-2026-0001")
    return True if incident is not None and incident.state is wanted else None


async def finish(team: Team, bot: Bot, watch: RoomWatch, clock: FakeClock) -> None:
    """The coordinator confirms the proposed level and takes the incident to closing."""
    alice = team.alice
    await watch.message_with("Proposed level L2: Score 63.1 (High) → L2, because S >= 55.")
    await alice.say(watch.room_id, "!incident confirm")
    await watch.message_with("Level L2 confirmed by Alice Martin.")
    for command, state in (
        ("contain", State.CONTAINED),
        ("resolve", State.RESOLVED),
        ("close", State.CLOSED),
    ):
        clock.advance(timedelta(hours=1))
        await alice.say(watch.room_id, f"!incident {command}")
        await eventually(partial(state_of, bot, state), f"the incident {state}", WAIT_SECONDS)
    await watch.message_with("INC-2026-0001 closed by Alice Martin.")


def assert_recorded_whole_incident(bot: Bot, team: Team) -> None:
    incident = bot.store.get("INC-2026-0001")
    assert incident is not None
    assert incident.state is State.CLOSED
    assert {q: a.option for q, a in incident.answers.items()} == WORKED_EXAMPLE
    records = [(r.event.kind, r.event.actor) for r in bot.store.log("INC-2026-0001")]
    answered = [(kind, actor) for kind, actor in records if kind == "answered"]
    assert answered == [("answered", "bob" if n % 2 else "carla") for n in range(17)]
    milestones = [pair for pair in records if pair[0] in MILESTONES]
    assert milestones == [
        ("declared", "alice"),
        ("war_room_opened", "alice"),
        ("state_changed", "alice"),
        ("level_proposed", "bob"),  # Q14c completes the answers the level rules need
        ("level_confirmed", "alice"),
        *[("state_changed", "alice")] * 4,
    ]
    intact, report = verify_report(team.database_url)
    assert intact, report


def pages(bot: Bot) -> list[tuple[Any, Any]]:
    return [
        (r.event.data["person"], r.event.data["role"])
        for r in bot.store.log("INC-2026-0001")
        if r.event.kind == "paged"
    ]


async def test_a_whole_incident_on_a_real_homeserver(team: Team) -> None:
    clock = FakeClock(START)
    bot, adapter = await team.start_bot(clock)
    try:
        lobby, war_room = await declare(team)
        alice = team.alice
        watch = RoomWatch(alice, war_room, team.bot_user_id, WAIT_SECONDS)
        headline = await watch.message_with("🚨 INC-2026-0001 · Ransomware at hospital")
        first_question = await watch.question("Q1")
        assert "Triage 1/17 · Q1" in first_question["content"]["body"]
        assert "1️⃣" in first_question["content"]["body"]
        assert "Reply with a number or react with it." in first_question["content"]["body"]
        assert (await alice.state(war_room, "m.room.name"))["name"] == WAR_ROOM_NAME
        assert (await alice.state(war_room, "m.room.topic"))["topic"].startswith("TLP:AMBER")
        pinned = await alice.state(war_room, "m.room.pinned_events")
        assert pinned["pinned"] == [headline["event_id"]]
        lobby_watch = RoomWatch(alice, lobby, team.bot_user_id, WAIT_SECONDS)
        await lobby_watch.message_with(f"Declared INC-2026-0001. War room: {WAR_ROOM_NAME}")
        assert ("alice", "coordinator") in pages(bot)

        await alice.say(war_room, "!incident page Bob as analyst")
        await accept_page(team, team.bob, how="reaction")
        await alice.say(war_room, "!incident page Carla as analyst")
        await accept_page(team, team.carla, how="reply")
        await watch.message_with("Carla Dubois accepted analyst.")

        await answer_all(team, watch, clock)
        await finish(team, bot, watch, clock)
        assert_recorded_whole_incident(bot, team)
        incident = bot.store.get("INC-2026-0001")
        assert incident is not None
        assert incident.answers[ANSWERED_BY_COMMAND].author == "carla"
        assert incident.answers[ANSWERED_BY_REACTION].author == "bob"
    finally:
        await adapter.stop()
        bot.close()
