"""Help is generated from the handlers' docstrings: every command has one."""

from __future__ import annotations

import pytest

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot
from bot.core.commands import COMMAND_NAMES, GRAMMAR, ParseError, Simple, parse, rule_for
from handlers.registry import ROUTES, route_for, usage

WORDS = sorted({route.word for route in ROUTES})


def test_every_word_has_a_handler_and_every_handler_a_word_giving_its_class() -> None:
    """The grammar's (word, class) pairs are the routes': no word without a handler, no
    handler for a class its word's parser does not give."""
    grammar = {(rule.word, command) for rule in GRAMMAR for command in rule.produces}
    routes = {(route.word, route.command) for route in ROUTES}
    assert routes == grammar


def test_routes_are_told_apart_and_a_word_has_one_handler() -> None:
    keys = [route.word if route.command is Simple else route.command for route in ROUTES]
    assert len(keys) == len(set(keys))
    for word in WORDS:
        assert len({route.handler for route in ROUTES if route.word == word}) == 1


@pytest.mark.parametrize(
    ("text", "word"),
    [
        *((rule.word, rule.word) for rule in GRAMMAR if Simple in rule.produces),
        ("declare Outage", "declare"),
        ("page bob as analyst", "page"),
        ("page accept INC-2026-0001 analyst", "page"),
        ("lesson done 2", "lesson"),
        ("lesson Keep offline backups", "lesson"),
        ("checkin all quiet", "update"),
        ("help", "help"),
    ],
)
def test_a_parsed_command_finds_the_route_of_its_word(text: str, word: str) -> None:
    parsed = parse(text)
    assert not isinstance(parsed, ParseError)
    route = route_for(parsed)
    assert route.word == word
    assert isinstance(parsed, route.command)


def test_every_command_has_a_usage_line_naming_it() -> None:
    for name in COMMAND_NAMES:
        rule = rule_for(name)
        assert rule is not None
        assert usage(name).split()[0] == rule.word
    assert usage("checkin") == usage("update")
    assert usage("frobnicate") == ""


async def test_help_lists_every_command(bot: Bot, console: ConsolePlatform) -> None:
    await console.say("bob", console.lobby, "help")
    listing = console.last(console.lobby).text
    for name in WORDS:
        assert f"`{usage(name)}` — " in listing
    assert listing.count("\n") == len(WORDS)  # each once


@pytest.mark.parametrize("name", WORDS)
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
