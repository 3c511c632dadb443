"""Which handler serves which command; help text comes from the handlers' docstrings."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from bot.core.commands import (
    ALIASES,
    AddLesson,
    AnswerQuestion,
    Approve,
    CheckinUpdate,
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

Handler = Callable[[Context, Any], Awaitable[None]]


async def help_command(ctx: Context, command: Help) -> None:
    """help [command]

    List the commands, or explain one.
    """
    if command.topic is None:
        await ctx.reply(overview())
        return
    handler = HANDLERS.get(ALIASES.get(command.topic, command.topic))
    if handler is None:
        await ctx.reply(f"No command `{command.topic[:40]}`.\n\n{overview()}")
        return
    await ctx.reply(describe(handler))


HANDLERS: dict[str, Handler] = {
    "declare": declare,
    "answer": answer,
    "confirm": confirm,
    "level": set_level,
    "tlp": set_tlp,
    "share": share,
    "unshare": unshare,
    "enforce": enforce,
    "note": note,
    "status": status,
    "timeline": timeline,
    "contain": contain,
    "resolve": resolve,
    "close": close,
    "reopen": reopen,
    "page": page,
    "approve": approve,
    "release": release,
    "swap": swap,
    "team": team,
    "update": update,
    "filed": filed,
    "clocks": clocks,
    "lesson": lesson,
    "lessons": lessons,
    "endex": endex,
    "realworld": realworld,
    "help": help_command,
}


def command_name(command: Command) -> str:
    match command:
        case Declare():
            return "declare"
        case AnswerQuestion():
            return "answer"
        case Confirm():
            return "confirm"
        case SetLevel():
            return "level"
        case SetTlp():
            return "tlp"
        case Share():
            return "share"
        case Unshare():
            return "unshare"
        case Note():
            return "note"
        case Help():
            return "help"
        case PageAnswer() | PageMember():
            return "page"
        case Approve():
            return "approve"
        case Release():
            return "release"
        case Swap():
            return "swap"
        case CheckinUpdate():
            return "update"
        case Filed():
            return "filed"
        case AddLesson() | LessonDone():
            return "lesson"
        case Simple(name=name):
            return name


def usage(name: str) -> str:
    handler = HANDLERS.get(ALIASES.get(name, name))
    return _paragraphs(handler)[0] if handler else ""


def describe(handler: Handler) -> str:
    usage_line, *rest = _paragraphs(handler)
    return f"`{usage_line}`\n" + "\n".join(rest)


def overview() -> str:
    lines = []
    for handler in HANDLERS.values():
        usage_line, *rest = _paragraphs(handler)
        lines.append(f"`{usage_line}` — {rest[0] if rest else ''}")
    return "Commands:\n" + "\n".join(lines)


def _paragraphs(handler: Handler) -> list[str]:
    """The docstring's paragraphs, each on one line: the usage first, then the explanation."""
    text = inspect.getdoc(handler) or ""
    paragraphs = [" ".join(block.split()) for block in text.split("\n\n")]
    return [paragraph for paragraph in paragraphs if paragraph] or [""]
