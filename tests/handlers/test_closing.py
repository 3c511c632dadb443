"""Closing (policy §7): unfiled reports are listed and closing waits for the coordinator; their
clocks remind on after it; open pages are withdrawn and their messages say so; a closed
incident takes only lessons, filings and reading; a page's message, and the close prompt, show
how they ended; proposals awaiting approval are withdrawn."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot
from bot.core.clock import FakeClock
from bot.core.lifecycle import State
from bot.port import Inbound, InboundKind
from handlers.lifecycle import after_closing
from tests.handlers.concluding import (
    accept,
    console_of,
    declare,
    reporting_bot,
    respond_and_resolve,
)
from tests.handlers.conftest import dm, kinds

INCIDENT = "INC-2026-0001"


@pytest.fixture
def bot(tmp_path: Path, clock: FakeClock) -> Iterator[Bot]:
    yield from reporting_bot(tmp_path, clock)


@pytest.fixture
def chat(bot: Bot) -> ConsolePlatform:
    return console_of(bot)


def state(bot: Bot) -> State:
    incident = bot.store.get(INCIDENT)
    assert incident is not None
    return incident.state


def war_room_since(chat: ConsolePlatform, room: str, count: int) -> str:
    return "\n".join(m.text for m in chat.rooms[room].messages[count:])


async def resolve_with_reports_due(bot: Bot, chat: ConsolePlatform, clock: FakeClock) -> str:
    """NIS2 and GDPR clocks run; Bob is on the team; the early warning and the NIS2
    notification are filed (so the final report runs), the GDPR notice is not."""
    room = await declare(chat)
    await chat.say("bob", room, "answer Q14a yes")
    await chat.say("bob", room, "answer Q14b yes")
    await respond_and_resolve(chat, room, clock)
    await chat.say("alice", room, "filed nis2_early_warning")
    await chat.say("alice", room, "filed nis2_notification")
    return room


async def test_close_lists_the_unfiled_reports_and_waits_for_the_coordinator(
    bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await resolve_with_reports_due(bot, chat, clock)

    await chat.say("alice", room, "close")

    prompt = chat.last(room)
    assert prompt.text.startswith(f"Regulatory reports of {INCIDENT} not filed yet:\n")
    listed = prompt.text.splitlines()[1:3]
    assert listed[0].startswith("• GDPR breach notification (`gdpr_breach`) · due ")
    assert listed[1].startswith("• NIS2 final report (`nis2_final`) · due ")
    assert "early warning" not in prompt.text  # filed: not listed
    assert prompt.text.endswith(
        "Closing does not stop them: their clocks and reminders go on until `filed <clock>`. "
        "Close anyway with `close confirm`."
    )
    assert prompt.buttons == (("Close anyway", "close confirm"),)
    assert state(bot) is State.RESOLVED
    assert "report_written" not in kinds(bot)

    await chat.click("bob", prompt.id, "Close anyway")
    assert chat.last(room).text == "Only a coordinator can close an incident."
    assert state(bot) is State.RESOLVED

    await chat.click("alice", prompt.id, "Close anyway")
    assert state(bot) is State.CLOSED
    closing = chat.last(room).text
    assert closing.startswith(
        f"{INCIDENT} closed by Alice Martin. The record is concluded. Still to file: "
        "GDPR breach notification (due "
    )
    assert "; NIS2 final report (due " in closing
    assert "Their reminders go on until `filed <clock>`. The report is posted above." in closing
    assert kinds(bot, "report_written") == ["report_written"]


async def test_nothing_unfiled_closes_at_once(
    bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await declare(chat)
    await chat.say("bob", room, "answer Q14b yes")
    await respond_and_resolve(chat, room, clock)
    await chat.say("alice", room, "filed gdpr_breach")

    await chat.say("alice", room, "close")

    assert state(bot) is State.CLOSED
    assert chat.last(room).text.startswith(
        f"{INCIDENT} closed by Alice Martin. The record is concluded. The report is posted above."
    )


async def test_clock_reminders_go_on_after_closing_until_filed(
    bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await resolve_with_reports_due(bot, chat, clock)
    await chat.say("alice", room, "close confirm")
    assert state(bot) is State.CLOSED
    pending = {t.kind for t in bot.store.pending_timers(INCIDENT)}
    assert pending == {"clock"}  # no ack, no check-in: only the reports' reminders

    heard = len(chat.rooms[room].messages)
    clock.advance(timedelta(days=3))  # past the GDPR deadline
    await bot.scheduler.fire_due()
    said = war_room_since(chat, room, heard)
    assert "⏰ GDPR breach notification reminder (due in 6h" in said
    assert "⏰ GDPR breach notification is overdue (was due " in said
    assert "When filed, say `filed gdpr_breach`." in said

    await chat.say("alice", room, "filed gdpr_breach")
    assert chat.last(room).text == "GDPR breach notification filed by Alice Martin (late)."

    closed = bot.store.get(INCIDENT)
    assert closed is not None
    final = next(c for c in closed.clocks if c.id == "nis2_final")
    heard = len(chat.rooms[room].messages)
    clock.set(final.due - timedelta(hours=6))
    await bot.scheduler.fire_due()
    assert "⏰ NIS2 final report reminder (due in 6h, at " in war_room_since(chat, room, heard)
    assert kinds(bot, "clock_reminder")[-1:] == ["clock_reminder"]

    await chat.say("alice", room, "filed nis2_final")
    assert chat.last(room).text == "NIS2 final report filed by Alice Martin (on time)."
    assert bot.store.pending_timers(INCIDENT) == []


async def test_closing_withdraws_open_pages_and_a_late_answer_changes_nothing(
    bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await declare(chat)
    await accept(chat, "alice")
    await chat.say("alice", room, "level L1 --reason one mailbox")  # Bob is paged as analyst
    page = dm(chat, "bob")
    accept_value = next(value for label, value in chat.messages[page].buttons if label == "Accept")
    for command in ("contain", "resolve"):
        clock.advance(timedelta(minutes=5))
        await chat.say("alice", room, command)

    await chat.say("alice", room, "close")

    assert state(bot) is State.CLOSED
    logged = kinds(bot)
    cancelled = [r.event for r in bot.store.log(INCIDENT) if r.event.kind == "page_cancelled"]
    assert [(e.data["person"], e.data["role"], e.data["reason"]) for e in cancelled] == [
        ("bob", "analyst", "closed")
    ]
    assert logged.index("page_cancelled") < logged.index("report_written")
    assert chat.messages[page].text == (
        f"📟 {INCIDENT} · your page as analyst: withdrawn, the incident is closed."
    )
    assert chat.messages[page].buttons == ()
    direct = chat.direct_room("bob")
    assert direct is not None
    assert direct.messages[-1].text == (
        f"{INCIDENT}: the incident is closed; your page is withdrawn."
    )
    assert [t.kind for t in bot.store.pending_timers(INCIDENT)] == []

    told = f"{INCIDENT} is closed: its pages are withdrawn; nothing more is needed."
    # A late answer, every way it can come: a reaction, a reply, and the button of a client
    # that still shows it.
    await chat.react("bob", page, "1️⃣")
    assert direct.messages[-1].text == told
    await chat.say("bob", direct.id, "accept", reply_to=page)
    assert direct.messages[-1].text == told
    stale = Inbound(
        platform="console",
        event_id="stale-click",
        kind=InboundKind.BUTTON,
        user_id="bob",
        room_id=direct.id,
        text=accept_value,
        target_message_id=page,
        is_direct=True,
    )
    await bot.dispatcher(stale)
    assert direct.messages[-1].text == told

    assert "bob" not in chat.rooms[room].members
    assert kinds(bot)[-1] == "report_written"  # nothing logged after the record concluded


async def test_a_closed_incident_takes_only_lessons_filings_and_reading(
    bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await declare(chat)
    await chat.say("bob", room, "answer Q14b yes")
    await respond_and_resolve(chat, room, clock)
    await chat.say("alice", room, "close confirm")
    incident = bot.store.get(INCIDENT)
    assert incident is not None
    before = len(bot.store.log(INCIDENT))

    refused = after_closing(incident)
    for who, command in (
        ("bob", "note one more thing"),
        ("alice", "tlp clear --reason all public now"),
        ("alice", "tlp red"),
        ("alice", "page carla as analyst"),
        ("alice", "level L2 --reason worse than thought"),
        ("bob", "answer Q3 2"),
        ("alice", "confirm"),
        ("alice", "update all quiet"),
        ("alice", "share police"),
        ("alice", "release bob"),
        ("alice", "reopen"),
        ("alice", "close confirm"),
    ):
        await chat.say(who, room, command)
        assert chat.last(room).text == refused, command
    assert len(bot.store.log(INCIDENT)) == before
    assert refused.startswith(f"{INCIDENT} is closed: its record is concluded. Still possible:")
    assert "`filed <clock>`" in refused
    assert f"`rrt report {INCIDENT}`" in refused
    after = bot.store.get(INCIDENT)
    assert after is not None
    assert after.tlp is incident.tlp

    await chat.say("bob", room, "lesson Keep offline backups")
    assert chat.last(room).text.startswith("Lesson recorded:\n1. Keep offline backups")
    await chat.say("alice", room, "filed gdpr_breach")
    assert chat.last(room).text.startswith("GDPR breach notification filed by Alice Martin")
    for reading in ("status", "timeline", "team", "clocks", "lessons"):
        await chat.say("bob", room, reading)
        assert chat.last(room).text != refused, reading
    assert kinds(bot)[before:] == ["lesson", "clock_filed"]


async def test_a_page_message_shows_how_the_page_ended_without_its_buttons(
    bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await declare(chat)
    alice_page = dm(chat, "alice")
    await accept(chat, "alice")
    assert chat.messages[alice_page].text == (
        f"📟 {INCIDENT} · your page as coordinator: accepted. Thank you."
    )
    assert chat.messages[alice_page].buttons == ()
    assert chat.messages[alice_page].edits == 1

    await chat.say("alice", room, "level L1 --reason small phishing wave")
    bob_page = dm(chat, "bob")
    await chat.click("bob", bob_page, "Decline")
    assert chat.messages[bob_page].text == f"📟 {INCIDENT} · your page as analyst: declined."
    assert chat.messages[bob_page].buttons == ()

    carla_page = dm(chat, "carla")  # the backup; her page times out, Erik's is accepted
    clock.advance(timedelta(minutes=31))
    await bot.scheduler.fire_due()
    assert chat.messages[carla_page].buttons != ()  # a late acceptance would still count
    await accept(chat, "erik")
    assert chat.messages[carla_page].text == (
        f"📟 {INCIDENT} · your page as analyst: withdrawn, the role is filled."
    )
    assert chat.messages[carla_page].buttons == ()

    await chat.say("alice", room, "share police")  # Dirk's organisation may then see it
    await chat.say("alice", room, "page dirk as police_liaison")
    dirk_page = dm(chat, "dirk")
    await chat.say("alice", room, "release dirk")
    assert chat.messages[dirk_page].text == (
        f"📟 {INCIDENT} · your page as police_liaison: withdrawn."
    )
    assert chat.messages[dirk_page].buttons == ()
    incident = bot.store.get(INCIDENT)
    assert incident is not None
    assert incident.page_messages == []  # each settled page's message is edited once
    assert all(chat.messages[m].edits == 1 for m in (alice_page, bob_page, carla_page, dirk_page))


async def test_closing_withdraws_the_proposals_still_awaiting_approval(
    bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await declare(chat, "--tlp", "red")
    await chat.say("alice", room, "approve alice")
    await accept(chat, "alice")
    await chat.say("alice", room, "level L1 --reason one mailbox")  # an analyst is proposed
    for command in ("contain", "resolve"):
        clock.advance(timedelta(minutes=30))
        await chat.say("alice", room, command)
    assert "1 role(s) awaiting approval" in chat.messages[chat.rooms[room].pinned[0]].text

    await chat.say("alice", room, "close")

    incident = bot.store.get(INCIDENT)
    assert incident is not None
    assert incident.state is State.CLOSED
    assert incident.proposals == []
    withdrawn = [r.event for r in bot.store.log(INCIDENT) if r.event.kind == "proposals_withdrawn"]
    assert [event.data["roles"] for event in withdrawn] == [["analyst"]]
    assert "awaiting approval" not in chat.messages[chat.rooms[room].pinned[0]].text
    await chat.say("alice", room, "team")
    assert "awaiting approval" not in chat.last(room).text
    await chat.say("alice", room, "approve bob")
    assert chat.last(room).text == after_closing(incident)


async def test_the_close_prompt_shows_it_was_answered_without_its_button(
    bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await resolve_with_reports_due(bot, chat, clock)
    await chat.say("alice", room, "close")
    asked = chat.last(room)
    await chat.say("alice", room, "close")  # asked twice: both prompts are answered
    again = chat.last(room)
    assert asked.buttons == again.buttons == (("Close anyway", "close confirm"),)

    await chat.click("alice", again.id, "Close anyway")

    for prompt in (asked, again):
        edited = chat.messages[prompt.id]
        assert edited.text == (
            f"{INCIDENT} closed by Alice Martin with regulatory reports not filed yet."
        )
        assert edited.buttons == ()
        assert edited.edits == 1
    incident = bot.store.get(INCIDENT)
    assert incident is not None
    assert incident.close_prompts == []
