"""A declaration handled again (a replay after a crash) finishes its incident, never a second."""

from __future__ import annotations

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot
from bot.port import Inbound, InboundKind
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
    await team_bot.dispatcher.handle(inbound)
    await team_bot.dispatcher.handle(inbound)

    assert [i.id for i in team_bot.store.all_incidents()] == ["INC-2026-0001"]
    assert kinds(team_bot, "declared", "war_room_opened") == ["declared", "war_room_opened"]
    assert pages(team_bot) == [("alice", "coordinator")]
    assert len([r for r in chat.rooms.values() if r.name.startswith("inc-")]) == 1


async def test_nobody_declares_above_their_own_clearance(
    bot: Bot, console: ConsolePlatform
) -> None:
    await console.say("dirk", console.lobby, "declare --tlp red Leak")
    assert console.last(console.lobby).text == (
        "You are cleared up to TLP:AMBER, so you cannot declare an incident at TLP:RED. "
        "Ask a coordinator cleared for it."
    )
    assert bot.store.open_incidents() == []
