"""What a handler works with: the wired services and the one inbound event being handled."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from bot.core.cadence import CadenceRule
from bot.core.clock import Clock
from bot.core.events import LogEvent
from bot.core.incident import Incident
from bot.core.levels import Level
from bot.core.paging import PagingRule
from bot.core.regclocks import ClockRules
from bot.core.roster import Person, Roster
from bot.core.store import IncidentStore, TimerStore
from bot.core.team import TeamRules
from bot.core.triage import Questionnaire
from bot.port import Button, ChatPlatform, Inbound, Outbound, SentMessage
from handlers.marking import speaking

log = logging.getLogger("rrt")


class Refusal(Exception):
    """A command that cannot be carried out; the message is meant for the user."""


@dataclass(frozen=True)
class Rules:
    """The policy as the handlers use it (loaded from the policy file at start-up)."""

    team: TeamRules
    roles: Sequence[str]
    paging: Mapping[Level, PagingRule]
    cadence: Mapping[Level, CadenceRule]
    regulatory: ClockRules


@dataclass
class Services:
    store: IncidentStore
    timers: TimerStore
    clock: Clock
    questionnaire: Questionnaire
    roster: Roster
    rules: Rules
    organisation: str  # the owning organisation of incidents declared here
    platforms: dict[str, ChatPlatform] = field(default_factory=dict)
    on_timers_changed: Callable[[], None] | None = None  # re-arms the scheduler's wake-up
    reports_dir: Path | None = None  # where reports of closed incidents are saved (not RED)
    audit_room: tuple[str, str] | None = None  # (platform, room) told the log head at closing
    display_zone: tzinfo = UTC  # times are shown in it; stored and logged ones stay UTC

    def name(self, person_id: str) -> str:
        person = self.roster.person(person_id)
        return person.name if person else person_id


@dataclass
class Context:
    services: Services
    inbound: Inbound
    person: Person
    incident: Incident | None = None

    @property
    def platform(self) -> ChatPlatform:
        """The platform the event came from, as the incident speaks on it (to the sender alone,
        in a direct message)."""
        person = self.person.id if self.inbound.is_direct else None
        return speaking(self.services.platforms[self.inbound.platform], self.incident, person)

    @property
    def now(self) -> datetime:
        return self.services.clock.now()

    async def reply(self, text: str, buttons: Sequence[Button] = ()) -> SentMessage:
        """Answer where the event was sent: in its room, and in its thread if it had one."""
        return await self.platform.send(
            self.inbound.room_id,
            Outbound(text=text, buttons=tuple(buttons), thread_of=self.inbound.thread_id),
        )

    async def reply_by_id(self, text: str) -> SentMessage:
        """Reply with text that names the incident by its id alone (no title, no content):
        it may be read by people the label does not admit, in a lobby."""
        platform = speaking(
            self.services.platforms[self.inbound.platform], self.incident, classified=False
        )
        return await platform.send(
            self.inbound.room_id, Outbound(text=text, thread_of=self.inbound.thread_id)
        )

    def require_incident(self) -> Incident:
        if self.incident is None:
            raise Refusal("Use this command in an incident's war room.")
        return self.incident

    def require_coordinator(self, action: str) -> None:
        if not self.person.holds("coordinator"):
            raise Refusal(f"Only a coordinator can {action}.")

    def event(self, kind: str, **data: object) -> LogEvent:
        incident = self.incident
        return LogEvent(
            kind=kind,
            actor=self.person.id,
            at=self.now,
            incident_id=incident.id if incident else None,
            data=data,
        )
