"""The Rapid Reaction Team in the war room: paging, acks, backups, cycles and the board."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot
from bot.core.clock import FakeClock
from bot.core.paging import PageStatus
from bot.core.roster import Organisation
from tests.fixtures.roster import person, roster_with
from tests.handlers.conftest import declare, dm, dm_text, kinds, pages, team_roster, wire


async def accept_coordinator(chat: ConsolePlatform) -> None:
    await chat.click("alice", dm(chat, "alice"), "Accept")


async def test_the_on_call_coordinator_is_paged_at_declaration(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    room = await declare(chat)
    assert pages(team_bot) == [("alice", "coordinator")]
    page = chat.messages[dm(chat, "alice")]
    assert "You are paged as coordinator for INC-2026-0001" in page.text
    assert [label for label, _ in page.buttons] == ["Accept", "Decline"]
    assert page.buttons[0][1] == "page accept INC-2026-0001 coordinator"

    await accept_coordinator(chat)

    assert kinds(team_bot, "page_accepted", "role_filled") == ["page_accepted", "role_filled"]
    assert "Alice Martin accepted coordinator." in chat.text()
    headline = chat.messages[chat.rooms[room].pinned[0]].text
    assert "Team 1/1 filled · 0 being paged" in headline


async def test_level_assembles_the_team_with_reasons_and_pages_the_pick(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    room = await declare(chat)
    await accept_coordinator(chat)
    await chat.say("alice", room, "level L1 --reason small phishing wave")

    said = chat.text()
    assert "Team for L1, and why:" in said
    assert "• analyst: Bob Peeters (cert) — declared available; 0 active incidents" in said
    assert pages(team_bot) == [("alice", "coordinator"), ("bob", "analyst")]
    assert "bob" not in chat.rooms[room].members


async def test_decline_pages_the_backup_and_acceptance_invites(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    room = await declare(chat)
    await accept_coordinator(chat)
    await chat.say("alice", room, "level L1 --reason small phishing wave")

    await chat.react("bob", dm(chat, "bob"), "2️⃣")  # decline by reaction
    assert pages(team_bot)[-1] == ("carla", "analyst")
    assert "Bob Peeters declined analyst." in chat.text()

    await chat.say("carla", chat.direct_room("carla").id, "1", reply_to=dm(chat, "carla"))
    assert "carla" in chat.rooms[room].members
    assert kinds(team_bot, "page_declined", "page_accepted") == [
        "page_accepted",
        "page_declined",
        "page_accepted",
    ]
    assert "You are on INC-2026-0001 · Ransomware at AZ Noord as analyst." in dm_text(chat, "carla")


async def test_a_timeout_pages_the_next_backup(
    team_bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await declare(chat)
    await accept_coordinator(chat)
    await chat.say("alice", room, "level L1 --reason small phishing wave")

    clock.advance(timedelta(minutes=29))
    assert await team_bot.scheduler.fire_due() == []
    clock.advance(timedelta(minutes=1))
    fired = await team_bot.scheduler.fire_due()

    assert [t.kind for t in fired] == ["ack"]
    assert kinds(team_bot, "page_timed_out") == ["page_timed_out"]
    assert pages(team_bot)[-1] == ("carla", "analyst")


async def test_paging_cycles_three_times_then_stops_and_says_so(
    team_bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await declare(chat)
    await accept_coordinator(chat)
    await chat.say("alice", room, "level L1 --reason small phishing wave")
    for _ in range(12):
        clock.advance(timedelta(minutes=30))
        await team_bot.scheduler.fire_due()

    analysts = [person for person, role in pages(team_bot) if role == "analyst"]
    assert analysts == ["bob", "carla", "erik"] * 3
    assert kinds(team_bot, "paging_exhausted") == ["paging_exhausted"]
    stops = [m.text for m in chat.rooms[room].messages if "⛔" in m.text]
    assert stops == [
        "⛔ Paging for analyst stopped after 3 cycles; 1 still missing: everyone paged declined "
        "or did not answer. Page someone by hand: `page <person> as analyst`."
    ]


async def test_a_stopped_role_is_announced_once_however_often_the_team_is_reassessed(
    team_bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await declare(chat)
    await accept_coordinator(chat)
    await chat.say("alice", room, "level L1 --reason small phishing wave")
    for _ in range(12):
        clock.advance(timedelta(minutes=30))
        await team_bot.scheduler.fire_due()
    paged = len(pages(team_bot))

    await chat.say("alice", room, "share police")
    await chat.say("alice", room, "unshare police")
    await chat.say("alice", room, "share police")
    assert len(pages(team_bot)) == paged  # nobody new may take the analyst role
    await chat.say("alice", room, "level L2 --reason spreading")

    stops = [m.text for m in chat.rooms[room].messages if "⛔ Paging for analyst" in m.text]
    assert len(stops) == 1
    stopped = [
        r.event.data["role"]
        for r in team_bot.store.log("INC-2026-0001")
        if r.event.kind == "paging_exhausted"
    ]
    assert stopped.count("analyst") == 1
    assert "• analyst: nobody available for 2" in chat.text()
    assert ("bob", "analyst") not in pages(team_bot)[paged:]


async def test_a_shared_language_with_the_affected_entity_ranks_first_and_is_stated(
    db: Path, clock: FakeClock
) -> None:
    hospital = Organisation(id="az-noord", name="AZ Noord", kind="operator", languages=["nl"])
    carla = person(
        "carla", "Carla Dubois", "cert", ["analyst", "forensics"], languages=["fr", "nl"]
    )
    bot = wire(db, clock, roster=roster_with(team_roster(), orgs=[hospital], people=[carla]))
    try:
        chat = bot.platform("console")
        assert isinstance(chat, ConsolePlatform)
        room = await declare(chat)
        await accept_coordinator(chat)
        await chat.say("alice", room, "share az-noord")
        await chat.say("alice", room, "level L1 --reason one ward")
        assert (
            "• analyst: Carla Dubois (cert) — declared available; speaks nl with the affected "
            "entity; 0 active incidents"
        ) in chat.text()
        assert pages(bot)[-1] == ("carla", "analyst")  # before Bob, who comes first in the roster
    finally:
        bot.close()


async def test_a_late_acceptance_after_the_role_filled_is_thanked_not_counted(
    team_bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await declare(chat)
    await accept_coordinator(chat)
    await chat.say("alice", room, "level L1 --reason small phishing wave")
    bob_page = dm(chat, "bob")
    clock.advance(timedelta(minutes=30))
    await team_bot.scheduler.fire_due()
    await chat.click("carla", dm(chat, "carla"), "Accept")
    assert chat.messages[bob_page].buttons == ()  # shows the page withdrawn; a reply still works
    direct = chat.direct_room("bob")
    assert direct is not None
    await chat.say("bob", direct.id, "accept", reply_to=bob_page)
    assert "the analyst role was filled meanwhile" in dm_text(chat, "bob")
    assert "bob" not in chat.rooms[room].members


async def test_coordinator_pages_releases_and_swaps_by_name(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    room = await declare(chat)
    await accept_coordinator(chat)
    await chat.say("alice", room, "page Carla Dubois as analyst")
    await chat.click("carla", dm(chat, "carla"), "Accept")
    assert "carla" in chat.rooms[room].members

    await chat.say("alice", room, "swap carla with bob")
    assert "carla" not in chat.rooms[room].members
    assert pages(team_bot)[-1] == ("bob", "analyst")
    await chat.say("bob", room, "page bob as analyst")
    assert chat.last(room).text == "Only a coordinator can page people."
    await chat.say("alice", room, "swap Carla with Bob")
    assert chat.last(room).text == "Carla Dubois is not on the team of INC-2026-0001."
    await chat.say("alice", room, "page Erik as forensics")
    assert chat.last(room).text == "Erik Maes does not hold the role forensics."

    await chat.say("alice", room, "team")
    board = chat.last(room).text
    assert "coordinator · Alice Martin · cert ·" in board
    assert "analyst · Carla Dubois · cert ·" in board
    assert board.splitlines()[-1].startswith("analyst · Bob Peeters · cert ·")
    assert board.splitlines()[-1].endswith("· paged")
    assert kinds(team_bot, "swapped", "page_requested") == ["page_requested", "swapped"]

    await chat.say("alice", room, "release alice")
    assert "alice" not in chat.rooms[room].members
    incident = team_bot.store.get("INC-2026-0001")
    assert incident is not None
    assert incident.team is not None
    coordinator = incident.team.role("coordinator")
    assert coordinator is not None
    assert coordinator.pages[0].status is PageStatus.CANCELLED


async def test_answers_are_per_person_and_per_role(team_bot: Bot, chat: ConsolePlatform) -> None:
    room = await declare(chat)
    await chat.say("alice", room, "page carla as forensics")
    await chat.say("alice", room, "page carla as analyst")
    await chat.say("carla", chat.direct_room("carla").id, "page accept INC-2026-0001 forensics")
    incident = team_bot.store.get("INC-2026-0001")
    assert incident is not None
    assert incident.team is not None
    forensics, analyst = incident.team.role("forensics"), incident.team.role("analyst")
    assert forensics is not None
    assert analyst is not None
    assert forensics.accepted == ["carla"]
    assert analyst.pending[0].person_id == "carla"
    await chat.say("bob", chat.direct_room("carla").id, "page accept INC-2026-0001 analyst")
    assert "You have no open page as analyst" in dm_text(chat, "carla")


async def test_the_war_rooms_moderators_are_the_coordinators_who_accepted(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    room = await declare(chat)
    await accept_coordinator(chat)
    assert chat.rooms[room].moderators == {"alice"}

    await chat.say("alice", room, "release alice")
    assert chat.rooms[room].moderators == set()

    await chat.say("alice", room, "page alice as coordinator")
    assert chat.rooms[room].moderators == set()  # paged, not yet accepted
    await accept_coordinator(chat)
    assert chat.rooms[room].moderators == {"alice"}
