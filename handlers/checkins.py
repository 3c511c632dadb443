"""Check-ins (policy §4): the coordinator owes a Conditions / Actions / Needs update."""

from __future__ import annotations

from bot.core.cadence import grace_ends, next_due, plan, record_checkin, record_missed, replan
from bot.core.commands import CheckinUpdate
from bot.core.events import LogEvent
from bot.core.incident import Incident
from bot.core.paging import PageStatus
from bot.core.store import Timer
from handlers.context import Context, Refusal, Services
from handlers.headline import when
from handlers.team_flow import bot_event
from handlers.timer_sync import sync_timers
from handlers.warroom import announce, refresh


def plan_checkins(ctx: Context, incident: Incident) -> list[LogEvent]:
    """Start the cadence when response starts; a level change re-plans it from now."""
    level = incident.confirmed_level
    if level is None:
        return []
    current = incident.checkins
    if current is None:
        incident.checkins = plan(level, ctx.now)
    elif current.level is not level:
        incident.checkins = replan(current, level, ctx.now)
    else:
        return []
    rule = ctx.services.rules.cadence[level]
    due = next_due(incident.checkins, rule)
    return [ctx.event("checkins_planned", level=level.value, next_due=due.isoformat())]


def coordinator_of(services: Services, incident: Incident) -> str:
    """The accepted coordinator, else whoever declared the incident."""
    state = incident.team.role("coordinator") if incident.team else None
    accepted = state.accepted if state else []
    return services.name(accepted[0] if accepted else incident.declared_by)


async def request_checkin(services: Services, incident: Incident, timer: Timer, note: str) -> None:
    current = incident.checkins
    if current is None or next_due(current, services.rules.cadence[current.level]) != timer.due_at:
        return  # re-planned or answered meanwhile
    rule = services.rules.cadence[current.level]
    event = bot_event(
        services, incident, "checkin_requested", due=timer.due_at.isoformat(), late=bool(note)
    )
    services.store.save(incident, [event])
    await announce(
        services,
        incident,
        f"🕑 Check-in due, {coordinator_of(services, incident)}: post Conditions / Actions / "
        f"Needs with `update <text>` by "
        f"{when(grace_ends(current, rule), services.display_zone)}.{note}",
    )


async def checkin_missed(services: Services, incident: Incident, timer: Timer, note: str) -> None:
    current = incident.checkins
    if current is None:
        return
    rule = services.rules.cadence[current.level]
    if grace_ends(current, rule) != timer.due_at:
        return
    incident.checkins = record_missed(current, rule)
    event = bot_event(
        services,
        incident,
        "checkin_missed",
        due=next_due(current, rule).isoformat(),
        late=bool(note),  # fell due while the bot was down
    )
    services.store.save(incident, [event])
    sync_timers(services, incident)
    await announce(
        services,
        incident,
        f"⚠️ Missed check-in. {coordinator_of(services, incident)}, please post "
        f"`update <Conditions / Actions / Needs>` now. Next check-in due "
        f"{when(next_due(incident.checkins, rule), services.display_zone)}.{note}",
    )
    await refresh(services, incident)


async def update(ctx: Context, command: CheckinUpdate) -> None:
    """update <Conditions / Actions / Needs>

    Give the check-in update (also `checkin <text>`); it is logged and resets the cadence.
    """
    incident = ctx.require_incident()
    current = incident.checkins
    if current is None:
        raise Refusal("Check-ins start when a coordinator confirms the level.")
    incident.checkins = record_checkin(current, ctx.now)
    on_team = any(
        p.person_id == ctx.person.id and p.status is PageStatus.ACCEPTED
        for r in (incident.team.roles if incident.team else [])
        for p in r.pages
    )
    event = ctx.event("checkin", text=command.text, team_member=on_team)
    ctx.services.store.save(incident, [event])
    sync_timers(ctx.services, incident)
    due = next_due(incident.checkins, ctx.services.rules.cadence[current.level])
    await ctx.reply(f"Check-in recorded. Next one due {when(due, ctx.services.display_zone)}.")
    await refresh(ctx.services, incident)
