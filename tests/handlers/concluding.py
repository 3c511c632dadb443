"""A team bot that saves reports in a temporary directory, and a scripted incident to close."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from bot.adapters.console import ConsolePlatform
from bot.adapters.console.platform import BOT
from bot.bootstrap import Bot, build
from bot.core.clock import FakeClock
from tests.fixtures.settings import settings_in
from tests.handlers.conftest import dm, team_roster


def reporting_bot(tmp_path: Path, clock: FakeClock) -> Iterator[Bot]:
    """A team bot saving reports in `tmp_path / "reports"`; closed when the test ends."""
    wired = build(settings_in(tmp_path), clock=clock, roster=team_roster())
    wired.attach(ConsolePlatform(on_inbound=wired.dispatcher))
    yield wired
    wired.close()


def console_of(bot: Bot) -> ConsolePlatform:
    platform = bot.platform("console")
    assert isinstance(platform, ConsolePlatform)
    return platform


async def declare(chat: ConsolePlatform, *flags: str, title: str = "Phishing wave") -> str:
    await chat.say("alice", chat.lobby, " ".join(["declare", *flags, title]))
    prefix = "exercise-inc-2026-0001" if "--exercise" in flags else "inc-2026-0001"
    return chat.room_by_name(prefix).id


async def accept(chat: ConsolePlatform, person: str) -> None:
    await chat.click(person, dm(chat, person), "Accept")


async def respond_and_resolve(chat: ConsolePlatform, room: str, clock: FakeClock) -> None:
    """The coordinator takes it, Bob is paged and accepts, then contained and resolved."""
    await accept(chat, "alice")
    clock.advance(timedelta(minutes=10))
    await chat.say("alice", room, "level L1 --reason one mailbox")
    clock.advance(timedelta(minutes=5))
    await accept(chat, "bob")
    clock.advance(timedelta(minutes=45))
    await chat.say("alice", room, "contain")
    clock.advance(timedelta(hours=2))
    await chat.say("alice", room, "resolve")


def bot_messages(chat: ConsolePlatform) -> list[tuple[str, str]]:
    """(room name, text) of everything the bot has said, in every room and direct message."""
    return [
        (room.name, message.text)
        for room in chat.rooms.values()
        for message in room.messages
        if message.author == BOT
    ]
