"""A whole incident through the real bot and the real Matrix adapter, against a real Synapse.

People act with their own Matrix clients; every wait is for something to appear on the
homeserver or in the store, bounded by a timeout.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from bot.bootstrap import Bot
from bot.core.clock import FakeClock
from bot.core.lifecycle import State
from bot.core.option_keys import KEYCAPS
from storage.verify_cli import verify_report
from tests.adapters.matrix.conftest import Team
from tests.adapters.matrix.support import (
    Analyst,
    RoomWatch,
    eventually,
    ok,
    option_number,
)
from tests.fixtures.triage import WORKED_EXAMPLE, assert_worked_example_course

START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
WAIT_SECONDS = 20.0  # only a failing test waits this long
TITLE = "Ransomware at hospital"
WAR_ROOM_NAME = f"INC-2026-0001 · {TITLE}"
ANSWERED_BY_COMMAND = "Q3"
ANSWERED_BY_REACTION = "Q4"


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


async def confirm(team: Team, watch: RoomWatch) -> None:
    await watch.message_with("Proposed level L2: Score 63.1 (High) → L2, because S >= 55.")
    await team.alice.say(watch.room_id, "!incident confirm")
    await watch.message_with("Level L2 confirmed by Alice Martin.")


async def wind_down(team: Team, bot: Bot, watch: RoomWatch, clock: FakeClock) -> None:
    """The coordinator takes the confirmed incident through containment to closing."""
    for command, state in (
        ("contain", State.CONTAINED),
        ("resolve", State.RESOLVED),
        ("close confirm", State.CLOSED),  # the worked example's NIS2 and GDPR are unfiled
    ):
        clock.advance(timedelta(hours=1))
        await team.alice.say(watch.room_id, f"!incident {command}")
        await eventually(partial(state_of, bot, state), f"the incident {state}", WAIT_SECONDS)
    await watch.message_with("INC-2026-0001 closed by Alice Martin.")


async def finish(team: Team, bot: Bot, watch: RoomWatch, clock: FakeClock) -> None:
    """The coordinator confirms the proposed level and takes the incident to closing."""
    await confirm(team, watch)
    await wind_down(team, bot, watch, clock)


def assert_recorded_whole_incident(bot: Bot, team: Team) -> None:
    incident = bot.store.get("INC-2026-0001")
    assert incident is not None
    assert incident.state is State.CLOSED
    assert {q: a.option for q, a in incident.answers.items()} == WORKED_EXAMPLE
    assert_worked_example_course(bot.store.log("INC-2026-0001"))
    intact, report = verify_report(team.database_url)
    assert intact, report


INCIDENT = "INC-2026-0001"
# Who is paged, one role after the other, and how each answers: Bob declines analyst, so the
# role's backup Erik is paged. By turns people answer with a reaction or a numbered reply.
COORDINATOR_ANSWERS = [("alice", "coordinator", True)]
L2_TEAM_ANSWERS = [
    ("bob", "analyst", False),
    ("carla", "analyst", True),
    ("erik", "analyst", True),
    ("jan", "forensics", True),
    ("fien", "scribe", True),
    ("gert", "sector_liaison", True),
    ("ines", "comms", True),
]
DECLINES = {("bob", "analyst")}
CHECKIN = "C: wards isolated, backups intact. A: restoring the EPR servers. N: none."
COURSE = {"page_accepted", "page_declined", "checkin_requested", "checkin", "report_written"}


def open_pages(bot: Bot) -> list[tuple[str, str]]:
    """(person, role) of the pages still waiting for an answer, role by role."""
    incident = bot.store.get(INCIDENT)
    assert incident is not None
    team = incident.team
    return [(page.person_id, s.role) for s in team.roles for page in s.pending] if team else []


async def answer_page(team: Team, person_id: str, role: str, accepts: bool, how: str) -> None:
    """The paged person answers the page's direct message: by reaction or by numbered reply."""
    member = team.members[person_id]
    direct = await join_when_invited(member, "")  # unnamed: their direct chat with the bot
    watch = RoomWatch(member, direct, team.bot_user_id, WAIT_SECONDS)
    page = await watch.message_with(f"📟 You are paged as {role} for {INCIDENT}")
    assert "1️⃣ Accept\n2️⃣ Decline" in page["content"]["body"]
    if how == "reaction":
        await member.react(direct, page["event_id"], "✅" if accepts else "❌")
    else:
        await member.reply(direct, page["event_id"], "1" if accepts else "2")
    if not accepts:
        await watch.message_with(f"Declined. We will page someone else for {role}.")


async def answer_pages(team: Team, bot: Bot, war_room: RoomWatch) -> list[tuple[str, str, bool]]:
    """Each paged person answers until nobody is waiting; returns the answers in turn.

    Whoever accepts and is not yet in the war room joins it once invited.
    """
    await eventually(lambda: _some(open_pages(bot)), "pages to be sent", WAIT_SECONDS)
    members = await team.alice.client.joined_members(war_room.room_id)
    inside = {member.user_id for member in ok(members).members}
    answered = []
    while pending := open_pages(bot):
        person_id, role = pending[0]
        accepts = (person_id, role) not in DECLINES
        how = "reply" if len(answered) % 2 else "reaction"
        await answer_page(team, person_id, role, accepts, how)
        name = team.roster.person(person_id)
        assert name is not None
        verb = "accepted" if accepts else "declined"
        await war_room.message_with(f"{name.name} {verb} {role}.")
        member = team.members[person_id]
        if accepts and member.user_id not in inside:
            await join_when_invited(member, WAR_ROOM_NAME)
            inside.add(member.user_id)
        answered.append((person_id, role, accepts))
    return answered


async def _some(found: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
    return found or None


async def analysts_join(team: Team, war_room: str) -> None:
    """The coordinator (a moderator of the war room) brings the analysts in for triage."""
    for member in (team.bob, team.carla):
        ok(await team.alice.client.room_invite(war_room, member.user_id))
        await join_when_invited(member, WAR_ROOM_NAME)


async def check_in(team: Team, bot: Bot, watch: RoomWatch, clock: FakeClock) -> None:
    """Two hours into response the bot asks the coordinator for her update, and she gives it."""
    clock.advance(timedelta(hours=2))  # L2: a check-in every 2 h from the start of response
    fired = await bot.scheduler.fire_due()
    assert [timer.kind for timer in fired] == ["checkin"]
    asked = await watch.message_with("🕑 Check-in due, Alice Martin:")
    assert "by 2026-11-30 10:47 UTC." in asked["content"]["body"]
    await team.alice.say(watch.room_id, f"!incident update {CHECKIN}")
    await watch.message_with("Check-in recorded. Next one due 2026-11-30 12:17 UTC.")


async def report_files(watch: RoomWatch) -> dict[str, dict[str, Any]]:
    """The files the bot posted in the war room, by file name."""
    return {
        event["content"]["filename"]: event
        for event in await watch.messages()
        if event["content"].get("msgtype") == "m.file"
    }


async def assert_report_posted(team: Team, watch: RoomWatch) -> None:
    files = await report_files(watch)
    assert sorted(files) == [f"{INCIDENT}-report.html", f"{INCIDENT}-report.md"]
    for event in files.values():
        assert event["content"]["body"] == f"Incident report {INCIDENT} (TLP:AMBER)"
    markdown = files[f"{INCIDENT}-report.md"]["content"]
    assert markdown["info"]["mimetype"] == "text/markdown"
    downloaded = ok(await team.bob.client.download(markdown["url"])).body
    text = downloaded.decode()
    assert "TLP:AMBER" in text
    assert INCIDENT in text
    assert CHECKIN in text
    closing = await watch.message_with(f"{INCIDENT} closed by Alice Martin.")
    assert "The report is posted above." in closing["content"]["body"]
    posted = [e["event_id"] for e in await watch.messages()]
    assert posted.index(closing["event_id"]) > max(
        posted.index(e["event_id"]) for e in files.values()
    )


def assert_recorded_course(bot: Bot) -> None:
    records = [r.event for r in bot.store.log(INCIDENT) if r.event.kind in COURSE]
    answers = [
        (e.actor, e.data["role"], e.kind == "page_accepted")
        for e in records
        if e.kind in ("page_accepted", "page_declined")
    ]
    assert answers == COORDINATOR_ANSWERS + L2_TEAM_ANSWERS
    rest = [(e.kind, e.actor) for e in records if not e.kind.startswith("page_")]
    assert rest == [("checkin_requested", "bot"), ("checkin", "alice"), ("report_written", "bot")]
    checkin, written = (e for e in records if e.kind in ("checkin", "report_written"))
    assert checkin.data == {"text": CHECKIN, "team_member": True}
    assert written.data["posted_in"] == ["matrix"]
    paged = [r.event.data["person"] for r in bot.store.log(INCIDENT) if r.event.kind == "paged"]
    assert paged == [person for person, _, _ in COORDINATOR_ANSWERS + L2_TEAM_ANSWERS]


async def test_a_whole_incident_with_its_team_a_check_in_and_the_report(l2_team: Team) -> None:
    team = l2_team
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
        await lobby_watch.message_with(
            "Declared INC-2026-0001 (TLP:AMBER); you are invited to its war room."
        )
        assert await answer_pages(team, bot, watch) == COORDINATOR_ANSWERS

        await analysts_join(team, war_room)
        await answer_all(team, watch, clock)
        team_line = await watch.message_with("Team for L2, and why:")
        assert "• police_liaison: nobody available for 1" in team_line["content"]["body"]
        assert await answer_pages(team, bot, watch) == L2_TEAM_ANSWERS

        await confirm(team, watch)
        await check_in(team, bot, watch, clock)
        await wind_down(team, bot, watch, clock)
        await assert_report_posted(team, watch)
        assert_recorded_whole_incident(bot, team)
        assert_recorded_course(bot)
        incident = bot.store.get(INCIDENT)
        assert incident is not None
        assert incident.answers[ANSWERED_BY_COMMAND].author == "carla"
        assert incident.answers[ANSWERED_BY_REACTION].author == "bob"
    finally:
        await adapter.stop()
        bot.close()


async def test_a_declaration_posts_its_headline_once_and_reads_no_pins(team: Team) -> None:
    requests: list[str] = []
    bot, adapter = await team.start_bot(FakeClock(START), on_request=requests.append)
    try:
        lobby = await lobby_with_bot(team)
        requests.clear()
        await team.alice.say(lobby, f"!incident declare {TITLE}")
        war_room = await join_when_invited(team.alice, WAR_ROOM_NAME)
        watch = RoomWatch(team.alice, war_room, team.bot_user_id, WAIT_SECONDS)
        await watch.question("Q1")
        await eventually(
            lambda: _true(not bot.store.pending_effects()), "every effect delivered", WAIT_SECONDS
        )

        made = Counter(what for what in requests if what != "sync")
        # The page opens the coordinator's direct room; the room version is asked once.
        assert made == {
            "capabilities": 1,
            "create room": 1,
            "send m.room.message": 4,  # headline, reply in the lobby, page, question
            "set m.room.pinned_events": 1,
            "create direct room": 1,
        }
        events = await team.alice.recent_events(war_room, limit=50)
        headlines = [e for e in events if e["content"].get("body", "").startswith("🚨")]
        assert len(headlines) == 1
        assert "Team 0/1 filled · 1 being paged" in headlines[0]["content"]["body"]
        assert not [e for e in events if "m.new_content" in e["content"]]  # no edit
        pinned = await team.alice.state(war_room, "m.room.pinned_events")
        assert pinned["pinned"] == [headlines[0]["event_id"]]
    finally:
        await adapter.stop()
        bot.close()


async def _true(condition: bool) -> bool | None:
    return True if condition else None
