"""Who to call for each role (policy §3), under the TLP rules (§5). Pure: no I/O, no clock."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator

from bot.core.conditions import Clause, Condition, first_matching
from bot.core.levels import Level
from bot.core.roster import Language, OrgKind, Person, Roster, TlpLabel
from bot.core.tlp import TLP

COORDINATOR = "coordinator"
_FLAG = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*$")


def parse_when(text: str) -> tuple[Clause, ...]:
    """`Q3 >= 3`, `police_liaison_required`, `Q8 = 4 or Q10 >= 1 and X`: `and` binds tighter.

    A bare name is a yes/no fact and holds when it is true.
    """
    alternatives = []
    for alternative in re.split(r"\s+or\s+", text.strip()):
        atoms = []
        for atom in re.split(r"\s+and\s+", alternative):
            flag = _FLAG.match(atom)
            atoms.append(Condition(flag.group(1), "=", 1.0) if flag else Condition.parse(atom))
        alternatives.append(tuple(atoms))
    return tuple(alternatives)


class RoleNeed(BaseModel):
    """How many people a role needs at a level, and when (absent `when`: always)."""

    count: int = Field(ge=1)
    when: str | None = None

    @field_validator("when")
    @classmethod
    def _parses(cls, text: str | None) -> str | None:
        if text is not None:
            parse_when(text)
        return text

    def applies(self, values: Mapping[str, float]) -> bool:
        return self.when is None or first_matching(parse_when(self.when), values) is not None


def _need(value: Any) -> Any:
    return {"count": value} if isinstance(value, int) else value


class LevelRule(BaseModel):
    name: str
    coordinated_by: str  # who leads, as shown to people
    coordinator_org_kinds: list[OrgKind] = Field(min_length=1)
    team: dict[str, RoleNeed]

    @field_validator("team", mode="before")
    @classmethod
    def _counts(cls, value: Any) -> Any:
        return (
            {role: _need(need) for role, need in value.items()}
            if isinstance(value, dict)
            else value
        )


class Audience(StrEnum):
    """Who may be in a war room under a TLP label."""

    APPROVED_INDIVIDUALS = "approved_individuals"  # any cleared person, each approved
    OWNING_ORG = "owning_org"
    OWNING_AND_NAMED_ORGS = "owning_and_named_orgs"
    ROSTER = "roster"
    ANYONE = "anyone"


class TlpRule(BaseModel):
    audience: Audience
    coordinator_approval: bool = False  # no automatic invite: the coordinator approves each


class TeamRules(BaseModel):
    """The part of the policy that decides the team. The full policy extends it."""

    levels: dict[Level, LevelRule]
    rsit_skills: dict[str, list[str]] = Field(default_factory=dict)
    sector_skills: dict[str, list[str]] = Field(default_factory=dict)
    tlp: dict[TlpLabel, TlpRule]

    @field_validator("levels")
    @classmethod
    def _all_levels(cls, levels: dict[Level, LevelRule]) -> dict[Level, LevelRule]:
        missing = [level.value for level in Level if level not in levels]
        if missing:
            raise ValueError(f"missing level(s): {', '.join(missing)}")
        return levels

    @field_validator("tlp")
    @classmethod
    def _all_labels(cls, rules: dict[TLP, TlpRule]) -> dict[TLP, TlpRule]:
        missing = [label.value for label in TLP if label not in rules]
        if missing:
            raise ValueError(f"missing rule(s) for {', '.join(missing)}")
        return rules


class TeamFacts(BaseModel):
    """What the team depends on, taken from the incident and its triage answers."""

    level: Level
    tlp: TLP
    owning_org: str
    named_orgs: list[str] = Field(default_factory=list)
    rsit_class: str | None = None  # Q1
    languages: list[Language] = Field(default_factory=list)  # of the affected entity
    points: dict[str, int] = Field(default_factory=dict)  # e.g. {"Q3": 3, "Q8": 2}
    police_liaison_required: bool = False

    def values(self) -> dict[str, float]:
        return {**self.points, "police_liaison_required": float(self.police_liaison_required)}


class Candidate(BaseModel):
    person_id: str
    role: str
    on_call: bool
    skills: list[str]  # those matching the incident
    languages: list[str]  # shared with the affected entity
    active_assignments: int
    needs_approval: bool  # TLP:RED: the coordinator approves before any invite
    reason: str


class RoleAssignment(BaseModel):
    role: str
    needed: int
    picks: list[Candidate]
    backups: list[Candidate]
    duty_contacts: list[str]  # person ids, paged after the last backup

    @property
    def unfilled(self) -> int:
        return self.needed - len(self.picks)


def may_see(person: Person, facts: TeamFacts, rules: TeamRules) -> bool:
    """Cleared for the label, and from an organisation the label admits."""
    if not facts.tlp.allows(person.max_tlp):
        return False
    audience = rules.tlp[facts.tlp].audience
    if audience is Audience.OWNING_ORG:
        return person.org == facts.owning_org
    if audience is Audience.OWNING_AND_NAMED_ORGS:
        return person.org == facts.owning_org or person.org in facts.named_orgs
    return True


def required_roles(rules: TeamRules, facts: TeamFacts) -> dict[str, int]:
    values = facts.values()
    team = rules.levels[facts.level].team
    return {role: need.count for role, need in team.items() if need.applies(values)}


def missing_roles(
    rules: TeamRules, facts: TeamFacts, team: Mapping[str, Collection[str]]
) -> dict[str, int]:
    """What the level still lacks, given who holds (or is being paged for) each role."""
    missing = {
        role: count - len(team.get(role, ()))
        for role, count in required_roles(rules, facts).items()
    }
    return {role: count for role, count in missing.items() if count > 0}


def wanted_skills(rules: TeamRules, roster: Roster, facts: TeamFacts) -> list[str]:
    wanted = list(rules.rsit_skills.get(facts.rsit_class or "", []))
    for org_id in [facts.owning_org, *facts.named_orgs]:
        org = roster.org(org_id)
        for skill in rules.sector_skills.get(org.sector or "", []) if org else []:
            if skill not in wanted:
                wanted.append(skill)
    return wanted


def _reason(candidate: Candidate) -> str:
    parts = ["on call now" if candidate.on_call else "declared available"]
    if candidate.skills:
        parts.append("skills: " + ", ".join(candidate.skills))
    if candidate.languages:
        parts.append("speaks " + ", ".join(candidate.languages))
    count = candidate.active_assignments
    parts.append(f"{count} active incident{'' if count == 1 else 's'}")
    if candidate.needs_approval:
        parts.append("needs coordinator approval")
    return "; ".join(parts)


def rank_candidates(
    rules: TeamRules,
    roster: Roster,
    facts: TeamFacts,
    role: str,
    *,
    exclude: Collection[str],
    active: Mapping[str, int],
    now: datetime,
) -> list[Candidate]:
    """Everyone who may take `role` now, best first, each with the reason for the place."""
    wanted = wanted_skills(rules, roster, facts)
    approval = rules.tlp[facts.tlp].coordinator_approval
    kinds = rules.levels[facts.level].coordinator_org_kinds if role == COORDINATOR else None
    ranked: list[tuple[tuple[int, int, int, int, int], Candidate]] = []
    for order, person in enumerate(roster.people):
        if person.id in exclude or not person.holds(role) or not person.is_available(now):
            continue
        if not may_see(person, facts, rules):
            continue
        org = roster.org(person.org)
        if kinds is not None and (org is None or org.kind not in kinds):
            continue
        candidate = Candidate(
            person_id=person.id,
            role=role,
            on_call=person.on_call_at(now),
            skills=[skill for skill in wanted if skill in person.skills],
            languages=[lang for lang in facts.languages if lang in person.languages],
            active_assignments=active.get(person.id, 0),
            needs_approval=approval,
            reason="",
        )
        candidate.reason = _reason(candidate)
        key = (
            not candidate.on_call,
            -len(candidate.skills),
            not candidate.languages,
            candidate.active_assignments,
            order,
        )
        ranked.append((key, candidate))
    return [candidate for _, candidate in sorted(ranked, key=lambda item: item[0])]


def duty_contacts_for(
    rules: TeamRules,
    roster: Roster,
    facts: TeamFacts,
    role: str,
    ranked: list[Candidate],
    exclude: Collection[str],
) -> list[str]:
    """Duty contacts of the role's organisations: the candidates' first, else the holders'."""
    orgs: list[str] = []
    sources = [roster.person(c.person_id) for c in ranked] or roster.holders(role)
    for person in sources:
        if person is not None and person.org not in orgs:
            orgs.append(person.org)
    return [
        contact.id
        for org_id in orgs
        for contact in roster.duty_contacts(org_id)
        if contact.id not in exclude and may_see(contact, facts, rules)
    ]


def assemble(
    rules: TeamRules,
    roster: Roster,
    facts: TeamFacts,
    *,
    team: Mapping[str, Collection[str]],
    active: Mapping[str, int],
    now: datetime,
) -> list[RoleAssignment]:
    """Picks and backups for every role the level still lacks, in team-table order.

    Nobody is picked for two roles at once: the roles with the fewest spare candidates choose
    first, so a person who is the only one for a role is kept for it. A person picked for one
    role may still back up another.
    """
    on_team = {person for people in team.values() for person in people}
    missing = missing_roles(rules, facts, team)
    ranked = {
        role: rank_candidates(rules, roster, facts, role, exclude=on_team, active=active, now=now)
        for role in missing
    }
    picked: set[str] = set()
    picks: dict[str, list[Candidate]] = {}
    for role in sorted(missing, key=lambda role: len(ranked[role]) - missing[role]):
        picks[role] = [c for c in ranked[role] if c.person_id not in picked][: missing[role]]
        picked.update(c.person_id for c in picks[role])
    return [
        RoleAssignment(
            role=role,
            needed=needed,
            picks=picks[role],
            backups=[c for c in ranked[role] if c not in picks[role]],
            duty_contacts=duty_contacts_for(rules, roster, facts, role, ranked[role], on_team),
        )
        for role, needed in missing.items()
    ]


def coordinator_for_declaration(
    rules: TeamRules,
    roster: Roster,
    facts: TeamFacts,
    *,
    active: Mapping[str, int],
    now: datetime,
) -> RoleAssignment:
    """The coordinator to page the moment an incident is declared (someone owns triage)."""
    ranked = rank_candidates(rules, roster, facts, COORDINATOR, exclude=(), active=active, now=now)
    return RoleAssignment(
        role=COORDINATOR,
        needed=1,
        picks=ranked[:1],
        backups=ranked[1:],
        duty_contacts=duty_contacts_for(rules, roster, facts, COORDINATOR, ranked, ()),
    )
