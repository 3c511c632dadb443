"""Lessons learned: numbering, the reminder moment, and the `lesson` command language."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.core.commands import AddLesson, LessonDone, ParseError, Simple, parse
from bot.core.lessons import Lesson, find, next_number

AT = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)


def lesson(number: int = 1, **extra: object) -> Lesson:
    data: dict[str, object] = {"number": number, "text": "t", "added_by": "alice", "added_at": AT}
    data.update(extra)
    return Lesson.model_validate(data)


def test_an_owned_open_lesson_is_reminded_on_the_morning_it_is_due() -> None:
    owned = lesson(owner="bob", due=date(2026, 12, 3))
    assert owned.remind_at == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    assert owned.state == "open"
    assert lesson(due=date(2026, 12, 3)).remind_at is None  # nobody to remind
    assert lesson(owner="bob").remind_at is None  # never due
    done = lesson(owner="bob", due=date(2026, 12, 3), done_at=AT, done_by="bob")
    assert done.remind_at is None
    assert done.state == "done"


def test_lessons_are_numbered_from_one_and_found_by_number() -> None:
    assert next_number([]) == 1
    lessons = [lesson(1), lesson(4)]
    assert next_number(lessons) == 5
    assert find(lessons, 4) is lessons[1]
    assert find(lessons, 2) is None


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("lesson Rotate keys", AddLesson("Rotate keys")),
        (
            "lesson Rotate keys owner @bob due 2026-12-03",
            AddLesson("Rotate keys", owner="bob", due=date(2026, 12, 3)),
        ),
        (
            "lesson Rotate keys due 2026-12-03 owner Bob",
            AddLesson("Rotate keys", owner="Bob", due=date(2026, 12, 3)),
        ),
        ("lesson The owner was late", AddLesson("The owner was late")),
        ("lesson done 2", LessonDone(2)),
        ("LESSON DONE 12", LessonDone(12)),
        ("lessons", Simple("lessons")),
        ("endex", Simple("endex")),
        ("realworld", Simple("realworld")),
    ],
)
def test_lesson_commands_parse(text: str, command: object) -> None:
    assert parse(text) == command


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("lesson", "Write the lesson learned after `lesson`."),
        ("lesson owner bob", "Write the lesson learned after `lesson`."),
        ("lesson done", "Say which lesson is done by its number, e.g. `lesson done 2`."),
        ("lesson done two", "Say which lesson is done by its number, e.g. `lesson done 2`."),
        ("lesson Patch due 3/12", "`3/12` is not a date like 2026-12-31."),
        ("lesson Patch owner a owner b", "`owner` is given twice."),
        ("lesson " + "x" * 4001, "The lesson is too long (at most 4000 characters)."),
        ("endex now", "`endex` takes no arguments."),
    ],
)
def test_lesson_mistakes_are_parse_errors(text: str, reason: str) -> None:
    result = parse(text)
    assert isinstance(result, ParseError)
    assert result.reason == reason
