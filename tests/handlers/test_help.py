"""Help is generated from the handlers' docstrings: every command has one."""

from __future__ import annotations

import pytest

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot
from bot.core.commands import ALIASES, COMMAND_NAMES
from handlers.registry import HANDLERS, usage


def test_every_command_has_a_handler_and_a_usage_line_naming_it() -> None:
    assert set(HANDLERS) == set(COMMAND_NAMES) - set(ALIASES)
    for name in HANDLERS:
        assert usage(name).split()[0] == name
    assert usage("checkin") == usage("update")


async def test_help_lists_every_command(bot: Bot, console: ConsolePlatform) -> None:
    await console.say("bob", console.lobby, "help")
    listing = console.last(console.lobby).text
    for name in HANDLERS:
        assert f"`{usage(name)}` — " in listing


@pytest.mark.parametrize("name", sorted(HANDLERS))
async def test_help_explains_one_command(name: str, bot: Bot, console: ConsolePlatform) -> None:
    await console.say("bob", console.lobby, f"help {name}")
    answer = console.last(console.lobby).text
    assert answer.startswith(f"`{usage(name)}`\n")
    assert len(answer.splitlines()) >= 2


async def test_help_for_an_unknown_command_says_so(bot: Bot, console: ConsolePlatform) -> None:
    await console.say("bob", console.lobby, "help frobnicate")
    assert console.last(console.lobby).text.startswith("No command `frobnicate`.")


async def test_a_malformed_command_shows_its_usage(bot: Bot, console: ConsolePlatform) -> None:
    await console.say("bob", console.lobby, "level L2")
    assert console.last(console.lobby).text == (
        "Setting the level by hand needs `--reason <why>`.\n"
        "Usage: `level <L1|L2|L3> --reason <why>`"
    )
