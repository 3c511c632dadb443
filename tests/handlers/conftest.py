"""A bot with a team-sized roster, and helpers to read what it logged and sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot, build
from bot.core.clock import FakeClock
from bot.core.roster import Roster
from bot.core.tlp import TLP
from config.settings import Settings
from tests.fixtures.roster import person, small_roster


def team_roster() -> Roster:
    """The small roster with a third analyst, Erik, cleared up to TLP:AMBER."""
    base = small_roster()
    erik = person("erik", "Erik Maes", "cert", ["analyst"], max_tlp=TLP.AMBER)
    return base.model_copy(update={"people": [*base.people[:3], erik, *base.people[3:]]})


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "team.db"


def wire(
    db: Path, clock: FakeClock, chat: ConsolePlatform | None = None, roster: Roster | None = None
) -> Bot:
    """A bot on `db` (with the team roster unless told); pass the chat of a stopped bot to
    restart on the same platform."""
    wired = build(
        Settings(database_url=f"sqlite:///{db}", reports_dir=db.parent / "reports"),
        clock=clock,
        roster=roster or team_roster(),
    )
    if chat is None:
        chat = ConsolePlatform()
    chat.on_inbound = wired.dispatcher
    wired.attach(chat)
    return wired


@pytest.fixture
def team_bot(db: Path, clock: FakeClock) -> Iterator[Bot]:
    wired = wire(db, clock)
    yield wired
    wired.close()


@pytest.fixture
def chat(team_bot: Bot) -> ConsolePlatform:
    platform = team_bot.platform("console")
    assert isinstance(platform, ConsolePlatform)
    return platform


def kinds(bot: Bot, *wanted: str, incident: str = "INC-2026-0001") -> list[str]:
    return [r.event.kind for r in bot.store.log(incident) if not wanted or r.event.kind in wanted]


def pages(bot: Bot, incident: str = "INC-2026-0001") -> list[tuple[str, str]]:
    """(person, role) of every page sent, in order."""
    return [
        (r.event.data["person"], r.event.data["role"])
        for r in bot.store.log(incident)
        if r.event.kind == "paged"
    ]


def dm(chat: ConsolePlatform, user: str) -> str:
    room = chat.direct_room(user)
    return room.messages[-1].id if room and room.messages else ""


def dm_text(chat: ConsolePlatform, user: str) -> str:
    room = chat.direct_room(user)
    return "\n".join(m.text for m in room.messages) if room else ""


async def declare(chat: ConsolePlatform, title: str = "Ransomware at AZ Noord", *flags: str) -> str:
    await chat.say("alice", chat.lobby, " ".join(["declare", *flags, title]))
    return chat.room_by_name("inc-2026-0001").id
