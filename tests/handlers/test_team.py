"""The Rapid Reaction Team in the war room: paging, acks, backups, cycles and the board."""

from __future__ import annotations

from datetime import timedelta

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot
from bot.core.clock import FakeClock
from bot.core.paging import PageStatus
from tests.handlers.conftest import declare, dm, dm_text, kinds, pages


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
    assert "Paging for analyst stopped after 3 cycles; 1 still missing." in chat.text()


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
    await chat.click("bob", bob_page, "Accept")
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
