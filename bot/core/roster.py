"""Who can be called: people, their organisations, roles, clearance and on-call windows."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date, datetime, time
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from bot.core.tlp import TLP

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
Language = Literal["nl", "fr", "de", "en"]
OrgKind = Literal[
    "cert",
    "police",
    "crisis_centre",
    "sector_authority",
    "operator",
    "prosecutor",
    "intelligence",
    "eu_network",
    "other",
]
Issue = tuple[tuple[str | int, ...], str]  # (location in the roster data, message)


def _tlp(value: Any) -> Any:
    return TLP.parse(value) if isinstance(value, str) else value


TlpLabel = Annotated[
    TLP, BeforeValidator(_tlp), PlainSerializer(lambda t: t.value, return_type=str)
]


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def number(self) -> int:
        """Monday is 0, as in `datetime.weekday()`."""
        return list(Weekday).index(self)


def _days(value: Any) -> Any:
    """Accept `mon-fri`, `sat,sun`, `daily`, or a list of day names."""
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    if text in {"daily", "every day", "all"}:
        return list(Weekday)
    days: list[str] = []
    for part in text.split(","):
        start, _, end = part.strip().partition("-")
        if not end:
            days.append(start)
            continue
        try:
            first, last = Weekday(start).number, Weekday(end.strip()).number
        except ValueError:
            raise ValueError(f"bad day range {part.strip()!r}; use e.g. mon-fri") from None
        span = range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)]
        days.extend(list(Weekday)[i].value for i in span)
    return days


class OnCallWindow(BaseModel):
    """A weekly window; `end` at or before `start` runs past midnight, equal means all day."""

    model_config = ConfigDict(extra="forbid")

    days: Annotated[list[Weekday], BeforeValidator(_days)] = Field(min_length=1)
    start: time
    end: time
    timezone: str = "Europe/Brussels"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {name!r} (use e.g. Europe/Brussels)") from None
        return name

    def covers(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone))
        days = list(Weekday)
        today, yesterday = days[local.weekday()], days[(local.weekday() - 1) % 7]
        clock = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return today in self.days and self.start <= clock < self.end
        if self.start == self.end:
            return today in self.days
        # Past midnight: the evening part belongs to today, the early part to yesterday's shift.
        return (today in self.days and clock >= self.start) or (
            yesterday in self.days and clock < self.end
        )


class Organisation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=SLUG.pattern)
    name: str = Field(min_length=1)
    kind: OrgKind
    sector: str | None = None  # e.g. health, energy: steers skill matching (OT → ics)
    languages: list[Language] = Field(default_factory=list)  # spoken with it, when affected


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=SLUG.pattern)
    name: str = Field(min_length=1)
    org: str
    roles: list[str] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list)
    languages: list[Language] = Field(default_factory=list)
    max_tlp: TlpLabel = TLP.GREEN
    on_call: list[OnCallWindow] = Field(default_factory=list)
    available: bool | None = None  # declared override: None follows the on-call windows
    duty_contact: bool = False  # answers for the organisation when a role stays unfilled
    handles: dict[str, str] = Field(default_factory=dict)  # platform -> user id
    reviewed: date | None = None  # last confirmed by the person or their organisation

    @property
    def first_name(self) -> str:
        return self.name.split()[0]

    def holds(self, role: str) -> bool:
        return role in self.roles

    def on_call_at(self, at: datetime) -> bool:
        return any(window.covers(at) for window in self.on_call)

    def is_available(self, at: datetime) -> bool:
        return self.available if self.available is not None else self.on_call_at(at)


def consistency_issues(
    people: list[Person], orgs: list[Organisation], known_roles: Collection[str] | None = None
) -> list[Issue]:
    """Problems that span entries: duplicates, unknown organisations and roles."""
    issues: list[Issue] = []
    org_ids = {org.id for org in orgs}
    seen_orgs: set[str] = set()
    for index, org in enumerate(orgs):
        if org.id in seen_orgs:
            issues.append((("orgs", index, "id"), f"duplicate organisation id {org.id!r}"))
        seen_orgs.add(org.id)
    seen_people: set[str] = set()
    owners: dict[tuple[str, str], str] = {}
    for index, person in enumerate(people):
        where: tuple[str | int, ...] = ("people", index)
        if person.id in seen_people:
            issues.append(((*where, "id"), f"duplicate person id {person.id!r}"))
        seen_people.add(person.id)
        if person.org not in org_ids:
            issues.append(((*where, "org"), f"unknown organisation {person.org!r}"))
        for slot, role in enumerate(person.roles):
            if known_roles is not None and role not in known_roles:
                issues.append(((*where, "roles", slot), f"unknown role {role!r}"))
        for platform, user_id in person.handles.items():
            owner = owners.setdefault((platform, user_id), person.id)
            if owner != person.id:
                message = f"{platform} handle {user_id!r} already belongs to {owner!r}"
                issues.append(((*where, "handles", platform), message))
    return issues


class Roster(BaseModel):
    model_config = ConfigDict(extra="forbid")

    orgs: list[Organisation] = Field(default_factory=list)
    people: list[Person] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Roster:
        issues = consistency_issues(self.people, self.orgs)
        if issues:
            raise ValueError("; ".join(message for _, message in issues))
        return self

    def person(self, person_id: str) -> Person | None:
        return next((p for p in self.people if p.id == person_id), None)

    def org(self, org_id: str) -> Organisation | None:
        return next((o for o in self.orgs if o.id == org_id), None)

    def by_handle(self, platform: str, user_id: str) -> Person | None:
        return next((p for p in self.people if p.handles.get(platform) == user_id), None)

    def by_name(self, text: str) -> Person | None:
        """By id or full name (any case), or by first name when only one person has it."""
        wanted = text.strip().lstrip("@").casefold()
        for person in self.people:
            if wanted in (person.id, person.name.casefold()):
                return person
        first = [p for p in self.people if p.first_name.casefold() == wanted]
        return first[0] if len(first) == 1 else None

    def holders(self, role: str) -> list[Person]:
        return [p for p in self.people if p.holds(role)]

    def duty_contacts(self, org_id: str) -> list[Person]:
        return [p for p in self.people if p.org == org_id and p.duty_contact]

    def is_available(self, person: Person, at: datetime) -> bool:
        return person.is_available(at)
