"""Paging the Rapid Reaction Team: assemble it, page people, and carry out what paging decides.

The paging core (`bot.core.paging`) decides; this module records each decision in the log
together with the snapshot, then sends the pages and tells the war room.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Literal

from bot.core.events import LogEvent
from bot.core.incident import Incident
from bot.core.levels import Level, highest
from bot.core.paging import (
    AlertUnfilled,
    CancelPage,
    Decision,
    Exhausted,
    NotNeeded,
    Page,
    PagePerson,
    PageStatus,
    PagingRule,
    RoleFilled,
    RolePaging,
    TeamPaging,
    start,
)
from bot.core.roster import Person
from bot.core.team import (
    RoleAssignment,
    TeamFacts,
    assemble,
    coordinator_for_declaration,
    may_see,
)
from bot.core.triage import answer_points
from bot.port import Button, ChatPlatform, Outbound
from handlers.context import Refusal, Services
from handlers.direct import direct
from handlers.headline import when
from handlers.marking import speaker
from handlers.timer_sync import sync_timers
from handlers.warroom import announce, refresh

PAGE_KEY = "page:"


def bot_event(services: Services, incident: Incident, kind: str, **data: object) -> LogEvent:
    return LogEvent(
        kind=kind, actor="bot", at=services.clock.now(), incident_id=incident.id, data=data
    )


def team_facts(services: Services, incident: Incident, level: Level) -> TeamFacts:
    answers = {key: answer.option for key, answer in incident.answers.items()}
    points = answer_points(services.questionnaire, answers)
    q1 = incident.answers.get("Q1")
    return TeamFacts(
        level=level,
        tlp=incident.tlp,
        owning_org=incident.org,
        named_orgs=incident.named_orgs,
        rsit_class=q1.option if q1 else None,
        points={question: int(value) for question, value in points.items()},
        police_liaison_required=incident.police_liaison_required,
    )


def cleared(services: Services, incident: Incident, person: Person) -> bool:
    """May this person be paged into, or see, the incident under its label (policy §5)?"""
    facts = team_facts(services, incident, incident.level or Level.L1)
    return may_see(person, facts, services.rules.team)


def needs_approval(services: Services, incident: Incident) -> bool:
    return services.rules.team.tlp[incident.tlp].coordinator_approval


def active_assignments(services: Services, incident: Incident) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for other in services.store.open_incidents():
        if other.id != incident.id and other.team is not None:
            counts.update(other.team.busy())
    return dict(counts)


def on_team(team: TeamPaging | None) -> dict[str, list[str]]:
    """Who holds, or is being paged for, each role."""
    held: dict[str, list[str]] = {}
    for state in team.roles if team else []:
        for page in state.pages:
            if page.status in (PageStatus.PAGED, PageStatus.ACCEPTED):
                held.setdefault(state.role, []).append(page.person_id)
    return held


def paging_rule(services: Services, incident: Incident) -> PagingRule:
    level = incident.team.level if incident.team else incident.level or Level.L1
    return services.rules.paging[level]


async def page_coordinator(services: Services, incident: Incident) -> None:
    """At declaration the on-call coordinator is paged at once: someone must own triage."""
    level = incident.level or Level.L1
    assignment = coordinator_for_declaration(
        services.rules.team,
        services.roster,
        team_facts(services, incident, level),
        active=active_assignments(services, incident),
        now=services.clock.now(),
    )
    await _start_roles(services, incident, level, [assignment])


async def assemble_for_level(services: Services, incident: Incident) -> None:
    """Assemble the team for the level in force; a higher level adds only the missing roles."""
    level = incident.level
    if level is None or (
        incident.team_level is not None and incident.team_level.rank >= level.rank
    ):
        return
    incident.team_level = level
    await assemble_missing(services, incident, level)


async def assemble_missing(
    services: Services, incident: Incident, level: Level, *, staffable_only: bool = False
) -> None:
    """Page (or propose) people for every role the level lacks.

    `staffable_only` leaves out roles nobody can take, so that they are not announced again.
    """
    held = on_team(incident.team)
    for proposal in incident.proposals:  # proposed under TLP:RED, still awaiting approval
        held.setdefault(proposal.role, []).extend(["(proposed)"] * proposal.needed)
    assignments = assemble(
        services.rules.team,
        services.roster,
        team_facts(services, incident, level),
        team=held,
        active=active_assignments(services, incident),
        now=services.clock.now(),
    )
    if staffable_only:
        assignments = [a for a in assignments if a.picks]
        if not assignments:
            return
    await _start_roles(services, incident, level, assignments, announce_picks=True)


def _pick_lines(services: Services, assignments: Sequence[RoleAssignment]) -> list[str]:
    lines = []
    for assignment in assignments:
        for candidate in assignment.picks:
            person = services.roster.person(candidate.person_id)
            org = person.org if person else "?"
            lines.append(
                f"• {assignment.role}: {services.name(candidate.person_id)} ({org}) — "
                f"{candidate.reason}"
            )
        if assignment.unfilled > 0:
            lines.append(f"• {assignment.role}: nobody available for {assignment.unfilled}")
    return lines


async def _start_roles(
    services: Services,
    incident: Incident,
    level: Level,
    assignments: Sequence[RoleAssignment],
    *,
    announce_picks: bool = False,
) -> None:
    for assignment in assignments:
        for candidate in assignment.picks + assignment.backups:
            incident.reasons.setdefault(candidate.person_id, candidate.reason)
    picks = {a.role: [c.person_id for c in a.picks] for a in assignments}
    lines = _pick_lines(services, assignments)
    if needs_approval(services, incident):
        incident.proposals.extend(RolePaging.of(a) for a in assignments)
        events = [bot_event(services, incident, "team_proposed", level=level.value, picks=picks)]
        services.store.save(incident, events)
        await announce(
            services,
            incident,
            f"{incident.tlp.value}: nobody is paged without the coordinator's approval. "
            f"Proposed for {level.value}:\n"
            + "\n".join(lines)
            + "\nApprove each with `approve <person>`.",
        )
        await refresh(services, incident)
        return
    team = incident.team or TeamPaging(level=level)
    team = team.model_copy(deep=True, update={"level": highest(team.level, level) or level})
    fresh: list[RolePaging] = []
    for assignment in assignments:
        existing = team.role(assignment.role)
        if existing is None:
            fresh.append(RolePaging.of(assignment))
            continue
        # More of a role already being paged: widen it and let paging continue where it was.
        team.roles.remove(existing)
        known = set(existing.candidates)
        extra = [c.person_id for c in assignment.picks + assignment.backups]
        widened = existing.model_copy(
            update={
                # The slots already held stay; the missing ones are added, none twice.
                "needed": len(existing.accepted) + len(existing.pending) + assignment.needed,
                "candidates": existing.candidates + [p for p in extra if p not in known],
                "started": False,
                "exhausted": False,
            }
        )
        fresh.append(widened)
    team, decisions = start(team, fresh, services.rules.paging[team.level], services.clock.now())
    incident.team = team
    events = [bot_event(services, incident, "team_assembled", level=level.value, picks=picks)]
    if announce_picks and lines:
        await announce(services, incident, f"Team for {level.value}, and why:\n" + "\n".join(lines))
    await carry_out(services, incident, decisions, events)


def page_by_hand(
    services: Services, incident: Incident, person: Person, role: str, *, needed: int = 1
) -> tuple[TeamPaging, list[Decision]]:
    """Page one named person for a role now (a coordinator's choice, or an approval)."""
    if role not in services.rules.roles:
        raise Refusal(f"There is no role `{role}`. Roles: {', '.join(services.rules.roles)}.")
    if not person.holds(role):
        raise Refusal(f"{person.name} does not hold the role {role}.")
    if not cleared(services, incident, person):
        raise Refusal(f"{person.name} is not cleared for {incident.tlp.value}.")
    now = services.clock.now()
    team = (incident.team or TeamPaging(level=incident.level or Level.L1)).model_copy(deep=True)
    if person.id in on_team(team).get(role, []):
        raise Refusal(f"{person.name} is already on the team, or paged, as {role}.")
    rule = services.rules.paging[team.level]
    state = team.role(role)
    page = Page(
        person_id=person.id,
        role=role,
        paged_at=now,
        deadline=now + rule.ack_timeout,
        cycle=state.cycle if state else 1,
    )
    if state is None:
        state = RolePaging(role=role, needed=needed, candidates=[person.id], started=True)
        state.cursor = 1
        team.roles.append(state)
    else:
        if person.id not in state.candidates:
            state.candidates.append(person.id)
        if len(state.accepted) + len(state.pending) >= state.needed:
            state.needed += 1
        state.started, state.exhausted = True, False
    state.pages.append(page)
    return team, [PagePerson(page=page)]


def decision_events(
    services: Services, incident: Incident, decisions: Sequence[Decision]
) -> list[LogEvent]:
    events = []
    for decision in decisions:
        match decision:
            case PagePerson(page=page):
                events.append(
                    bot_event(
                        services,
                        incident,
                        "paged",
                        person=page.person_id,
                        role=page.role,
                        cycle=page.cycle,
                        duty_contact=page.duty_contact,
                        deadline=page.deadline.isoformat(),
                    )
                )
            case CancelPage(page=page):
                events.append(
                    bot_event(
                        services, incident, "page_cancelled", person=page.person_id, role=page.role
                    )
                )
            case RoleFilled(role=role, people=people):
                events.append(
                    bot_event(services, incident, "role_filled", role=role, people=people)
                )
            case AlertUnfilled(role=role, missing=missing, cycle=cycle):
                events.append(
                    bot_event(
                        services, incident, "role_unfilled", role=role, missing=missing, cycle=cycle
                    )
                )
            case Exhausted(role=role, missing=missing):
                events.append(
                    bot_event(services, incident, "paging_exhausted", role=role, missing=missing)
                )
            case NotNeeded():
                pass  # the answer itself is logged by the caller
    return events


async def carry_out(
    services: Services,
    incident: Incident,
    decisions: Sequence[Decision],
    events: Sequence[LogEvent] = (),
) -> None:
    """Record the decisions with the snapshot, then page, cancel and alert as they say.

    Recording first means a crash after the save never sends a page twice.
    """
    services.store.save(incident, [*events, *decision_events(services, incident, decisions)])
    sync_timers(services, incident)
    for decision in decisions:
        match decision:
            case PagePerson(page=page):
                await send_page(services, incident, page)
            case CancelPage(page=page):
                await direct(
                    services,
                    incident,
                    page.person_id,
                    f"{incident.id}: the {page.role} role is filled; your page is withdrawn.",
                )
            case RoleFilled(role=role, people=people):
                names = ", ".join(services.name(p) for p in people)
                await announce(services, incident, f"✅ {role} filled: {names}.")
            case AlertUnfilled(role=role, missing=missing, cycle=cycle):
                await announce(
                    services,
                    incident,
                    f"⚠️ Role unfilled: {role} ({missing} missing) after paging cycle {cycle}; "
                    "paging again.",
                )
            case Exhausted(role=role, missing=missing):
                state = incident.team.role(role) if incident.team else None
                cycles = state.cycle if state else 1
                await announce(
                    services,
                    incident,
                    f"⛔ Paging for {role} stopped after {cycles} cycle{'s' if cycles > 1 else ''}"
                    f"; {missing} still missing. Page someone by hand: "
                    f"`page <person> as {role}`.",
                )
            case NotNeeded(role=role, person_id=person_id):
                await direct(
                    services,
                    incident,
                    person_id,
                    f"{incident.id}: thank you — the {role} role was filled meanwhile.",
                )
    await refresh(services, incident)


async def send_page(services: Services, incident: Incident, page: Page) -> None:
    """A direct message with Accept / Decline; a reaction or a numbered reply works as well."""
    reason = incident.reasons.get(page.person_id)
    why = f"\nWhy you: {reason}." if reason and not page.duty_contact else ""
    duty = " (as your organisation's duty contact)" if page.duty_contact else ""
    text = (
        f"📟 You are paged as {page.role}{duty} for {incident.label} ({incident.tlp.value}).{why}\n"
        f"Please answer by {when(page.deadline)}."
    )
    buttons = (
        Button("Accept", f"page accept {incident.id} {page.role}", "primary"),
        Button("Decline", f"page decline {incident.id} {page.role}", "danger"),
    )
    for platform_name, platform, handle in _reachable(services, incident, page.person_id):
        sent = await platform.send_direct(handle, Outbound(text=text, buttons=buttons))
        services.store.bind_prompt(
            platform_name, sent.message_id, incident.id, f"{PAGE_KEY}{page.role}"
        )


def _reachable(
    services: Services, incident: Incident, person_id: str
) -> list[tuple[str, ChatPlatform, str]]:
    person = services.roster.person(person_id)
    if person is None:
        return []
    found: list[tuple[str, ChatPlatform, str]] = []
    for room in incident.rooms.values():
        platform = speaker(services.platforms, incident, room.platform, person.id)
        handle = person.handles.get(room.platform)
        if platform is not None and handle is not None:
            found.append((room.platform, platform, handle))
    return found


async def invite(services: Services, incident: Incident, person: Person) -> None:
    await _in_every_room(services, incident, person, "invite")


async def remove(services: Services, incident: Incident, person: Person) -> None:
    await _in_every_room(services, incident, person, "remove")


async def _in_every_room(
    services: Services, incident: Incident, person: Person, action: Literal["invite", "remove"]
) -> None:
    """Invite the person to, or remove them from, every war room where they have a handle."""
    for room in incident.rooms.values():
        platform = speaker(services.platforms, incident, room.platform, person.id)
        handle = person.handles.get(room.platform)
        if platform is None or handle is None:
            continue
        call = platform.invite if action == "invite" else platform.remove
        await call(room.room_id, handle)
