"""`rrt console`: type commands as a chosen roster member, without Slack or Matrix.

Lines starting with `:` steer the console (`:as <name>`, `:go <room>`, `:click <n>`,
`:react <n>`, `:rooms`, `:quit`); every other line is said in the current room.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot, build
from config.settings import Settings

INTRO = (
    "rrt console: you are {who} in #lobby. Type `declare <title>` to start, `help` for the "
    "bot's commands, `:as <name>` to be someone else, `:go <room>`, `:click <n>`, "
    "`:react <n>`, `:rooms`, `:quit`."
)


class ConsoleSession:
    def __init__(self, bot: Bot, console: ConsolePlatform, out: Callable[[str], None]) -> None:
        self.bot, self.console, self.out = bot, console, out
        coordinators = bot.services.roster.holders("coordinator")
        self.who = coordinators[0].id if coordinators else bot.services.roster.people[0].id
        self.room = console.lobby

    async def line(self, text: str, event_id: str | None = None) -> bool:
        """Handle one typed line; False when the session ends.

        A given `event_id` names what the line sends, so that sending it again is a duplicate.
        """
        text = text.strip()
        if not text:
            return True
        if not text.startswith(":"):
            rooms_before = set(self.console.rooms)
            await self.console.say(self.who, self.room, text, event_id=event_id)
            new_rooms = [r for r in self.console.rooms if r not in rooms_before]
            war_rooms = [r for r in new_rooms if self.console.rooms[r].direct_with is None]
            if war_rooms:
                self.room = war_rooms[-1]
                self.out(f"(you are now in #{self.console.rooms[self.room].name})")
            return True
        verb, _, rest = text[1:].partition(" ")
        match verb:
            case "quit" | "q":
                return False
            case "as":
                self._become(rest)
            case "go":
                self._go(rest)
            case "rooms":
                for room in self.console.rooms.values():
                    self.out(f"#{room.name} ({len(room.members)} members)")
            case "click" | "react":
                await self._choose(verb, rest, event_id)
            case _:
                self.out(f"Unknown console command :{verb}")
        return True

    def _become(self, name: str) -> None:
        person = self.bot.services.roster.by_name(name)
        if person is None:
            self.out(f"No one called {name!r} on the roster.")
            return
        self.who = person.handles.get("console", person.id)
        self.out(f"(you are now {person.name}, {person.org}, roles: {', '.join(person.roles)})")

    def _go(self, name: str) -> None:
        name = name.lstrip("#").strip()
        matches = (
            [r for r in self.console.rooms.values() if r.name.startswith(name)] if name else []
        )
        if not matches:
            self.out(f"No room {name!r}; see :rooms")
            return
        self.room = matches[0].id
        self.out(f"(you are now in #{matches[0].name})")

    async def _choose(self, verb: str, number: str, event_id: str | None = None) -> None:
        prompts = [m for m in self.console.rooms[self.room].messages if m.buttons]
        if not prompts or not number.strip().isdigit():
            self.out(f"Use :{verb} <n> under a message with options.")
            return
        prompt, index = prompts[-1], int(number) - 1
        if not 0 <= index < len(prompt.buttons):
            self.out(f"Choose 1 to {len(prompt.buttons)}.")
            return
        if verb == "click":
            await self.console.click(
                self.who, prompt.id, prompt.buttons[index][0], event_id=event_id
            )
        else:
            await self.console.react(self.who, prompt.id, f"{index + 1}\ufe0f\u20e3")


async def run_console(
    settings: Settings, db: Path, stream: TextIO, out: Callable[[str], None]
) -> int:
    db.parent.mkdir(parents=True, exist_ok=True)
    bot = build(settings.model_copy(update={"database_url": f"sqlite:///{db}"}))
    console = ConsolePlatform(on_inbound=bot.dispatcher, echo=out, state=bot.store.kv)
    bot.attach(console)
    session = ConsoleSession(bot, console, out)
    out(INTRO.format(who=session.who))
    try:
        await bot.start()
        while True:
            text = await asyncio.to_thread(stream.readline)
            if not text or not await session.line(text):
                break
    finally:
        bot.close()
    return 0
