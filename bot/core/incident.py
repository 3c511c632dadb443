"""The incident aggregate: identity, lifecycle state, triage outcome, TLP and war rooms."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, Field

from bot.core.cadence import CheckinPlan
from bot.core.lessons import Lesson
from bot.core.levels import Level
from bot.core.lifecycle import State, Transition, next_state
from bot.core.paging import RolePaging, TeamPaging
from bot.core.regclocks import Clock
from bot.core.tlp import DEFAULT_TLP, TLP

INCIDENT_ID = re.compile(r"^INC-(\d{4})-(\d{4,})$")


def format_incident_id(year: int, sequence: int) -> str:
    return f"INC-{year:04d}-{sequence:04d}"


class Answer(BaseModel):
    question: str
    option: str  # option key, e.g. "essential" or "unknown"
    author: str
    at: datetime


class WarRoom(BaseModel):
    """Where the incident lives on one platform."""

    platform: str
    room_id: str
    headline_id: str | None = None
    # As last shown, so that an unchanged headline or topic is not sent again.
    headline: str | None = None
    topic: str | None = None


class PromptMessage(BaseModel):
    """A bot message with buttons, kept until it is answered so that it can show the outcome.

    The ids may be placeholders of the effect that sends it, resolved when the edit is delivered.
    """

    platform: str
    room_id: str
    message_id: str


class PageMessage(PromptMessage):
    """A page's direct message, kept until the page is settled."""

    role: str
    person_id: str
    page: int  # the page's place among its role's pages (they are only ever added to)


class Incident(BaseModel):
    id: str
    title: str
    org: str
    declared_by: str
    declared_at: datetime
    t0: datetime
    tlp: TLP = DEFAULT_TLP
    is_exercise: bool = False
    source: str | None = None  # the declaring event (platform:event id): declared once only
    state: State = State.DECLARED
    answers: dict[str, Answer] = Field(default_factory=dict)
    proposed_level: Level | None = None
    confirmed_level: Level | None = None
    score: float | None = None
    band: str | None = None
    explanation: str | None = None
    police_liaison_required: bool = False
    named_orgs: list[str] = Field(default_factory=list)  # shared with under TLP:AMBER
    rooms: dict[str, WarRoom] = Field(default_factory=dict)
    state_since: datetime | None = None
    team: TeamPaging | None = None  # who is paged and who accepted, per role
    team_level: Level | None = None  # the level the team was last assembled for
    reasons: dict[str, str] = Field(default_factory=dict)  # person id -> why chosen
    proposals: list[RolePaging] = Field(default_factory=list)  # TLP:RED, awaiting approval
    approved: list[str] = Field(default_factory=list)  # TLP:RED: approved by the coordinator
    # Platform -> handles of everyone seen joining a war room (a public room admits anyone):
    # a raise of the label lists those it no longer admits, as it does the team.
    joined: dict[str, list[str]] = Field(default_factory=dict)
    checkins: CheckinPlan | None = None
    clocks: list[Clock] = Field(default_factory=list)
    lessons: list[Lesson] = Field(default_factory=list)
    exercise_suspended_at: datetime | None = None  # `realworld`: the exercise stops at once
    page_messages: list[PageMessage] = Field(default_factory=list)  # of pages not yet settled
    close_prompts: list[PromptMessage] = Field(default_factory=list)  # "close anyway?" asked

    @property
    def level(self) -> Level | None:
        """The level in force: the confirmed one, else the proposal."""
        return self.confirmed_level or self.proposed_level

    @property
    def is_open(self) -> bool:
        return self.state is not State.CLOSED

    @property
    def unfiled(self) -> list[Clock]:
        """The regulatory clocks still waiting for their report (closing does not stop them)."""
        return [clock for clock in self.clocks if clock.running]

    @property
    def triage_open(self) -> bool:
        return self.state in (State.DECLARED, State.TRIAGE)

    def apply(self, transition: Transition, at: datetime) -> State:
        """Move along the lifecycle; raises TransitionRefused on an illegal step."""
        previous = self.state
        self.state = next_state(self.state, transition)
        self.state_since = at
        return previous

    @property
    def label(self) -> str:
        """How the incident is named in messages; exercises are always marked."""
        prefix = "EXERCISE · " if self.is_exercise else ""
        return f"{prefix}{self.id} · {self.title}"
