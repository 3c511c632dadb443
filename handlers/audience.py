"""Who may stay in an incident under its TLP label and shared organisations (policy §5).

A label raise or an `unshare` can leave people in the war room, or paged into it, who no
longer qualify; they are listed at once and removed only when the coordinator confirms.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass

from bot.core.incident import Incident
from bot.core.paging import PageStatus, RolePaging
from bot.core.roster import Person
from bot.core.tlp import TLP
from handlers.context import Services
from handlers.team_flow import cleared, needs_approval


@dataclass(frozen=True, slots=True)
class Outsider:
    """Someone in, or paged into, the war room who the label no longer admits."""

    person: Person
    members: tuple[str, ...]  # roles they hold
    paged: tuple[str, ...]  # roles they are paged for
    invited: bool  # in the room without a role (the declarer)
    why: str

    def describe(self) -> str:
        places = [*(f"{r} (member)" for r in self.members), *(f"{r} (paged)" for r in self.paged)]
        if self.invited and not places:
            places.append("in the war room")
        return f"• {self.person.name} ({self.person.org}): {', '.join(places)} — {self.why}"


def admitted(services: Services, incident: Incident, person: Person) -> bool:
    """May the bot show this person what the incident holds, now?"""
    return qualifies(services, incident, person, inside=is_inside(incident, person))


def is_inside(incident: Incident, person: Person) -> bool:
    """In the war room already: the declarer, someone who accepted a page, or who joined it."""
    if person.id == incident.declared_by:
        return True
    if any(
        handle in incident.joined.get(platform, []) for platform, handle in person.handles.items()
    ):
        return True
    return any(
        page.person_id == person.id and page.status is PageStatus.ACCEPTED
        for state in (incident.team.roles if incident.team else [])
        for page in state.pages
    )


def qualifies(services: Services, incident: Incident, person: Person, *, inside: bool) -> bool:
    """May `person` be in the room? Under TLP:RED those not yet inside need approval."""
    if not cleared(services, incident, person):
        return False
    return inside or not needs_approval(services, incident) or person.id in incident.approved


def outsiders(services: Services, incident: Incident) -> list[Outsider]:
    """Members, invited people and pending pages that the label no longer admits."""
    members: dict[str, list[str]] = {}
    paged: dict[str, list[str]] = {}
    for state in incident.team.roles if incident.team else []:
        for page in state.pages:
            if page.status is PageStatus.ACCEPTED:
                members.setdefault(page.person_id, []).append(state.role)
            elif page.status is PageStatus.PAGED:
                paged.setdefault(page.person_id, []).append(state.role)
    found: list[Outsider] = []
    people = {p.id: p for p in joiners(services, incident)}
    for person_id in dict.fromkeys([incident.declared_by, *members, *paged, *people]):
        person = services.roster.person(person_id) or people.get(person_id)
        if person is None:
            continue
        inside = person_id in members or person_id in people or person_id == incident.declared_by
        if qualifies(services, incident, person, inside=inside):
            continue
        found.append(
            Outsider(
                person=person,
                members=tuple(members.get(person_id, ())),
                paged=tuple(paged.get(person_id, ())),
                invited=person_id == incident.declared_by or person_id in people,
                why=_why(services, incident, person),
            )
        )
    return found


def joiners(services: Services, incident: Incident) -> list[Person]:
    """Everyone seen joining a war room; someone not on the roster as a guest of no clearance."""
    found = []
    for platform, handles in incident.joined.items():
        for handle in handles:
            person = services.roster.by_handle(platform, handle)
            found.append(person or guest(platform, handle))
    return found


def guest(platform: str, handle: str) -> Person:
    digest = hashlib.sha256(f"{platform}:{handle}".encode()).hexdigest()[:12]
    return Person(
        id=f"guest-{digest}",
        name=handle,
        org="not on the roster",
        max_tlp=TLP.CLEAR,
        handles={platform: handle},
    )


def forget_joined(incident: Incident, people: Collection[Person]) -> None:
    """Those removed from the war room are no longer in it."""
    gone = {(platform, handle) for p in people for platform, handle in p.handles.items()}
    for platform, handles in incident.joined.items():
        handles[:] = [h for h in handles if (platform, h) not in gone]


def _why(services: Services, incident: Incident, person: Person) -> str:
    if services.roster.person(person.id) is None:
        return "not on the roster"
    if not incident.tlp.allows(person.max_tlp):
        return f"cleared only up to {person.max_tlp.value}"
    if cleared(services, incident, person):
        return "not approved by the coordinator"
    return f"{person.org} is not admitted under {incident.tlp.value}"


def drop_candidates(services: Services, incident: Incident) -> None:
    """Keep people the label does not admit out of every future page (backups, contacts)."""

    def admitted(person_id: str) -> bool:
        person = services.roster.person(person_id)
        return person is not None and cleared(services, incident, person)

    def pageable(person_id: str) -> bool:
        # Under TLP:RED nobody is paged without approval: a decline or a timeout proposes.
        approval = needs_approval(services, incident) and person_id not in incident.approved
        return admitted(person_id) and not approval

    for state in incident.team.roles if incident.team else []:
        _drop_from(state, pageable)
    for proposal in incident.proposals:
        _drop_from(proposal, admitted)


def _drop_from(state: RolePaging, keep: Callable[[str], bool]) -> None:
    state.cursor -= sum(1 for pid in state.candidates[: state.cursor] if not keep(pid))
    state.candidates = [pid for pid in state.candidates if keep(pid)]
    contacts_before = state.duty_contacts[: state.contact_cursor]
    state.contact_cursor -= sum(1 for pid in contacts_before if not keep(pid))
    state.duty_contacts = [pid for pid in state.duty_contacts if keep(pid)]
