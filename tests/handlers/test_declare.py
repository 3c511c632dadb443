"""A declaration delivered twice, or replayed after a crash, opens one incident and one room."""

from __future__ import annotations

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot
from bot.port import Inbound, InboundKind
from handlers.dispatch import encode
from tests.handlers.conftest import kinds, pages


async def test_a_replayed_declaration_opens_no_second_incident(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    inbound = Inbound(
        platform="console",
        event_id="evt-1",
        kind=InboundKind.TEXT,
        user_id="alice",
        room_id=chat.lobby,
        text="declare Ransomware at AZ Noord",
    )
    await team_bot.dispatcher(inbound)
    await team_bot.dispatcher(inbound)  # the platform delivers it again
    await team_bot.dispatcher.replay()  # and a restart replays what is unhandled

    assert [i.id for i in team_bot.store.all_incidents()] == ["INC-2026-0001"]
    assert kinds(team_bot, "declared", "war_room_opened") == ["declared", "war_room_opened"]
    assert pages(team_bot) == [("alice", "coordinator")]
    assert len([r for r in chat.rooms.values() if r.name.startswith("inc-")]) == 1


async def test_a_declaration_recorded_before_a_crash_is_handled_once_at_restart(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    inbound = Inbound(
        platform="console",
        event_id="evt-2",
        kind=InboundKind.TEXT,
        user_id="alice",
        room_id=chat.lobby,
        text="declare Phishing wave",
    )
    assert team_bot.store.record("console", "evt-2", encode(inbound))  # then the crash
    assert await team_bot.dispatcher.replay() == 1
    assert await team_bot.dispatcher.replay() == 0

    assert [i.id for i in team_bot.store.all_incidents()] == ["INC-2026-0001"]
    assert pages(team_bot) == [("alice", "coordinator")]
    assert chat.last(chat.lobby).text == (
        "Declared INC-2026-0001 (TLP:AMBER); you are invited to its war room."
    )


async def test_nobody_declares_above_their_own_clearance(
    bot: Bot, console: ConsolePlatform
) -> None:
    await console.say("dirk", console.lobby, "declare --tlp red Leak")
    assert console.last(console.lobby).text == (
        "You are cleared up to TLP:AMBER, so you cannot declare an incident at TLP:RED. "
        "Ask a coordinator cleared for it."
    )
    assert bot.store.open_incidents() == []
