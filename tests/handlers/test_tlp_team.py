"""Nobody is paged or invited above their clearance; under TLP:RED the coordinator approves each."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot, build
from bot.core.clock import FakeClock
from bot.core.roster import Roster
from bot.core.tlp import TLP
from config.settings import Settings
from tests.fixtures.chat import START
from tests.handlers.conftest import declare, dm, kinds, pages, team_roster


async def test_under_red_nothing_is_paged_until_the_coordinator_approves(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    room = await declare(chat, "Leak of state secrets", "--tlp", "red")
    assert pages(team_bot) == []
    assert "TLP:RED: nobody is paged without the coordinator's approval." in chat.text()
    assert "• coordinator: Alice Martin (cert)" in chat.text()

    await chat.say("alice", room, "approve alice")
    await chat.click("alice", dm(chat, "alice"), "Accept")
    await chat.say("alice", room, "level L1 --reason contained so far")
    proposal = chat.last(room).text
    assert "• analyst: Bob Peeters (cert)" in proposal
    assert "Erik" not in proposal  # cleared only up to AMBER
    assert pages(team_bot) == [("alice", "coordinator")]

    await chat.say("alice", room, "approve carla")
    assert pages(team_bot) == [("alice", "coordinator"), ("carla", "analyst")]
    await chat.say("alice", room, "approve erik")
    assert chat.last(room).text == "Erik Maes was not proposed. Use `page erik as <role>`."
    await chat.say("alice", room, "page erik as analyst")
    assert chat.last(room).text == (
        "Erik Maes is cleared only up to TLP:AMBER; INC-2026-0001 is TLP:RED."
    )
    assert kinds(team_bot, "approved") == ["approved", "approved"]


async def test_under_amber_another_organisation_is_not_paged(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    room = await declare(chat)
    await chat.say("alice", room, "page dirk as police_liaison")
    assert chat.last(room).text == (
        "Dirk Janssens is cleared for TLP:AMBER, but police, their organisation, is not named "
        "on INC-2026-0001: under TLP:AMBER only cert and the organisations it names may join. "
        "Name it with `share police`."
    )
    await chat.say("alice", room, "share police")
    await chat.say("alice", room, "page dirk as police_liaison")
    assert ("dirk", "police_liaison") in pages(team_bot)


async def page_everyone(roster: Roster, label: TLP, db: Path) -> list[tuple[str, str]]:
    settings = Settings(database_url=f"sqlite:///{db}", reports_dir=db.parent / "reports")
    bot = build(settings, clock=FakeClock(START), roster=roster)
    chat = ConsolePlatform(on_inbound=bot.dispatcher)
    bot.attach(chat)
    try:
        await chat.say("alice", chat.lobby, f"declare --tlp {label.value} Probe")
        if not label.allows(roster.people[0].max_tlp):  # alice may not declare at this label
            assert chat.last(chat.lobby).text.startswith("You are cleared up to")
            assert bot.store.open_incidents() == []
            return []
        room = chat.room_by_name("inc-").id
        await chat.say("alice", room, "level L1 --reason probe")
        for name in ("bob", "carla", "erik", "dirk"):
            await chat.say("alice", room, f"page {name} as analyst")
        return pages(bot)
    finally:
        bot.close()


@settings(max_examples=12, deadline=None)
@given(
    label=st.sampled_from([TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT]),
    cleared=st.lists(st.sampled_from(list(TLP)), min_size=5, max_size=5),
)
def test_nobody_is_paged_above_their_clearance(label: TLP, cleared: list[TLP]) -> None:
    base = team_roster()
    people = [
        p.model_copy(update={"max_tlp": c}) for p, c in zip(base.people, cleared, strict=True)
    ]
    roster = base.model_copy(update={"people": people})
    with tempfile.TemporaryDirectory() as tmp:
        paged = asyncio.run(page_everyone(roster, label, Path(tmp) / "p.db"))
    clearance = {p.id: p.max_tlp for p in people}
    assert all(label.allows(clearance[person]) for person, _role in paged)
