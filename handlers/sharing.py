"""`share`, `unshare` and `enforce`: who the TLP label admits, and removing who it does not."""

from __future__ import annotations

from bot.core.commands import Share, Simple, Unshare
from bot.core.incident import Incident
from bot.core.paging import PageStatus
from bot.core.team import Audience
from handlers.audience import drop_candidates, forget_joined, outsiders
from handlers.context import Context, Refusal, Services
from handlers.direct import direct
from handlers.team_flow import (
    assemble_missing,
    carry_out,
    needs_approval,
    remove,
)
from handlers.warroom import announce, refresh


async def share(ctx: Context, command: Share) -> None:
    """share <org> [<org> …]

    Name organisations on the incident (coordinators only): under TLP:AMBER their members
    may join, become backups and duty contacts of the roles being paged, and roles nobody
    could take are paged again.
    """
    incident = ctx.require_incident()
    ctx.require_coordinator("share the incident")
    roster = ctx.services.roster
    for org in command.orgs:
        if roster.org(org) is None:
            known = ", ".join(o.id for o in roster.orgs)
            raise Refusal(f"No organisation `{org[:40]}`. Organisations: {known}.")
    new = [o for o in dict.fromkeys(command.orgs) if o != incident.org]
    new = [o for o in new if o not in incident.named_orgs]
    if not new:
        raise Refusal(f"{incident.id} is already shared with {', '.join(command.orgs)}.")
    incident.named_orgs.extend(new)
    ctx.services.store.save(incident, [ctx.event("orgs_named", orgs=new)])
    names = ", ".join(_org_name(ctx.services, o) for o in new)
    audience = ctx.services.rules.team.tlp[incident.tlp].audience
    note = (
        ""
        if audience is Audience.OWNING_AND_NAMED_ORGS
        else f" This admits them under TLP:AMBER; the label is {incident.tlp.value}."
    )
    await ctx.reply(f"{incident.id} is shared with {names}.{note}")
    await refresh(ctx.services, incident)
    await assemble_missing(ctx.services, incident, incident.team_level, staffable_only=True)


async def unshare(ctx: Context, command: Unshare) -> None:
    """unshare <org>

    Stop sharing with an organisation (coordinators only); who it leaves out is listed.
    """
    incident = ctx.require_incident()
    ctx.require_coordinator("stop sharing the incident")
    if command.org not in incident.named_orgs:
        raise Refusal(f"{incident.id} is not shared with `{command.org[:40]}`.")
    incident.named_orgs.remove(command.org)
    ctx.services.store.save(incident, [ctx.event("orgs_unnamed", orgs=[command.org])])
    await ctx.reply(
        f"{incident.id} is no longer shared with {_org_name(ctx.services, command.org)}."
    )
    await list_outsiders(ctx, incident)


async def list_outsiders(ctx: Context, incident: Incident) -> None:
    """After the audience changed: stop paging outsiders later, and list who must go now;
    those it admits since (a lowered label) join the roles being paged."""
    drop_candidates(ctx.services, incident)
    found = outsiders(ctx.services, incident)
    events = (
        [ctx.event("outsiders_listed", tlp=incident.tlp.value, people=[o.person.id for o in found])]
        if found
        else []
    )
    ctx.services.store.save(incident, events)
    if found:
        await announce(
            ctx.services,
            incident,
            f"Under {incident.tlp.value} these no longer qualify:\n"
            + "\n".join(o.describe() for o in found)
            + "\nA coordinator removes them with `enforce`.",
        )
    if not needs_approval(ctx.services, incident):  # under TLP:RED the coordinator approves
        await assemble_missing(ctx.services, incident, incident.team_level, staffable_only=True)


async def enforce(ctx: Context, command: Simple) -> None:
    """enforce

    Remove everyone the TLP label no longer admits (coordinators only): their pages are
    withdrawn and members leave the team and the war room. Under TLP:RED, confirming
    approves those who stay.
    """
    incident = ctx.require_incident()
    ctx.require_coordinator("remove people from the war room")
    services = ctx.services
    found = outsiders(services, incident)
    if not found:
        raise Refusal(f"Everyone in {incident.id} qualifies for {incident.tlp.value}.")
    leaving = {o.person.id for o in found}
    for state in incident.team.roles if incident.team else []:
        for page in state.pages:
            if page.person_id in leaving and page.status in (
                PageStatus.PAGED,
                PageStatus.ACCEPTED,
            ):
                page.status = PageStatus.CANCELLED
                page.answered_at = ctx.now
    drop_candidates(services, incident)
    forget_joined(incident, [o.person for o in found])
    if needs_approval(services, incident):
        for person_id in _inside(incident) - leaving:
            if person_id not in incident.approved:
                incident.approved.append(person_id)
    event = ctx.event(
        "tlp_enforced",
        tlp=incident.tlp.value,
        removed=[o.person.id for o in found],
        withdrawn=[f"{o.person.id}/{role}" for o in found for role in o.paged],
        released=[f"{o.person.id}/{role}" for o in found for role in o.members],
    )
    await carry_out(services, incident, [], [event])
    for outsider in found:
        await remove(services, incident, outsider.person)
        await direct(
            services,
            incident,
            outsider.person.id,
            f"{incident.id} is now {incident.tlp.value}; you are no longer on it.",
            by_id=True,
        )
    names = ", ".join(o.person.name for o in found)
    await ctx.reply(f"Removed under {incident.tlp.value}: {names}.")
    await assemble_missing(services, incident, incident.team_level, staffable_only=True)


def _inside(incident: Incident) -> set[str]:
    members = {
        page.person_id
        for state in (incident.team.roles if incident.team else [])
        for page in state.pages
        if page.status is PageStatus.ACCEPTED
    }
    return members | {incident.declared_by}


def _org_name(services: Services, org_id: str) -> str:
    org = services.roster.org(org_id)
    return org.name if org else org_id
