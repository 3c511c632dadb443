"""Paging the Rapid Reaction Team: assemble it, page people, and carry out what paging decides.

The paging core (`bot.core.paging`) decides; this module records each decision in the log
together with the snapshot, then sends the pages and tells the war room.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Literal

from bot.core.events import LogEvent
from bot.core.incident import Incident, PageMessage, PromptMessage
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
    next_up,
    start,
)
from bot.core.roster import Person
from bot.core.team import (
    COORDINATOR,
    RoleAssignment,
    Shortfall,
    TeamFacts,
    affected_languages,
    assemble,
    coordinator_for_declaration,
    may_see,
    not_admitted,
    shortfall,
    widen,
)
from bot.core.triage import answer_points
from bot.port import Button, ChatPlatform, Outbound, SentMessage
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
        languages=affected_languages(services.roster, [incident.org, *incident.named_orgs]),
        points={question: int(value) for question, value in points.items()},
        police_liaison_required=incident.police_liaison_required,
    )


def cleared(services: Services, incident: Incident, person: Person) -> bool:
    """May this person be paged into, or see, the incident under its label (policy §5)?"""
    facts = team_facts(services, incident, incident.level or Level.L1)
    return may_see(person, facts, services.rules.team)


def why_not_cleared(services: Services, incident: Incident, person: Person) -> str | None:
    """Why the label keeps this person out of the incident and what would let them in, or None."""
    facts = team_facts(services, incident, incident.level or Level.L1)
    return not_admitted(person, facts, services.rules.team, incident.id)


def needs_approval(services: Services, incident: Incident) -> bool:
    return services.rules.team.tlp[incident.tlp].coordinator_approval


def active_assignments(services: Services, incident: Incident) -> dict[str, int]:
    return services.store.active_assignments(excluding=incident.id)


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


async def page_coordinator(
    services: Services, incident: Incident, decided: Callable[[], Awaitable[None]]
) -> None:
    """At declaration the on-call coordinator is paged at once: someone must own triage.

    `decided` is awaited once the paging is decided, before anything about it is sent: the
    declaration posts its headline there, so that the first version already names the team.
    """
    level = incident.level or Level.L1
    assignment = coordinator_for_declaration(
        services.rules.team,
        services.roster,
        team_facts(services, incident, level),
        active=active_assignments(services, incident),
        now=services.clock.now(),
    )
    await _start_roles(services, incident, level, [assignment], decided=decided)


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
    services: Services, incident: Incident, level: Level | None, *, staffable_only: bool = False
) -> None:
    """Page (or propose) people for every role the level lacks, and add who qualifies since
    to the roles already being paged: new backups, their organisations' duty contacts.

    Without a level (no team assembled yet), only the roles already being paged.
    `staffable_only` leaves out new roles nobody can take, so that they are not announced again.
    """
    held = on_team(incident.team)
    for proposal in incident.proposals:  # proposed under TLP:RED, still awaiting approval
        held.setdefault(proposal.role, []).extend(["(proposed)"] * proposal.needed)
    # Under TLP:RED nobody is added to a page: the coordinator approves each person.
    listed = {
        state.role: state.candidates
        for state in (incident.team.roles if incident.team else [])
        if not state.filled and not needs_approval(services, incident)
    }
    team_level = level or (incident.team.level if incident.team else Level.L1)
    facts = team_facts(services, incident, team_level)
    active, now = active_assignments(services, incident), services.clock.now()
    rules, roster = services.rules.team, services.roster
    assignments = (
        assemble(rules, roster, facts, team=held, active=active, now=now, listed=listed)
        if level is not None
        else widen(rules, roster, facts, team=held, listed=listed, active=active, now=now)
    )
    if staffable_only:
        assignments = [a for a in assignments if a.picks or a.role in listed]
    if not assignments and (staffable_only or level is None):
        return
    await _start_roles(services, incident, team_level, assignments, announce_picks=True)


def why_unfilled(services: Services, incident: Incident, role: str) -> Shortfall:
    """What keeps the role's holders not paged for it yet out of the team now."""
    team = incident.team
    state = team.role(role) if team else None
    return shortfall(
        services.rules.team,
        services.roster,
        team_facts(services, incident, team.level if team else incident.level or Level.L1),
        role,
        tried={page.person_id for page in state.pages} if state else set(),
        on_team=team.busy() if team else set(),
        now=services.clock.now(),
    )


def stopped(services: Services, incident: Incident, role: str, missing: int) -> str:
    """The war room is told once that paging for a role stopped: why, and what to do."""
    state = incident.team.role(role) if incident.team else None
    gap = why_unfilled(services, incident, role)
    why = gap.why()
    if state is None or not state.pages:
        return (
            f"⛔ Paging for {role} stopped, {missing} missing: nobody could be paged "
            f"({why or 'nobody qualifies'}). {gap.todo()}"
        )
    cycles = f"{state.cycle} cycle{'s' if state.cycle > 1 else ''}"
    return (
        f"⛔ Paging for {role} stopped after {cycles}; {missing} still missing: everyone paged "
        f"declined or did not answer{'; ' + why if why else ''}. {gap.todo()}"
    )


def _pick_lines(
    services: Services, incident: Incident, plans: Sequence[tuple[str, list[str], int]]
) -> list[str]:
    """`plans`: each role, who will be paged for it now, and how many it still lacks."""
    lines = []
    for role, people, unfilled in plans:
        for person_id in people:
            person = services.roster.person(person_id)
            org = person.org if person else "?"
            # Everyone ranked has a reason; the others are their organisation's duty contacts.
            why = incident.reasons.get(person_id, "its organisation's duty contact")
            lines.append(f"• {role}: {services.name(person_id)} ({org}) — {why}")
        if unfilled > 0:
            gap = why_unfilled(services, incident, role).why()
            lines.append(
                f"• {role}: nobody available for {unfilled}" + (f" — {gap}" if gap else "")
            )
    return lines


def _plan(assignment: RoleAssignment) -> tuple[str, list[str], int]:
    return assignment.role, [c.person_id for c in assignment.picks], assignment.unfilled


def _someone_to_call(state: RolePaging, rule: PagingRule, busy: set[str]) -> bool:
    """Whether paging has someone left to call for the role's open slots, in this cycle."""
    ahead = state.candidates[state.cursor :]
    if rule.escalate_to_duty_contact:
        ahead += state.duty_contacts[state.contact_cursor :]
    return state.open_slots > 0 and any(p not in busy and not state.declined(p) for p in ahead)


def _widened(
    state: RolePaging, assignment: RoleAssignment, rule: PagingRule, busy: set[str]
) -> RolePaging | None:
    """A role already being paged, with who qualifies since; None when nothing changes.

    Newcomers and duty contacts join the end of the lists. A filled role that needs more
    (a higher level) was ranked afresh: its picks are paged next, so that a person kept for
    a scarce role stays kept. Paging goes on when a slot is open and someone is left to call
    in this cycle; a role nobody new can take stays stopped, and is not said to stop again.
    """
    done, ahead = state.candidates[: state.cursor], state.candidates[state.cursor :]
    ranked_afresh = state.filled
    picks = [c.person_id for c in assignment.picks if ranked_afresh and c.person_id not in done]
    backups = [c.person_id for c in assignment.picks + assignment.backups]
    rest = [p for p in dict.fromkeys([*ahead, *backups]) if p not in picks and p not in done]
    contacts = [p for p in assignment.duty_contacts if p not in state.duty_contacts]
    # The slots already held stay (one added by hand too); the missing ones are added.
    needed = max(state.needed, state.held + assignment.needed)
    candidates = [*done, *picks, *rest]
    changed = set(candidates) != set(state.candidates) or bool(contacts) or needed != state.needed
    widened = state.model_copy(
        deep=True,
        update={
            "needed": needed,
            "candidates": candidates if changed else state.candidates,
            "duty_contacts": [*state.duty_contacts, *contacts],
        },
    )
    # A page withdrawn by `enforce` leaves a slot that no answer will refill; and an exhausted
    # role may have someone left when the level now escalates to duty contacts.
    stalled = state.started and not state.exhausted and not state.pending
    if (stalled and state.open_slots > 0) or (
        (changed or state.exhausted) and _someone_to_call(widened, rule, busy)
    ):
        widened.started = widened.exhausted = False
        return widened
    return widened if changed else None


def _called(
    team: TeamPaging | None,
    state: RolePaging,
    paged_now: list[Page],
    rule: PagingRule,
    now: datetime,
) -> list[str]:
    """Who is paged for a role that was waiting or stopped: now, or once its turn comes."""
    if state.started or team is None:
        return []
    now_started = team.role(state.role)
    if now_started is not None and now_started.started:
        return [page.person_id for page in paged_now if page.role == state.role]
    return next_up(team, state.role, rule, now)


async def _start_roles(
    services: Services,
    incident: Incident,
    level: Level,
    assignments: Sequence[RoleAssignment],
    *,
    announce_picks: bool = False,
    decided: Callable[[], Awaitable[None]] | None = None,
) -> None:
    for assignment in assignments:
        for candidate in assignment.picks + assignment.backups:
            incident.reasons.setdefault(candidate.person_id, candidate.reason)
    if needs_approval(services, incident):
        picks = {a.role: [c.person_id for c in a.picks] for a in assignments}
        lines = _pick_lines(services, incident, [_plan(a) for a in assignments])
        incident.proposals.extend(RolePaging.of(a) for a in assignments)
        if decided is not None:
            await decided()
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
    rule = services.rules.paging[team.level]
    fresh: list[RolePaging] = []
    plans: dict[str, tuple[str, list[str], int]] = {}  # by role
    widened_roles: list[tuple[RolePaging, RolePaging]] = []
    for assignment in assignments:
        existing = team.role(assignment.role)
        if existing is None:
            fresh.append(RolePaging.of(assignment))
            plans[assignment.role] = _plan(assignment)
            continue
        widened = _widened(existing, assignment, rule, team.busy())
        if widened is not None:
            team.roles[team.roles.index(existing)] = widened  # in place: the order of paging
            widened_roles.append((existing, widened))
    if not fresh and not widened_roles and incident.team and team.level is incident.team.level:
        if decided is not None:
            await decided()
        services.store.save(incident, [])  # nobody new qualifies: nothing to page or to say
        return
    now = services.clock.now()
    before_team = incident.team
    team, decisions = start(team, fresh, rule, now)
    paged_now = [d.page for d in decisions if isinstance(d, PagePerson)]
    for existing, widened in widened_roles:
        # Who is called is said again only when it, or how many are missing, changes.
        up = _called(team, widened, paged_now, rule, now)
        before = _called(before_team, existing, [], rule, now)
        if up != before or widened.needed != existing.needed:
            plans[widened.role] = (widened.role, up, widened.open_slots - len(up))
    incident.team = team
    if decided is not None:
        await decided()
    ordered = [plans[a.role] for a in assignments if a.role in plans]
    lines = _pick_lines(services, incident, ordered)
    picks = {role: people for role, people, _ in ordered}
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
    refusal = why_not_cleared(services, incident, person)
    if refusal is not None:
        raise Refusal(refusal)
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
        if state.open_slots <= 0:
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
            case CancelPage(page=page, reason=reason):
                events.append(
                    bot_event(
                        services,
                        incident,
                        "page_cancelled",
                        person=page.person_id,
                        role=page.role,
                        reason=reason,
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
            case CancelPage(page=page, reason=reason):
                filled = f"the {page.role} role is filled"
                why = "the incident is closed" if reason == "closed" else filled
                text = f"{incident.id}: {why}; your page is withdrawn."
                await direct(services, incident, page.person_id, text)
            case RoleFilled(role=role, people=people):
                names = ", ".join(services.name(p) for p in people)
                await announce(services, incident, f"✅ {role} filled: {names}.")
                if role == COORDINATOR:
                    await sync_moderators(services, incident)
            case AlertUnfilled(role=role, missing=missing, cycle=cycle):
                await announce(
                    services,
                    incident,
                    f"⚠️ Role unfilled: {role} ({missing} missing) after paging cycle {cycle}; "
                    "paging again.",
                )
            case Exhausted(role=role, missing=missing):
                await announce(services, incident, stopped(services, incident, role, missing))
            case NotNeeded(role=role, person_id=person_id):
                await direct(
                    services,
                    incident,
                    person_id,
                    f"{incident.id}: thank you — the {role} role was filled meanwhile.",
                )
    if any(isinstance(decision, PagePerson) for decision in decisions):
        services.store.save(incident, [])  # with the page messages sent
    await sync_page_messages(services, incident)
    await refresh(services, incident)


async def send_page(services: Services, incident: Incident, page: Page) -> None:
    """A direct message with Accept / Decline; a reaction or a numbered reply works as well."""
    reason = incident.reasons.get(page.person_id)
    why = f"\nWhy you: {reason}." if reason and not page.duty_contact else ""
    duty = " (as your organisation's duty contact)" if page.duty_contact else ""
    text = (
        f"📟 You are paged as {page.role}{duty} for {incident.label} ({incident.tlp.value}).{why}\n"
        f"Please answer by {when(page.deadline, services.display_zone)}."
    )
    buttons = (
        Button("Accept", f"page accept {incident.id} {page.role}", "primary"),
        Button("Decline", f"page decline {incident.id} {page.role}", "danger"),
    )
    number = _page_number(incident, page)
    for platform_name, platform, handle in _reachable(services, incident, page.person_id):
        sent = await platform.send_direct(handle, Outbound(text=text, buttons=buttons))
        services.store.bind_prompt(
            platform_name, sent.message_id, incident.id, f"{PAGE_KEY}{page.role}"
        )
        # Kept with the snapshot, placeholders and all: the edit that shows the outcome refers
        # to this send, and delivery puts in the real ids.
        incident.page_messages.append(
            PageMessage(
                role=page.role,
                person_id=page.person_id,
                page=number,
                platform=platform_name,
                room_id=sent.room_id,
                message_id=sent.message_id,
            )
        )


def _page_number(incident: Incident, page: Page) -> int:
    """Where a page just added stands among its role's pages: the last to its person then."""
    state = incident.team.role(page.role) if incident.team else None
    found = [
        number
        for number, other in enumerate(state.pages if state else [])
        if other.person_id == page.person_id and other.paged_at == page.paged_at
    ]
    return found[-1] if found else -1


def page_outcome(incident: Incident, message: PageMessage) -> str | None:
    """What a page's direct message says once the page is settled; None while it stands.

    It names the incident by its id alone: the person may no longer be admitted to it.
    """
    state = incident.team.role(message.role) if incident.team else None
    pages = state.pages if state else []
    page = pages[message.page] if 0 <= message.page < len(pages) else None
    about = f"📟 {incident.id} · your page as {message.role}"
    if page is not None and page.status is PageStatus.ACCEPTED:
        return f"{about}: accepted. Thank you."
    if page is not None and page.status is PageStatus.DECLINED:
        return f"{about}: declined."
    if not incident.is_open:
        return f"{about}: withdrawn, the incident is closed."
    if page is None or state is None:
        return None
    if state.filled:  # a timed-out page too: a late answer would no longer count
        return f"{about}: withdrawn, the role is filled."
    if page.status is PageStatus.CANCELLED:
        return f"{about}: withdrawn."
    return None  # open, or timed out while a late acceptance still counts


async def show_outcome(
    services: Services,
    incident: Incident,
    message: PromptMessage,
    outcome: str,
    person_id: str | None = None,
    *,
    classified: bool = True,
) -> bool:
    """Edit a prompt to say how it was answered, without its buttons; False when its
    platform is not connected (the prompt is left as it is)."""
    platform = speaker(
        services.platforms, incident, message.platform, person_id, classified=classified
    )
    if platform is None:
        return False
    sent = SentMessage(message.room_id, message.message_id)
    await platform.edit(sent, Outbound(text=outcome, buttons=()))
    return True


async def sync_page_messages(services: Services, incident: Incident) -> None:
    """Show each settled page's outcome in its direct message, without the buttons."""
    kept: list[PageMessage] = []
    for message in incident.page_messages:
        outcome = page_outcome(incident, message)
        if outcome is None or not await show_outcome(
            services, incident, message, outcome, message.person_id, classified=False
        ):
            kept.append(message)
    if len(kept) != len(incident.page_messages):
        incident.page_messages = kept
        services.store.save(incident, [])


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


async def sync_moderators(services: Services, incident: Incident) -> None:
    """The war rooms' moderators are the coordinators who accepted: whoever is released or
    swapped out of the role loses the room's rights with it."""
    state = incident.team.role(COORDINATOR) if incident.team else None
    people = [services.roster.person(p) for p in state.accepted] if state else []
    for room in incident.rooms.values():
        platform = speaker(services.platforms, incident, room.platform)
        if platform is None:
            continue
        handles = (person.handles.get(room.platform) for person in people if person)
        await platform.set_moderators(room.room_id, tuple(h for h in handles if h))


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
