"""Which handler serves which command; help text comes from the handlers' docstrings.

`ROUTES` is the one table from command class to handler. The words are the grammar's
(`bot.core.commands.GRAMMAR`); a route names its word for help and, for `Simple` (one class
for many words), to tell its handlers apart.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bot.core.commands import (
    AddLesson,
    AnswerQuestion,
    Approve,
    CheckinUpdate,
    Close,
    Command,
    Confirm,
    Declare,
    Filed,
    Help,
    LessonDone,
    Note,
    PageAnswer,
    PageMember,
    Release,
    SetLevel,
    SetTlp,
    Share,
    Simple,
    Swap,
    Unshare,
    rule_for,
)
from handlers.answer import answer
from handlers.checkins import update
from handlers.clocks import clocks, filed
from handlers.context import Context
from handlers.declare import declare
from handlers.exercise import endex, realworld
from handlers.lessons import lesson, lessons
from handlers.level import confirm, set_level
from handlers.lifecycle import close, contain, reopen, resolve
from handlers.notes import note, status, timeline
from handlers.sharing import enforce, share, unshare
from handlers.team import approve, page, release, swap, team
from handlers.tlp import set_tlp

C = TypeVar("C", bound=Command)


@dataclass(frozen=True, slots=True)
class Route(Generic[C]):
    """A command class, the word that asks for it, and the handler that serves it.

    The handler must take the class: mypy refuses `Route("note", Note, declare)`.
    """

    word: str
    command: type[C]
    handler: Callable[[Context, C], Awaitable[None]]


async def help_command(ctx: Context, command: Help) -> None:
    """help [command]

    List the commands, or explain one.
    """
    if command.topic is None:
        await ctx.reply(overview())
        return
    route = _route_named(command.topic)
    if route is None:
        await ctx.reply(f"No command `{command.topic[:40]}`.\n\n{overview()}")
        return
    await ctx.reply(describe(route))


# Not annotated on purpose: under `tuple[Route[Any], ...]` mypy would read every entry as a
# `Route[Any]` and let a handler of another class through. In the order help lists them.
ROUTES = (
    Route("declare", Declare, declare),
    Route("answer", AnswerQuestion, answer),
    Route("confirm", Confirm, confirm),
    Route("level", SetLevel, set_level),
    Route("tlp", SetTlp, set_tlp),
    Route("share", Share, share),
    Route("unshare", Unshare, unshare),
    Route("enforce", Simple, enforce),
    Route("note", Note, note),
    Route("status", Simple, status),
    Route("timeline", Simple, timeline),
    Route("contain", Simple, contain),
    Route("resolve", Simple, resolve),
    Route("close", Close, close),
    Route("reopen", Simple, reopen),
    Route("page", PageAnswer, page),
    Route("page", PageMember, page),
    Route("approve", Approve, approve),
    Route("release", Release, release),
    Route("swap", Swap, swap),
    Route("team", Simple, team),
    Route("update", CheckinUpdate, update),
    Route("filed", Filed, filed),
    Route("clocks", Simple, clocks),
    Route("lesson", AddLesson, lesson),
    Route("lesson", LessonDone, lesson),
    Route("lessons", Simple, lessons),
    Route("endex", Simple, endex),
    Route("realworld", Simple, realworld),
    Route("help", Help, help_command),
)

_BY_CLASS: dict[type[object], Route[Any]] = {
    route.command: route for route in ROUTES if route.command is not Simple
}
_SIMPLE_BY_WORD: dict[str, Route[Any]] = {
    route.word: route for route in ROUTES if route.command is Simple
}
_BY_WORD: dict[str, Route[Any]] = {route.word: route for route in ROUTES}  # one handler a word


def route_for(command: C) -> Route[C]:
    """The route that serves a parsed command: by its class, and a `Simple` one by its word."""
    if isinstance(command, Simple):
        return _SIMPLE_BY_WORD[command.name]
    return _BY_CLASS[type(command)]


def _route_named(word: str) -> Route[Any] | None:
    """The route of the command a word names (an alias names its command), if any."""
    rule = rule_for(word)
    return _BY_WORD.get(rule.word) if rule else None


def usage(name: str) -> str:
    route = _route_named(name)
    return _paragraphs(route)[0] if route else ""


def describe(route: Route[Any]) -> str:
    usage_line, *rest = _paragraphs(route)
    return f"`{usage_line}`\n" + "\n".join(rest)


def overview() -> str:
    lines = []
    for route in _BY_WORD.values():
        usage_line, *rest = _paragraphs(route)
        lines.append(f"`{usage_line}` — {rest[0] if rest else ''}")
    return "Commands:\n" + "\n".join(lines)


def _paragraphs(route: Route[Any]) -> list[str]:
    """The handler's docstring's paragraphs, each on one line: the usage, then the explanation."""
    text = inspect.getdoc(route.handler) or ""
    paragraphs = [" ".join(block.split()) for block in text.split("\n\n")]
    return [paragraph for paragraph in paragraphs if paragraph] or [""]
