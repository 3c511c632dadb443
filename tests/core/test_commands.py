"""The shared command parser: every command, its malformed variants, and fuzzing."""

from __future__ import annotations

from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.commands import (
    COMMAND_NAMES,
    GRAMMAR,
    MAX_INPUT,
    MAX_TEXT,
    MAX_TITLE,
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
    ParseError,
    Release,
    SetLevel,
    SetTlp,
    Simple,
    Swap,
    clean,
    parse,
    rule_for,
)
from bot.core.levels import Level
from bot.core.tlp import TLP

PARSED: list[tuple[str, Command]] = [
    ("declare Ransomware at the hospital", Declare("Ransomware at the hospital")),
    ("DECLARE  Outage", Declare("Outage")),
    ("declare --exercise Drill", Declare("Drill", exercise=True)),
    ("declare Drill --exercise", Declare("Drill", exercise=True)),
    ("declare --tlp red Leak", Declare("Leak", tlp=TLP.RED)),
    ("declare --tlp TLP:AMBER+STRICT Leak", Declare("Leak", tlp=TLP.AMBER_STRICT)),
    (
        "declare --exercise --tlp green Phishing wave",
        Declare("Phishing wave", exercise=True, tlp=TLP.GREEN),
    ),
    ("declare Grid down --tlp clear", Declare("Grid down", tlp=TLP.CLEAR)),
    ("declare " + "t" * MAX_TITLE, Declare("t" * MAX_TITLE)),
    ("answer Q3 2", AnswerQuestion("Q3", "2")),
    ("answer q14a Yes", AnswerQuestion("Q14A", "yes")),
    ("answer Q4 unknown", AnswerQuestion("Q4", "unknown")),
    ("answer Q2 2026-11-30T07:45", AnswerQuestion("Q2", "2026-11-30t07:45")),
    ("confirm", Confirm()),
    ("Confirm", Confirm()),
    ("level L3 --reason hospital closed", SetLevel(Level.L3, "hospital closed")),
    ("level 2 --reason the minister asked", SetLevel(Level.L2, "the minister asked")),
    ("level l1 --reason downgrade after review", SetLevel(Level.L1, "downgrade after review")),
    ("tlp red", SetTlp(TLP.RED)),
    ("tlp amber-strict", SetTlp(TLP.AMBER_STRICT)),
    ("tlp green --reason published advisory", SetTlp(TLP.GREEN, "published advisory")),
    ("note Backups restored", Note("Backups restored")),
    ("note line one\nline two\n\n  indented", Note("line one\nline two\n\n  indented")),
    ("note windows line\r\nends", Note("windows line\nends")),
    ("note  --tlp is not a flag here", Note("--tlp is not a flag here")),
    ("note " + "n" * MAX_TEXT, Note("n" * MAX_TEXT)),
    ("status", Simple("status")),
    ("timeline", Simple("timeline")),
    ("contain", Simple("contain")),
    ("resolve", Simple("resolve")),
    ("close", Close()),
    ("close confirm", Close(confirmed=True)),
    ("reopen", Simple("reopen")),
    ("  STATUS  ", Simple("status")),
    ("help", Help()),
    ("help Declare", Help("declare")),
    ("declare \u202eevil\u202c title", Declare("evil title")),
    ("declare Out\u200bage\x07 at\x00 X", Declare("Outage at X")),
    ("note a\u2066b\u2069c", Note("abc")),
]


@pytest.mark.parametrize(("text", "command"), PARSED, ids=[text[:40] for text, _ in PARSED])
def test_commands_parse(text: str, command: Command) -> None:
    assert parse(text) == command


MALFORMED: list[tuple[str, str | None, str]] = [
    ("", None, "Type a command"),
    ("   \n\t ", None, "Type a command"),
    ("\u202e\u200b", None, "Type a command"),
    ("dance", None, "Unknown command `dance`"),
    ("x" * 100, None, "Unknown command `" + "x" * 39 + "…`"),
    ("declare", "declare", "Give the incident a title"),
    ("declare --exercise", "declare", "Give the incident a title"),
    ("declare --tlp red", "declare", "Give the incident a title"),
    ("declare --tlp", "declare", "`--tlp` needs a value"),
    ("declare Leak --tlp", "declare", "`--tlp` needs a value"),
    ("declare --tlp --exercise", "declare", "`--tlp` needs a value"),
    ("declare --tlp purple Leak", "declare", "Unknown TLP label 'purple'"),
    ("declare --urgent Leak", "declare", "Unknown option `--urgent`"),
    ("declare " + "t" * (MAX_TITLE + 1), "declare", "title is too long"),
    ("answer", "answer", "Give a question and one option"),
    ("answer Q3", "answer", "Give a question and one option"),
    ("answer Q3 2 3", "answer", "Give a question and one option"),
    ("answer three 2", "answer", "`three` is not a question number"),
    ("answer Q123 2", "answer", "is not a question number"),
    ("confirm now", "confirm", "takes no arguments"),
    ("level", "level", "Give one level"),
    ("level L2", "level", "needs `--reason <why>`"),
    ("level L2 --reason", "level", "needs `--reason <why>`"),
    ("level --reason because", "level", "Give one level"),
    ("level L2 L3 --reason both", "level", "Give one level"),
    ("level L4 --reason why not", "level", "Unknown level 'L4'"),
    ("tlp", "tlp", "Give one label"),
    ("tlp purple", "tlp", "Unknown TLP label 'purple'"),
    ("tlp red amber", "tlp", "Give one label"),
    ("note", "note", "Write the note"),
    ("note   \n  ", "note", "Write the note"),
    ("note " + "n" * (MAX_TEXT + 1), "note", "note is too long"),
    ("status please", "status", "`status` takes no arguments"),
    ("close INC-2026-0001", "close", "or `close confirm` to close with reports unfiled"),
    ("reopen now", "reopen", "takes no arguments"),
    ("help declare level", "help", "Ask about one command"),
    ("declare " + "x" * MAX_INPUT, None, "That message is too long"),
]


@pytest.mark.parametrize(
    ("text", "command", "reason"), MALFORMED, ids=[text[:40] for text, _, _ in MALFORMED]
)
def test_malformed_commands_are_refused_with_a_reason(
    text: str, command: str | None, reason: str
) -> None:
    result = parse(text)
    assert isinstance(result, ParseError)
    assert result.command == command
    assert reason in result.reason


def test_the_reason_of_a_refused_level_is_a_sentence() -> None:
    result = parse("level L9 --reason x")
    assert isinstance(result, ParseError)
    assert result.reason == "Unknown level 'L9'; use L1, L2 or L3."


def test_a_long_reason_is_cut_to_the_text_limit() -> None:
    result = parse("level L2 --reason " + "r" * (MAX_TEXT + 50))
    assert isinstance(result, SetLevel)
    assert len(result.reason) == MAX_TEXT


def test_the_input_limit_is_inclusive() -> None:
    at_limit = "note " + "n" * (MAX_INPUT - 5)
    assert len(at_limit) == MAX_INPUT
    result = parse(at_limit)
    assert isinstance(result, ParseError)
    assert "note is too long" in result.reason  # past the note limit, not the input limit


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("  plain  ", "plain"),
        ("a\x00b\x1bc\x7fd", "abcd"),
        ("keep\ttabs\nand lines", "keep\ttabs\nand lines"),
        ("cr\r\nlf", "cr\nlf"),
        ("\u202aembedded\u202c \u2067isolate\u2069 \u200fmark", "embedded isolate mark"),
        ("e\u0301", "\u00e9"),  # NFC
    ],
)
def test_clean_strips_control_and_bidi_characters(text: str, cleaned: str) -> None:
    assert clean(text) == cleaned


# Fuzzing: whatever arrives, the parser answers and never raises.
WORDS = [*COMMAND_NAMES, "--exercise", "--tlp", "--reason", "red", "amber+strict", "L2", "Q3"]
JUNK = ["\n", "\t", "\u202e", "\u200b", "\x00", "--", "-", "—", "é", "🔥", "Q", "L9", " "]
command_like = st.lists(
    st.sampled_from(WORDS) | st.sampled_from(JUNK) | st.text(max_size=8), max_size=10
).map(" ".join)


def first_word(text: str) -> str | None:
    words = clean(text).split()
    return words[0].lower() if words else None


def check_answer(text: str) -> None:
    result = parse(text)
    if isinstance(result, ParseError):
        assert result.reason.strip()
        word = first_word(text)
        if word in COMMAND_NAMES:
            assert result.command == word
        else:
            assert result.command is None
    else:
        assert isinstance(result, get_args(Command))


@given(st.text())
def test_parse_never_raises_on_any_text(text: str) -> None:
    check_answer(text)


@given(command_like)
def test_parse_never_raises_on_command_like_text(text: str) -> None:
    check_answer(text)


@given(st.sampled_from(COMMAND_NAMES), st.lists(st.sampled_from(WORDS + JUNK), max_size=8))
def test_a_refused_known_command_names_itself(name: str, rest: list[str]) -> None:
    check_answer(" ".join([name, *rest]))


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=300))
def test_declared_titles_and_notes_carry_no_control_characters(text: str) -> None:
    for result in (parse("declare " + text), parse("note " + text)):
        carried = getattr(result, "title", None) or getattr(result, "text", None)
        if isinstance(carried, str):
            assert carried == carried.strip()
            assert not any(ch in carried for ch in "\x00\x1b\x7f\u202e\u200b\u2066\r")


TEAM_COMMANDS: list[tuple[str, Command]] = [
    ("page accept inc-2026-0001 analyst", PageAnswer(True, "INC-2026-0001", "analyst")),
    ("page decline INC-2026-0001 Forensics", PageAnswer(False, "INC-2026-0001", "forensics")),
    ("page Bob Peeters as analyst", PageMember(person="Bob Peeters", role="analyst")),
    ("page bob AS Scribe", PageMember(person="bob", role="scribe")),
    ("release Carla Dubois", Release(person="Carla Dubois")),
    ("approve dirk", Approve(person="dirk")),
    ("swap bob with Carla Dubois", Swap(leaving="bob", joining="Carla Dubois")),
    (
        "update C: stable\nA: reimaging\nN: none",
        CheckinUpdate(text="C: stable\nA: reimaging\nN: none"),
    ),
    ("checkin all quiet", CheckinUpdate(text="all quiet")),
    ("filed NIS2_early_warning", Filed(clock="nis2_early_warning")),
    ("team", Simple("team")),
    ("clocks", Simple("clocks")),
]


@pytest.mark.parametrize(("text", "expected"), TEAM_COMMANDS)
def test_team_commands_parse(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "page",
        "page bob",
        "page accept INC-2026-0001",
        "page as analyst",
        "page bob as",
        "release",
        "approve",
        "swap bob",
        "swap with carla",
        "update",
        "filed",
        "filed a b",
        "team now",
    ],
)
def test_malformed_team_commands_are_refused_with_their_usage(text: str) -> None:
    result = parse(text)
    assert isinstance(result, ParseError)
    assert result.command == text.split()[0]


def test_the_grammar_names_each_word_once() -> None:
    words = [word for rule in GRAMMAR for word in (rule.word, *rule.aliases)]
    assert len(words) == len(set(words)) == len(COMMAND_NAMES)
    assert set(words) == set(COMMAND_NAMES)


def test_an_alias_is_read_by_its_command_rule() -> None:
    assert rule_for("checkin") is rule_for("update")
    assert rule_for("dance") is None


def test_a_rule_produces_what_its_parser_is_annotated_to_give() -> None:
    rules = {rule.word: rule for rule in GRAMMAR}
    assert rules["page"].produces == {PageAnswer, PageMember}
    assert rules["lesson"].produces == {AddLesson, LessonDone}
    assert rules["status"].produces == {Simple}


def test_every_command_class_is_produced_by_the_grammar() -> None:
    produced = {command for rule in GRAMMAR for command in rule.produces}
    assert produced == set(get_args(Command))
