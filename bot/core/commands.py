"""The command language shared by every platform: text in, a typed command or a refusal out.

`declare [--exercise] [--tlp LABEL] <title>` and the rest. The parser never raises on user
input: anything it cannot read becomes a `ParseError` whose reason is shown with the usage.
`GRAMMAR` is the one list of the command words, each with the parser of the rest of the line.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import get_args, get_type_hints

from bot.core.levels import Level
from bot.core.tlp import TLP

MAX_INPUT = 8_000
MAX_TITLE = 200
MAX_TEXT = 4_000


@dataclass(frozen=True, slots=True)
class Declare:
    title: str
    exercise: bool = False
    tlp: TLP | None = None


@dataclass(frozen=True, slots=True)
class AnswerQuestion:
    question: str
    option: str


@dataclass(frozen=True, slots=True)
class Confirm:
    pass


@dataclass(frozen=True, slots=True)
class SetLevel:
    level: Level
    reason: str


@dataclass(frozen=True, slots=True)
class SetTlp:
    tlp: TLP
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Note:
    text: str


@dataclass(frozen=True, slots=True)
class Simple:
    """A command without arguments: status, timeline, contain, resolve, reopen."""

    name: str


@dataclass(frozen=True, slots=True)
class Close:
    """`close`, or `close confirm` to close while regulatory reports are still unfiled."""

    confirmed: bool = False


@dataclass(frozen=True, slots=True)
class PageAnswer:
    """A paged person accepts or declines, from the page's buttons."""

    accept: bool
    incident_id: str
    role: str


@dataclass(frozen=True, slots=True)
class PageMember:
    person: str
    role: str


@dataclass(frozen=True, slots=True)
class Release:
    person: str


@dataclass(frozen=True, slots=True)
class Swap:
    leaving: str
    joining: str


@dataclass(frozen=True, slots=True)
class Approve:
    person: str


@dataclass(frozen=True, slots=True)
class CheckinUpdate:
    text: str


@dataclass(frozen=True, slots=True)
class Filed:
    clock: str


@dataclass(frozen=True, slots=True)
class AddLesson:
    text: str
    owner: str | None = None  # as typed: id, name or @handle
    due: date | None = None


@dataclass(frozen=True, slots=True)
class LessonDone:
    number: int


@dataclass(frozen=True, slots=True)
class Share:
    orgs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unshare:
    org: str


@dataclass(frozen=True, slots=True)
class Help:
    topic: str | None = None


Command = (
    Declare
    | AnswerQuestion
    | Confirm
    | SetLevel
    | SetTlp
    | Note
    | Simple
    | Close
    | Help
    | PageAnswer
    | PageMember
    | Release
    | Swap
    | Approve
    | CheckinUpdate
    | Filed
    | Share
    | Unshare
    | AddLesson
    | LessonDone
)


@dataclass(frozen=True, slots=True)
class ParseError:
    command: str | None  # the command the user meant, when known (its usage is shown)
    reason: str


Parser = Callable[[str, str], Command | ParseError]
"""Reads a command from the word as typed and the rest of the line (trimmed, its breaks kept)."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One entry of the grammar: the command's word, other words for it, and its parser."""

    word: str
    parse: Parser
    aliases: tuple[str, ...] = ()

    @property
    def produces(self) -> frozenset[type[Command]]:
        """The command classes the parser gives, read from its return annotation (which mypy
        holds the parser to): `Simple | ParseError` gives {Simple}."""
        returned = get_type_hints(self.parse)["return"]
        return frozenset(get_args(returned) or (returned,)) - {ParseError}


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """Normalise user text: NFC, no control or bidi-override characters, trimmed."""
    return _CONTROL.sub("", unicodedata.normalize("NFC", text)).strip()


def parse(text: str) -> Command | ParseError:
    if len(text) > MAX_INPUT:
        return ParseError(
            None, f"That message is too long ({len(text)} characters; at most {MAX_INPUT})."
        )
    cleaned = clean(text)
    words = cleaned.split()
    if not words:
        return ParseError(None, "Type a command, for example `declare <title>` or `help`.")
    name = words[0].lower()
    rule = _RULES.get(name)
    if rule is None:
        return ParseError(None, f"Unknown command `{_shorten(name)}`. Try `help`.")
    return rule.parse(name, cleaned[len(words[0]) :].strip())


def rule_for(word: str) -> Rule | None:
    """The grammar's entry for a word (an alias gives its command's), None for no command."""
    return _RULES.get(word)


def _sentence(error: Exception) -> str:
    text = str(error)
    return text[:1].upper() + text[1:] + "."


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _take_option(args: list[str], flag: str) -> tuple[str | None, list[str]] | ParseError:
    """Remove `flag VALUE` from args; the value is one word."""
    if flag not in args:
        return None, args
    at = args.index(flag)
    if at + 1 >= len(args) or args[at + 1].startswith("--"):
        return ParseError(None, f"`{flag}` needs a value.")
    return args[at + 1], args[:at] + args[at + 2 :]


def _take_reason(args: list[str]) -> tuple[str, list[str]]:
    """Everything after `--reason` is the reason."""
    if "--reason" not in args:
        return "", args
    at = args.index("--reason")
    return " ".join(args[at + 1 :]), args[:at]


def _unknown_flag(name: str, args: list[str]) -> ParseError | None:
    flags = [word for word in args if word.startswith("--")]
    return ParseError(name, f"Unknown option `{_shorten(flags[0])}`.") if flags else None


def _parse_declare(word: str, rest: str) -> Declare | ParseError:
    args = rest.split()
    exercise = "--exercise" in args
    args = [arg for arg in args if arg != "--exercise"]
    taken = _take_option(args, "--tlp")
    if isinstance(taken, ParseError):
        return ParseError("declare", taken.reason)
    label, args = taken
    tlp = None
    if label is not None:
        try:
            tlp = TLP.parse(label)
        except ValueError as error:
            return ParseError("declare", _sentence(error))
    if problem := _unknown_flag("declare", args):
        return problem
    title = " ".join(args)
    if not title:
        return ParseError("declare", "Give the incident a title.")
    if len(title) > MAX_TITLE:
        return ParseError("declare", f"The title is too long (at most {MAX_TITLE} characters).")
    return Declare(title=title, exercise=exercise, tlp=tlp)


def _parse_answer(word: str, rest: str) -> AnswerQuestion | ParseError:
    args = rest.split()
    if len(args) != 2:
        return ParseError("answer", "Give a question and one option, e.g. `answer Q3 2`.")
    question, option = args
    if not re.fullmatch(r"[Qq]\d{1,2}[a-zA-Z]?", question):
        return ParseError("answer", f"`{_shorten(question)}` is not a question number like Q3.")
    return AnswerQuestion(question=question.upper(), option=option.lower())


def _parse_confirm(word: str, rest: str) -> Confirm | ParseError:
    return ParseError("confirm", "`confirm` takes no arguments.") if rest else Confirm()


def _parse_level(word: str, rest: str) -> SetLevel | ParseError:
    reason, args = _take_reason(rest.split())
    if len(args) != 1:
        return ParseError("level", "Give one level: L1, L2 or L3.")
    try:
        level = Level.parse(args[0])
    except ValueError as error:
        return ParseError("level", _sentence(error))
    if not reason:
        return ParseError("level", "Setting the level by hand needs `--reason <why>`.")
    return SetLevel(level=level, reason=reason[:MAX_TEXT])


def _parse_tlp(word: str, rest: str) -> SetTlp | ParseError:
    reason, args = _take_reason(rest.split())
    if len(args) != 1:
        return ParseError("tlp", "Give one label, e.g. `tlp red`.")
    try:
        return SetTlp(tlp=TLP.parse(args[0]), reason=reason[:MAX_TEXT])
    except ValueError as error:
        return ParseError("tlp", _sentence(error))


def _parse_simple(word: str, rest: str) -> Simple | ParseError:
    return ParseError(word, f"`{word}` takes no arguments.") if rest else Simple(word)


def _parse_close(word: str, rest: str) -> Close | ParseError:
    if rest.lower() == "confirm":
        return Close(confirmed=True)
    if rest:
        return ParseError("close", "Use `close`, or `close confirm` to close with reports unfiled.")
    return Close()


def _parse_note(word: str, text: str) -> Note | ParseError:
    """A note keeps its own line breaks and spacing."""
    if not text:
        return ParseError("note", "Write the note after `note`.")
    if len(text) > MAX_TEXT:
        return ParseError("note", f"The note is too long (at most {MAX_TEXT} characters).")
    return Note(text=text)


def _parse_update(name: str, text: str) -> CheckinUpdate | ParseError:
    if not text:
        return ParseError(name, "Write Conditions / Actions / Needs after the command.")
    if len(text) > MAX_TEXT:
        return ParseError(name, f"The update is too long (at most {MAX_TEXT} characters).")
    return CheckinUpdate(text=text)


def _parse_page(word: str, rest: str) -> PageAnswer | PageMember | ParseError:
    args = rest.split()
    if args and args[0].lower() in ("accept", "decline"):
        if len(args) != 3:
            return ParseError("page", "Use the buttons of the page, or `page accept <id> <role>`.")
        return PageAnswer(
            accept=args[0].lower() == "accept", incident_id=args[1].upper(), role=args[2].lower()
        )
    lowered = [arg.lower() for arg in args]
    if "as" not in lowered:
        return ParseError("page", "Name the person and the role, e.g. `page Bob as analyst`.")
    at = len(lowered) - 1 - lowered[::-1].index("as")
    person, role = " ".join(args[:at]), args[at + 1 :]
    if not person or len(role) != 1:
        return ParseError("page", "Name the person and one role, e.g. `page Bob as analyst`.")
    return PageMember(person=person, role=role[0].lower())


def _person(word: str, rest: str) -> str | ParseError:
    if not rest:
        return ParseError(word, "Name the person, by id, full name or first name.")
    return " ".join(rest.split())


def _parse_release(word: str, rest: str) -> Release | ParseError:
    person = _person(word, rest)
    return person if isinstance(person, ParseError) else Release(person=person)


def _parse_approve(word: str, rest: str) -> Approve | ParseError:
    person = _person(word, rest)
    return person if isinstance(person, ParseError) else Approve(person=person)


def _parse_swap(word: str, rest: str) -> Swap | ParseError:
    args = rest.split()
    lowered = [arg.lower() for arg in args]
    if "with" not in lowered:
        return ParseError("swap", "Use `swap <person> with <person>`.")
    at = lowered.index("with")
    leaving, joining = " ".join(args[:at]), " ".join(args[at + 1 :])
    if not leaving or not joining:
        return ParseError("swap", "Use `swap <person> with <person>`.")
    return Swap(leaving=leaving, joining=joining)


def _parse_filed(word: str, rest: str) -> Filed | ParseError:
    args = rest.split()
    if len(args) != 1:
        return ParseError("filed", "Name one clock, e.g. `filed nis2_early_warning`.")
    return Filed(clock=args[0].lower())


def _parse_lesson(word: str, text: str) -> AddLesson | LessonDone | ParseError:
    """`lesson <text> [owner @person] [due YYYY-MM-DD]`, or `lesson done <n>`."""
    args = text.split()
    if args and args[0].lower() == "done" and len(args) <= 2:
        if len(args) == 2 and args[1].isdigit():
            return LessonDone(number=int(args[1]))
        return ParseError("lesson", "Say which lesson is done by its number, e.g. `lesson done 2`.")
    owner: str | None = None
    due: date | None = None
    while len(args) >= 2 and args[-2].lower() in ("owner", "due"):
        flag, value = args[-2].lower(), args[-1]
        if flag == "due" and due is None:
            try:
                due = date.fromisoformat(value)
            except ValueError:
                return ParseError("lesson", f"`{_shorten(value)}` is not a date like 2026-12-31.")
        elif flag == "owner" and owner is None:
            owner = value.removeprefix("@")
        else:
            return ParseError("lesson", f"`{flag}` is given twice.")
        args = args[:-2]
    lesson = " ".join(args)
    if not lesson:
        return ParseError("lesson", "Write the lesson learned after `lesson`.")
    if len(lesson) > MAX_TEXT:
        return ParseError("lesson", f"The lesson is too long (at most {MAX_TEXT} characters).")
    return AddLesson(text=lesson, owner=owner, due=due)


def _parse_share(word: str, rest: str) -> Share | ParseError:
    args = rest.split()
    if not args:
        return ParseError("share", "Name one or more organisations, e.g. `share police`.")
    return Share(orgs=tuple(arg.lower() for arg in args))


def _parse_unshare(word: str, rest: str) -> Unshare | ParseError:
    args = rest.split()
    if len(args) != 1:
        return ParseError("unshare", "Name one organisation, e.g. `unshare police`.")
    return Unshare(org=args[0].lower())


def _parse_help(word: str, rest: str) -> Help | ParseError:
    args = rest.split()
    if len(args) > 1:
        return ParseError("help", "Ask about one command, e.g. `help declare`.")
    return Help(topic=args[0].lower() if args else None)


GRAMMAR: tuple[Rule, ...] = (
    Rule("declare", _parse_declare),
    Rule("answer", _parse_answer),
    Rule("confirm", _parse_confirm),
    Rule("level", _parse_level),
    Rule("tlp", _parse_tlp),
    Rule("note", _parse_note),
    *(
        Rule(word, _parse_simple)
        for word in (
            "status",
            "timeline",
            "contain",
            "resolve",
            "reopen",
            "team",
            "clocks",
            "enforce",
            "lessons",
            "endex",
            "realworld",
        )
    ),
    Rule("close", _parse_close),
    Rule("page", _parse_page),
    Rule("release", _parse_release),
    Rule("swap", _parse_swap),
    Rule("approve", _parse_approve),
    Rule("update", _parse_update, aliases=("checkin",)),
    Rule("filed", _parse_filed),
    Rule("lesson", _parse_lesson),
    Rule("share", _parse_share),
    Rule("unshare", _parse_unshare),
    Rule("help", _parse_help),
)
"""Every command word and the parser of what follows it: the only list of the words."""

_RULES = {word: rule for rule in GRAMMAR for word in (rule.word, *rule.aliases)}
COMMAND_NAMES = tuple(_RULES)  # every word the parser knows, aliases too
