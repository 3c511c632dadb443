"""Outside its war room the bot names an incident only to people cleared for it (policy §5),
and whatever is delivered is checked against the label as it is when sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot
from bot.core.clock import FakeClock
from tests.handlers.concluding import accept
from tests.handlers.conftest import declare, dm_text, kinds, pages

TITLE = "Minister's mailbox leaked"


async def test_status_in_a_lobby_lists_only_what_the_asker_may_see_and_by_id(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    await chat.say("alice", chat.lobby, f"declare --tlp red {TITLE}")
    await chat.say("alice", chat.lobby, "declare --tlp clear Public website defaced")

    await chat.say("dirk", chat.lobby, "status")  # police, cleared up to TLP:AMBER
    seen_by_dirk = chat.last(chat.lobby).text
    await chat.say("bob", chat.lobby, "status")  # cleared for TLP:RED, but not approved
    seen_by_bob = chat.last(chat.lobby).text
    await chat.say("alice", chat.lobby, "status")  # who declared it: in its war room
    seen_by_alice = chat.last(chat.lobby).text

    assert "INC-2026-0001" not in seen_by_dirk
    assert "INC-2026-0002 · Public website defaced (TLP:CLEAR)" in seen_by_dirk
    assert "INC-2026-0001" not in seen_by_bob
    assert "INC-2026-0001 (TLP:RED) — triage" in seen_by_alice
    assert TITLE not in seen_by_alice  # others read the lobby too


async def test_status_in_a_direct_message_names_titles_to_those_admitted(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    await chat.say("alice", chat.lobby, f"declare --tlp red {TITLE}")
    alice_dm = chat.open_direct("alice")
    await chat.say("alice", alice_dm, "status")
    assert f"INC-2026-0001 · {TITLE} (TLP:RED) — triage" in chat.last(alice_dm).text
    for outside in ("bob", "dirk"):  # cleared for RED but not approved; cleared for AMBER only
        room = chat.open_direct(outside)
        await chat.say(outside, room, "status")
        assert chat.last(room).text == "No open incidents that you may see."


async def test_a_red_declaration_does_not_name_its_title_in_the_lobby(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    await chat.say("alice", chat.lobby, f"declare --tlp red {TITLE}")
    lobby = "\n".join(m.text for m in chat.rooms[chat.lobby].messages)
    assert TITLE not in lobby.replace(f"declare --tlp red {TITLE}", "")
    assert chat.last(chat.lobby).text == (
        "Declared INC-2026-0001 (TLP:RED); you are invited to its war room."
    )


async def test_a_lesson_reminder_after_a_raise_is_withheld_from_an_owner_it_no_longer_admits(
    team_bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    await chat.say("alice", chat.lobby, "declare Phishing wave")
    room = chat.room_by_name("inc-2026-0001").id
    await chat.say("alice", room, "lesson Rotate the VPN keys owner erik due 2026-12-03")
    await chat.say("alice", room, "tlp red")  # Erik is cleared up to TLP:AMBER only

    clock.set(datetime(2026, 12, 3, 8, 0, tzinfo=UTC))
    await team_bot.scheduler.fire_due()

    assert "Rotate the VPN keys" not in dm_text(chat, "erik")
    withheld = [r.event.data for r in team_bot.store.log() if r.event.kind == "withheld"]
    assert withheld == [
        {
            "effect": "send_direct",
            "platform": "console",
            "reason": "Erik Maes is not admitted to INC-2026-0001 under TLP:RED",
        }
    ]
    assert "lesson_reminded" in kinds(team_bot)


async def test_under_red_closing_waits_until_those_no_longer_admitted_are_removed(
    team_bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    room = await declare(chat)
    await accept(chat, "alice")
    await chat.say("alice", room, "page erik as analyst")
    await accept(chat, "erik")  # cleared up to TLP:AMBER
    await chat.say("alice", room, "level L1 --reason one mailbox")
    clock.advance(timedelta(hours=1))
    await chat.say("alice", room, "contain")
    clock.advance(timedelta(hours=1))
    await chat.say("alice", room, "resolve")
    await chat.say("alice", room, "tlp red")
    assert "Erik Maes (cert): analyst (member)" in chat.last(room).text

    await chat.say("alice", room, "close")
    assert chat.last(room).text == (
        "Under TLP:RED the room still holds people the label no longer admits. "
        "Remove them with `enforce`, then close."
    )
    assert chat.rooms[room].files == []

    await chat.say("alice", room, "enforce")
    await chat.say("alice", room, "close")
    assert "closed by Alice Martin" in chat.last(room).text
    assert "erik" not in chat.rooms[room].members


async def test_after_a_raise_to_red_a_decline_pages_no_backup_without_approval(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    room = await declare(chat)
    await accept(chat, "alice")
    await chat.say("alice", room, "level L1 --reason one mailbox")  # an analyst is paged
    (first,) = [p for p in pages(team_bot) if p[1] == "analyst"]
    await chat.say("alice", room, "tlp red")

    await chat.click(first[0], chat.direct_room(first[0]).messages[-1].id, "Decline")

    assert [p for p in pages(team_bot) if p[1] == "analyst"] == [first]
    for backup in ("bob", "carla", "erik"):
        if backup != first[0]:
            assert "You are paged as analyst" not in dm_text(chat, backup)
