"""`page`, `approve`, `release`, `swap` and `team`: the coordinator shapes the team."""

from __future__ import annotations

from bot.core.commands import Approve, PageAnswer, PageMember, Release, Simple, Swap
from bot.core.incident import Incident
from bot.core.paging import NotNeeded, PageStatus, answer
from bot.core.roster import Person
from bot.core.team import COORDINATOR
from handlers.audience import qualifies
from handlers.context import Context, Refusal
from handlers.headline import when
from handlers.team_flow import (
    carry_out,
    invite,
    page_by_hand,
    paging_rule,
    remove,
    sync_moderators,
)
from handlers.warroom import announce


def _person(ctx: Context, name: str) -> Person:
    person = ctx.services.roster.by_name(name)
    if person is None:
        raise Refusal(f"No one on the roster is called `{name[:40]}` (use an id or full name).")
    return person


async def page(ctx: Context, command: PageAnswer | PageMember) -> None:
    """page <person> as <role>

    Page a person for a role now (coordinators only). Paged people answer with the
    page's Accept / Decline buttons (`page accept|decline <incident> <role>`).
    """
    if isinstance(command, PageAnswer):
        await _answer_page(ctx, command)
        return
    incident = ctx.require_incident()
    ctx.require_coordinator("page people")
    person = _person(ctx, command.person)
    team, decisions = page_by_hand(ctx.services, incident, person, command.role)
    incident.team = team
    if person.id not in incident.approved:
        incident.approved.append(person.id)  # paging by hand is the coordinator's approval
    incident.reasons.setdefault(person.id, f"paged by {ctx.person.name}")
    event = ctx.event("page_requested", person=person.id, role=command.role)
    await ctx.reply(f"Paging {person.name} as {command.role}.")
    await carry_out(ctx.services, incident, decisions, [event])


async def _answer_page(ctx: Context, command: PageAnswer) -> None:
    incident = ctx.services.store.get(command.incident_id)
    if incident is not None and not incident.is_open:
        # By id only, as below: anyone can send this command with any id.
        raise Refusal(f"{incident.id} is closed: its pages are withdrawn; nothing more is needed.")
    if incident is None or incident.team is None:
        raise Refusal(f"There is no open page for {command.incident_id[:20]}.")
    ctx.incident = incident
    services = ctx.services
    if incident.exercise_suspended_at is not None:
        # Anyone can send this command with any id: the answer names the incident by id only.
        raise Refusal(f"{incident.id} was suspended for a real-world incident; stand down.")
    if command.accept and not qualifies(services, incident, ctx.person, inside=False):
        raise Refusal(f"{incident.id} is now {incident.tlp.value}; your page no longer admits you.")
    team, decisions = answer(
        incident.team,
        paging_rule(services, incident),
        role=command.role,
        person_id=ctx.person.id,
        accepted=command.accept,
        now=ctx.now,
    )
    if team is incident.team and not decisions:
        raise Refusal(f"You have no open page as {command.role} in {incident.id}.")
    incident.team = team
    late = any(isinstance(d, NotNeeded) for d in decisions)
    kind = "page_accepted" if command.accept else "page_declined"
    event = ctx.event(kind, person=ctx.person.id, role=command.role, not_needed=late)
    if command.accept and not late:
        await ctx.reply(f"Thank you. You are on {incident.label} as {command.role}.")
    elif not command.accept:
        await ctx.reply(f"Declined. We will page someone else for {command.role}.")
    await carry_out(services, incident, decisions, [event])
    if command.accept and not late:
        await invite(services, incident, ctx.person)
        await announce(services, incident, f"{ctx.person.name} accepted {command.role}.")
    elif not command.accept:
        await announce(services, incident, f"{ctx.person.name} declined {command.role}.")


async def approve(ctx: Context, command: Approve) -> None:
    """approve <person>

    Under TLP:RED, approve a proposed person (coordinators only); only then are they paged.
    """
    incident = ctx.require_incident()
    ctx.require_coordinator("approve team members")
    person = _person(ctx, command.person)
    proposal = next(
        (
            p
            for p in incident.proposals
            if person.id in p.candidates or person.id in p.duty_contacts
        ),
        None,
    )
    if proposal is None:
        raise Refusal(f"{person.name} was not proposed. Use `page {person.id} as <role>`.")
    team, decisions = page_by_hand(
        ctx.services, incident, person, proposal.role, needed=proposal.needed
    )
    incident.team = team
    if person.id not in incident.approved:
        incident.approved.append(person.id)
    event = ctx.event("approved", person=person.id, role=proposal.role)
    await ctx.reply(f"{person.name} approved for {incident.tlp.value}; paging as {proposal.role}.")
    await carry_out(ctx.services, incident, decisions, [event])


def _release(ctx: Context, incident: Incident, person: Person) -> list[str]:
    """End a person's pages and places on the team; returns the roles they held."""
    roles: list[str] = []
    for state in incident.team.roles if incident.team else []:
        for page_ in state.pages:
            if page_.person_id == person.id and page_.status in (
                PageStatus.PAGED,
                PageStatus.ACCEPTED,
            ):
                page_.status = PageStatus.CANCELLED
                page_.answered_at = ctx.now
                roles.append(state.role)
    if not roles:
        raise Refusal(f"{person.name} is not on the team of {incident.id}.")
    return roles


async def release(ctx: Context, command: Release) -> None:
    """release <person>

    Take a person off the team and out of the war room (coordinators only).
    """
    incident = ctx.require_incident()
    ctx.require_coordinator("release team members")
    person = _person(ctx, command.person)
    roles = _release(ctx, incident, person)
    event = ctx.event("released", person=person.id, roles=roles)
    await carry_out(ctx.services, incident, [], [event])
    if COORDINATOR in roles:  # who may moderate the war room changed
        await sync_moderators(ctx.services, incident)
    await remove(ctx.services, incident, person)
    await ctx.reply(
        f"{person.name} released from {', '.join(roles)}. "
        f"Page a replacement with `page <person> as {roles[0]}`."
    )


async def swap(ctx: Context, command: Swap) -> None:
    """swap <person> with <person>

    Replace a team member: the first is released, the second paged for the same role.
    """
    incident = ctx.require_incident()
    ctx.require_coordinator("swap team members")
    leaving, joining = _person(ctx, command.leaving), _person(ctx, command.joining)
    roles = _release(ctx, incident, leaving)
    team, decisions = page_by_hand(ctx.services, incident, joining, roles[0])
    incident.team = team
    event = ctx.event("swapped", leaving=leaving.id, joining=joining.id, role=roles[0])
    await carry_out(ctx.services, incident, decisions, [event])
    if COORDINATOR in roles:
        await sync_moderators(ctx.services, incident)
    await remove(ctx.services, incident, leaving)
    await ctx.reply(f"{leaving.name} released; paging {joining.name} as {roles[0]}.")


def board(ctx: Context, incident: Incident) -> str:
    roster, zone = ctx.services.roster, ctx.services.display_zone
    lines = [f"Team of {incident.id} (role · person · organisation · paged · acked · state):"]
    for state in incident.team.roles if incident.team else []:
        for page_ in state.pages:
            person = roster.person(page_.person_id)
            acked = (
                when(page_.answered_at, zone)
                if page_.answered_at and page_.status is PageStatus.ACCEPTED
                else "—"
            )
            lines.append(
                f"{state.role} · {person.name if person else page_.person_id} · "
                f"{person.org if person else '?'} · {when(page_.paged_at, zone)} · {acked} · "
                f"{page_.status.value}"
            )
        missing = state.needed - len(state.accepted)
        if missing > 0 and not state.pending:
            lines.append(f"{state.role} · unfilled ({missing} missing)")
    for proposal in incident.proposals:
        if incident.team is None or incident.team.role(proposal.role) is None:
            names = ", ".join(ctx.services.name(p) for p in proposal.candidates[:3])
            lines.append(f"{proposal.role} · awaiting approval · proposed: {names or 'nobody'}")
    if len(lines) == 1:
        lines.append("nobody yet")
    return "\n".join(lines)


async def team(ctx: Context, command: Simple) -> None:
    """team

    Show the team board: role, person, organisation, paged, acked, state.
    """
    incident = ctx.require_incident()
    await ctx.reply(board(ctx, incident))
