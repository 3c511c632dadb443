"""Sharing with organisations, and removing who a raised label no longer admits (policy §5)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot
from bot.core.clock import FakeClock
from bot.core.roster import Roster
from bot.core.tlp import TLP
from tests.fixtures.roster import person, roster_with
from tests.handlers.conftest import declare, dm, dm_text, kinds, pages, team_roster, wire

INCIDENT = "INC-2026-0001"


async def open_with_coordinator(chat: ConsolePlatform) -> str:
    room = await declare(chat)
    await chat.click("alice", dm(chat, "alice"), "Accept")
    return room


def logged(bot: Bot, kind: str) -> list[dict[str, object]]:
    return [r.event.data for r in bot.store.log(INCIDENT) if r.event.kind == kind]


async def test_sharing_admits_an_organisation_and_pages_the_role_nobody_could_take(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    room = await open_with_coordinator(chat)
    await chat.say("alice", room, "answer Q8 criminal")  # a criminal actor: police liaison
    await chat.say("alice", room, "level L1 --reason ransom note")
    await chat.click("bob", dm(chat, "bob"), "Accept")  # L1 pages one role after the other
    assert "• police_liaison: nobody available for 1" in chat.text()
    assert "⛔ Paging for police_liaison stopped" in chat.text()
    assert ("dirk", "police_liaison") not in pages(team_bot)

    await chat.say("bob", room, "share police")
    assert chat.last(room).text == "Only a coordinator can share the incident."
    await chat.say("alice", room, "share interpol")
    assert chat.last(room).text == "No organisation `interpol`. Organisations: cert, police."

    await chat.say("alice", room, "share police")
    assert f"{INCIDENT} is shared with Federal police cyber unit." in chat.text()
    assert ("dirk", "police_liaison") in pages(team_bot)
    assert "📟 You are paged as police_liaison" in dm_text(chat, "dirk")
    assert logged(team_bot, "orgs_named") == [{"orgs": ["police"]}]
    assert team_bot.store.get(INCIDENT).named_orgs == ["police"]  # type: ignore[union-attr]

    await chat.say("alice", room, "share police")
    assert chat.last(room).text == f"{INCIDENT} is already shared with police."


async def test_a_raise_lists_who_no_longer_qualifies_and_enforce_removes_them(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    room = await open_with_coordinator(chat)
    await chat.say("alice", room, "level L1 --reason phishing wave")
    await chat.say("alice", room, "page erik as analyst")
    await chat.click("erik", dm(chat, "erik"), "Accept")
    await chat.say("alice", room, "share police")
    await chat.say("alice", room, "page dirk as police_liaison")
    assert "erik" in chat.rooms[room].members

    await chat.say("bob", room, "tlp amber+strict")
    listing = chat.last(room).text
    assert listing == (
        "Under TLP:AMBER+STRICT these no longer qualify:\n"
        "• Erik Maes (cert): analyst (member) — cleared only up to TLP:AMBER\n"
        "• Dirk Janssens (police): police_liaison (paged) — cleared only up to TLP:AMBER\n"
        "A coordinator removes them with `enforce`."
    )
    assert "erik" in chat.rooms[room].members  # nobody leaves before the coordinator confirms
    assert logged(team_bot, "outsiders_listed") == [
        {"tlp": "TLP:AMBER+STRICT", "people": ["erik", "dirk"]}
    ]

    await chat.say("bob", room, "enforce")
    assert chat.last(room).text == "Only a coordinator can remove people from the war room."
    await chat.say("alice", room, "enforce")
    assert chat.last(room).text == "Removed under TLP:AMBER+STRICT: Erik Maes, Dirk Janssens."
    assert "erik" not in chat.rooms[room].members
    assert f"{INCIDENT} is now TLP:AMBER+STRICT; you are no longer on it." in dm_text(chat, "dirk")
    assert logged(team_bot, "tlp_enforced") == [
        {
            "tlp": "TLP:AMBER+STRICT",
            "removed": ["erik", "dirk"],
            "withdrawn": ["dirk/police_liaison"],
            "released": ["erik/analyst"],
        }
    ]
    pending = [t.key for t in team_bot.store.pending_timers(INCIDENT) if t.kind == "ack"]
    assert not any("/dirk/" in key for key in pending)

    direct = chat.direct_room("dirk")
    assert direct is not None
    page_of_dirk = next(m for m in direct.messages if "police_liaison" in m.text)
    assert page_of_dirk.buttons == ()  # shows the page withdrawn; a reply is still answered
    await chat.say("dirk", direct.id, "accept", reply_to=page_of_dirk.id)
    assert dm_text(chat, "dirk").endswith(
        f"{INCIDENT} is now TLP:AMBER+STRICT; your page no longer admits you."
    )
    assert "dirk" not in chat.rooms[room].members

    await chat.say("alice", room, "enforce")
    assert chat.last(room).text == f"Everyone in {INCIDENT} qualifies for TLP:AMBER+STRICT."


async def test_raising_to_red_withdraws_unapproved_pages_and_proposes_instead(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    room = await open_with_coordinator(chat)
    await chat.say("alice", room, "level L1 --reason targeted intrusion")
    assert ("bob", "analyst") in pages(team_bot)

    await chat.say("alice", room, "tlp red")
    assert "• Bob Peeters (cert): analyst (paged) — not approved by the coordinator" in (
        chat.last(room).text
    )
    await chat.click("bob", dm(chat, "bob"), "Accept")
    assert dm_text(chat, "bob").endswith(
        f"{INCIDENT} is now TLP:RED; your page no longer admits you."
    )
    assert "bob" not in chat.rooms[room].members

    await chat.say("alice", room, "enforce")
    incident = team_bot.store.get(INCIDENT)
    assert incident is not None
    assert incident.approved == ["alice"]  # those who stay
    assert "TLP:RED: nobody is paged without the coordinator's approval." in chat.last(room).text
    assert pages(team_bot).count(("bob", "analyst")) == 1
    await chat.say("alice", room, "approve bob")
    assert pages(team_bot).count(("bob", "analyst")) == 2
    await chat.click("bob", dm(chat, "bob"), "Accept")
    assert "bob" in chat.rooms[room].members
    assert kinds(team_bot, "tlp_enforced") == ["tlp_enforced"]


async def test_unsharing_lists_the_members_of_that_organisation(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    room = await open_with_coordinator(chat)
    await chat.say("alice", room, "share police")
    await chat.say("alice", room, "level L1 --reason probe")
    await chat.say("alice", room, "page dirk as police_liaison")
    await chat.click("dirk", dm(chat, "dirk"), "Accept")

    await chat.say("alice", room, "unshare police")
    assert f"{INCIDENT} is no longer shared with Federal police cyber unit." in chat.text()
    assert (
        "• Dirk Janssens (police): police_liaison (member) — police is not admitted under "
        "TLP:AMBER" in chat.last(room).text
    )
    await chat.say("alice", room, "enforce")
    assert "dirk" not in chat.rooms[room].members
    assert logged(team_bot, "orgs_unnamed") == [{"orgs": ["police"]}]


def desk_roster() -> Roster:
    """The team roster with a duty contact at the police, beside its only police liaison."""
    desk = person("petra", "Petra Wouters", "police", [], max_tlp=TLP.AMBER, duty_contact=True)
    return roster_with(team_roster(), people=[desk])


@pytest.fixture
def desk_bot(db: Path, clock: FakeClock) -> Iterator[Bot]:
    wired = wire(db, clock, roster=desk_roster())
    yield wired
    wired.close()


def console_of(bot: Bot) -> ConsolePlatform:
    platform = bot.platform("console")
    assert isinstance(platform, ConsolePlatform)
    return platform


def duty_pages(bot: Bot) -> list[tuple[str, str]]:
    return [(str(d["person"]), str(d["role"])) for d in logged(bot, "paged") if d["duty_contact"]]


async def test_sharing_refreshes_a_role_assembled_before_so_its_duty_contact_is_paged(
    desk_bot: Bot, clock: FakeClock
) -> None:
    chat = console_of(desk_bot)
    room = await open_with_coordinator(chat)
    await chat.say("alice", room, "answer Q8 criminal")
    await chat.say("alice", room, "level L2 --reason ransom note")
    for member in ("bob", "erik", "carla"):  # L2 pages one role after the other
        await chat.click(member, dm(chat, member), "Accept")
    assert (
        "⛔ Paging for police_liaison stopped, 1 missing: nobody could be paged (police is not "
        "named on the incident). Name it with `share police`, or page someone by hand: "
        "`page <person> as police_liaison`."
    ) in chat.text()

    await chat.say("alice", room, "share police")
    assert pages(desk_bot)[-1] == ("dirk", "police_liaison")
    incident = desk_bot.store.get(INCIDENT)
    assert incident is not None
    assert incident.team is not None
    police = incident.team.role("police_liaison")
    assert police is not None
    assert (police.candidates, police.duty_contacts) == (["dirk"], ["petra"])

    clock.advance(timedelta(minutes=15))  # Dirk does not answer: his organisation's desk next
    await desk_bot.scheduler.fire_due()
    assert duty_pages(desk_bot) == [("petra", "police_liaison")]
    assert "as your organisation's duty contact" in dm_text(chat, "petra")
    assert "Role unfilled: police_liaison" not in chat.text()

    clock.advance(timedelta(minutes=15))  # only after the duty contact: the war room alert
    await desk_bot.scheduler.fire_due()
    assert "⚠️ Role unfilled: police_liaison (1 missing) after paging cycle 1" in chat.text()


async def test_a_higher_level_pages_the_duty_contact_of_a_role_stopped_below(
    desk_bot: Bot,
) -> None:
    chat = console_of(desk_bot)
    room = await open_with_coordinator(chat)
    await chat.say("alice", room, "answer Q8 criminal")
    await chat.say("alice", room, "share police")
    await chat.say("alice", room, "level L1 --reason ransom note")
    await chat.click("bob", dm(chat, "bob"), "Accept")
    await chat.click("dirk", dm(chat, "dirk"), "Decline")
    assert "⛔ Paging for police_liaison stopped after 1 cycle" in chat.text()
    assert duty_pages(desk_bot) == []  # L1 does not call duty contacts

    await chat.say("alice", room, "level L2 --reason spreading")
    await chat.click("erik", dm(chat, "erik"), "Accept")  # the second analyst, paged first
    assert duty_pages(desk_bot) == [("petra", "police_liaison")]


async def test_lowering_the_label_pages_whom_it_now_admits(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    room = await declare(chat, "Leak", "--tlp", "amber+strict")
    await chat.click("alice", dm(chat, "alice"), "Accept")
    await chat.say("alice", room, "answer Q8 criminal")
    await chat.say("alice", room, "share police")
    await chat.say("alice", room, "level L1 --reason ransom note")
    await chat.click("bob", dm(chat, "bob"), "Accept")
    assert "⛔ Paging for police_liaison stopped, 1 missing" in chat.text()
    assert ("dirk", "police_liaison") not in pages(team_bot)

    await chat.say("alice", room, "tlp amber --reason the owner agreed")
    assert pages(team_bot)[-1] == ("dirk", "police_liaison")
    assert "• police_liaison: Dirk Janssens (police)" in chat.text()


async def test_a_page_withdrawn_by_enforce_is_paged_again(
    team_bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await open_with_coordinator(chat)
    await chat.say("alice", room, "level L1 --reason phishing wave")
    clock.advance(timedelta(minutes=30))  # Bob does not answer: Carla next
    await team_bot.scheduler.fire_due()
    await chat.click("carla", dm(chat, "carla"), "Decline")
    assert pages(team_bot)[-1] == ("erik", "analyst")

    await chat.say("alice", room, "tlp amber+strict")
    await chat.say("alice", room, "enforce")  # Erik's page is withdrawn: the slot is open again
    assert pages(team_bot)[-1] == ("bob", "analyst")  # the next cycle
