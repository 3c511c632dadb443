"""Who to call for each role (policy §3), under the TLP rules (§5). Pure: no I/O, no clock."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.core.conditions import Clause, Condition, first_matching
from bot.core.levels import Level
from bot.core.roster import Language, OrgKind, Person, Roster, TlpLabel
from bot.core.tlp import TLP

COORDINATOR = "coordinator"
# Organisations that may be the affected entity; the other kinds respond to incidents.
AFFECTED_KINDS: tuple[OrgKind, ...] = ("operator", "other")
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

    model_config = ConfigDict(extra="forbid")  # a misspelt key must not pass unnoticed

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
    model_config = ConfigDict(extra="forbid")

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
    model_config = ConfigDict(extra="forbid")

    audience: Audience
    coordinator_approval: bool = False  # no automatic invite: the coordinator approves each


class TeamRules(BaseModel):
    """The part of the policy that decides the team. The full policy extends it."""

    model_config = ConfigDict(extra="forbid")

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


def affected_languages(roster: Roster, org_ids: Sequence[str]) -> list[Language]:
    """The languages of the affected entity: of those of the incident's organisations that
    may be affected (operators and other organisations), not of the responders."""
    found: list[Language] = []
    for org_id in org_ids:
        org = roster.org(org_id)
        if org is not None and org.kind in AFFECTED_KINDS:
            found.extend(lang for lang in org.languages if lang not in found)
    return found


class Barrier(StrEnum):
    """What keeps someone out of an incident under its label."""

    CLEARANCE = "clearance"  # cleared only below the label
    NOT_OWNER = "not_owner"  # not of the owning organisation (TLP:AMBER+STRICT)
    NOT_NAMED = "not_named"  # of an organisation the incident does not name (TLP:AMBER)


def barrier(person: Person, facts: TeamFacts, rules: TeamRules) -> Barrier | None:
    """None when the person is cleared for the label and of an organisation it admits."""
    if not facts.tlp.allows(person.max_tlp):
        return Barrier.CLEARANCE
    audience = rules.tlp[facts.tlp].audience
    if audience is Audience.OWNING_ORG and person.org != facts.owning_org:
        return Barrier.NOT_OWNER
    if audience is Audience.OWNING_AND_NAMED_ORGS and person.org not in (
        facts.owning_org,
        *facts.named_orgs,
    ):
        return Barrier.NOT_NAMED
    return None


def may_see(person: Person, facts: TeamFacts, rules: TeamRules) -> bool:
    """Cleared for the label, and from an organisation the label admits."""
    return barrier(person, facts, rules) is None


def not_admitted(
    person: Person, facts: TeamFacts, rules: TeamRules, incident_id: str
) -> str | None:
    """Why the label keeps `person` out of the incident and what would let them in, or None."""
    tlp, cleared = facts.tlp.value, person.max_tlp.value
    match barrier(person, facts, rules):
        case Barrier.CLEARANCE:
            return f"{person.name} is cleared only up to {cleared}; {incident_id} is {tlp}."
        case Barrier.NOT_OWNER:
            return (
                f"{person.name} is cleared for {cleared}, but under {tlp} only members of "
                f"{facts.owning_org}, the owning organisation, may join; {person.org} may not."
            )
        case Barrier.NOT_NAMED:
            return (
                f"{person.name} is cleared for {cleared}, but {person.org}, their organisation, "
                f"is not named on {incident_id}: under {tlp} only {facts.owning_org} and the "
                f"organisations it names may join. Name it with `share {person.org}`."
            )
    return None


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
        parts.append("speaks " + ", ".join(candidate.languages) + " with the affected entity")
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
    candidates: Sequence[str],
    exclude: Collection[str],
) -> list[str]:
    """Duty contacts of the role's organisations: the candidates' first, else the holders'."""
    orgs: list[str] = []
    sources = [roster.person(c) for c in candidates] or roster.holders(role)
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
    listed: Mapping[str, Sequence[str]] | None = None,
) -> list[RoleAssignment]:
    """Picks and backups for every role the level still lacks, in team-table order.

    Nobody is picked for two roles at once: the roles with the fewest spare candidates choose
    first, so a person who is the only one for a role is kept for it. A person picked for one
    role may still back up another: paging calls them for it last (`bot.core.paging`).

    `listed` holds the roles already being paged, with their candidates so far: only people
    not listed yet are proposed for them (those who qualify since), their duty contacts are
    worked out again, and a listed role the level does not lack gets backups only.
    """
    listed = listed or {}
    missing = missing_roles(rules, facts, team)
    wanted = {**missing, **{role: 0 for role in listed if role not in missing}}
    return _assign(rules, roster, facts, wanted, team, listed, active, now)


def widen(
    rules: TeamRules,
    roster: Roster,
    facts: TeamFacts,
    *,
    team: Mapping[str, Collection[str]],
    listed: Mapping[str, Sequence[str]],
    active: Mapping[str, int],
    now: datetime,
) -> list[RoleAssignment]:
    """Only the roles already being paged: who qualifies beyond their candidates so far."""
    return _assign(rules, roster, facts, dict.fromkeys(listed, 0), team, listed, active, now)


def _assign(
    rules: TeamRules,
    roster: Roster,
    facts: TeamFacts,
    wanted: Mapping[str, int],
    team: Mapping[str, Collection[str]],
    listed: Mapping[str, Sequence[str]],
    active: Mapping[str, int],
    now: datetime,
) -> list[RoleAssignment]:
    on_team = {person for people in team.values() for person in people}
    ranked = {
        role: rank_candidates(
            rules,
            roster,
            facts,
            role,
            exclude=on_team | set(listed.get(role, ())),
            active=active,
            now=now,
        )
        for role in wanted
    }
    picked: set[str] = set()
    picks: dict[str, list[Candidate]] = {}
    for role in sorted(wanted, key=lambda role: len(ranked[role]) - wanted[role]):
        picks[role] = [c for c in ranked[role] if c.person_id not in picked][: wanted[role]]
        picked.update(c.person_id for c in picks[role])
    return [
        RoleAssignment(
            role=role,
            needed=needed,
            picks=picks[role],
            backups=[c for c in ranked[role] if c not in picks[role]],
            duty_contacts=duty_contacts_for(
                rules,
                roster,
                facts,
                role,
                [*listed.get(role, ()), *(c.person_id for c in ranked[role])],
                on_team,
            ),
        )
        for role, needed in wanted.items()
    ]


class Shortfall(BaseModel):
    """Why nobody more can be paged for a role: what keeps each of its holders out, by name."""

    role: str
    level: Level
    tlp: TLP
    holders: int
    on_team: list[str] = Field(default_factory=list)
    unavailable: list[str] = Field(default_factory=list)
    uncleared: list[str] = Field(default_factory=list)
    unnamed_orgs: list[str] = Field(default_factory=list)  # TLP:AMBER: not named on it
    other_orgs: list[str] = Field(default_factory=list)  # TLP:AMBER+STRICT: not the owner
    not_leading: list[str] = Field(default_factory=list)  # coordinators of other org kinds

    def why(self) -> str:
        """What keeps them out, e.g. `fccu is not named on the incident`; empty when nothing."""
        if self.holders == 0:
            return f"nobody on the roster holds {self.role}"
        parts = []
        if self.unnamed_orgs:
            orgs = self.unnamed_orgs
            parts.append(f"{_names(orgs)} {_is(orgs)} not named on the incident")
        if self.other_orgs:
            parts.append(f"under {self.tlp.value} {_names(self.other_orgs)} may not join")
        if self.uncleared:
            who = self.uncleared
            parts.append(f"{_names(who)} {_is(who)} not cleared for {self.tlp.value}")
        if self.unavailable:
            who = self.unavailable
            parts.append(f"{_names(who)} {_is(who)} not available now")
        if self.on_team:
            parts.append(f"{_names(self.on_team)} {_is(self.on_team)} already on the team")
        if self.not_leading:
            who = self.not_leading
            parts.append(
                f"{_names(who)} {_is(who)} not of an organisation that coordinates "
                f"{self.level.value}"
            )
        return "; ".join(parts)

    def todo(self) -> str:
        """What the coordinator can do about it."""
        if self.holders == 0:
            return f"Give someone the role {self.role} in the roster."
        by_hand = f"page someone by hand: `page <person> as {self.role}`."
        if self.unnamed_orgs:
            them = "it" if len(self.unnamed_orgs) == 1 else "them"
            return f"Name {them} with `share {' '.join(self.unnamed_orgs)}`, or {by_hand}"
        return by_hand[0].upper() + by_hand[1:]


def _names(names: Sequence[str], at_most: int = 3) -> str:
    shown = ", ".join(names[:at_most])
    return f"{shown} and {len(names) - at_most} more" if len(names) > at_most else shown


def _is(names: Sequence[str]) -> str:
    return "is" if len(names) == 1 else "are"


def shortfall(
    rules: TeamRules,
    roster: Roster,
    facts: TeamFacts,
    role: str,
    *,
    tried: Collection[str],
    on_team: Collection[str],
    now: datetime,
) -> Shortfall:
    """Why the role's holders other than those `tried` for it cannot be paged now."""
    gap = Shortfall(role=role, level=facts.level, tlp=facts.tlp, holders=0)
    kinds = rules.levels[facts.level].coordinator_org_kinds if role == COORDINATOR else None
    for person in roster.holders(role):
        gap.holders += 1
        if person.id in tried:
            continue
        org = roster.org(person.org)
        if person.id in on_team:
            gap.on_team.append(person.name)
        elif not person.is_available(now):
            gap.unavailable.append(person.name)
        elif (found := barrier(person, facts, rules)) is Barrier.CLEARANCE:
            gap.uncleared.append(person.name)
        elif found is not None:
            orgs = gap.unnamed_orgs if found is Barrier.NOT_NAMED else gap.other_orgs
            if person.org not in orgs:
                orgs.append(person.org)
        elif kinds is not None and (org is None or org.kind not in kinds):
            gap.not_leading.append(person.name)
    return gap


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
        duty_contacts=duty_contacts_for(
            rules, roster, facts, COORDINATOR, [c.person_id for c in ranked], ()
        ),
    )
