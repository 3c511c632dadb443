"""Lessons learned (policy §7, §8): what to improve, who owns it, by when, and if it is done."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from pydantic import BaseModel

# Owners are reminded on the morning of the due day, not at midnight.
REMINDER_TIME = time(8, 0, tzinfo=UTC)


class Lesson(BaseModel):
    number: int  # 1, 2, … within the incident: how people refer to it
    text: str
    added_by: str
    added_at: datetime
    owner: str | None = None  # roster person id
    due: date | None = None
    done_at: datetime | None = None
    done_by: str | None = None

    @property
    def is_open(self) -> bool:
        return self.done_at is None

    @property
    def remind_at(self) -> datetime | None:
        """When the owner is reminded: an open lesson with an owner and a due date."""
        if self.due is None or self.owner is None or not self.is_open:
            return None
        return datetime.combine(self.due, REMINDER_TIME)

    @property
    def state(self) -> str:
        return "open" if self.is_open else "done"


def next_number(lessons: list[Lesson]) -> int:
    return max((lesson.number for lesson in lessons), default=0) + 1


def find(lessons: list[Lesson], number: int) -> Lesson | None:
    return next((lesson for lesson in lessons if lesson.number == number), None)
