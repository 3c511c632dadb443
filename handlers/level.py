"""`confirm` and `level`: the coordinator fixes the escalation level."""

from __future__ import annotations

from bot.core.commands import Confirm, SetLevel
from bot.core.events import LogEvent
from bot.core.incident import Incident
from bot.core.lifecycle import State, Transition
from handlers.checkins import plan_checkins
from handlers.context import Context, Refusal
from handlers.team_flow import assemble_for_level
from handlers.timer_sync import sync_timers
from handlers.warroom import refresh


def _close_triage(ctx: Context, incident: Incident) -> list[LogEvent]:
    if incident.state is not State.TRIAGE:
        return []
    previous = incident.apply(Transition.CONFIRM, ctx.now)
    return [ctx.event("state_changed", from_state=previous.value, to_state=incident.state.value)]


async def confirm(ctx: Context, command: Confirm) -> None:
    """confirm

    Confirm the level that triage proposed (coordinators only). Closes triage.
    """
    incident = ctx.require_incident()
    ctx.require_coordinator("confirm the level")
    proposal = incident.proposed_level
    if proposal is None:
        raise Refusal("Triage has not proposed a level yet.")
    if incident.confirmed_level is proposal and incident.state is not State.TRIAGE:
        raise Refusal(f"{proposal.value} is already confirmed.")
    incident.confirmed_level = proposal
    events = [ctx.event("level_confirmed", level=proposal.value)]
    events += _close_triage(ctx, incident)
    events += plan_checkins(ctx, incident)
    ctx.services.store.save(incident, events)
    sync_timers(ctx.services, incident)
    await ctx.reply(f"Level {proposal.value} confirmed by {ctx.person.name}.")
    await refresh(ctx.services, incident)
    await assemble_for_level(ctx.services, incident)


async def set_level(ctx: Context, command: SetLevel) -> None:
    """level <L1|L2|L3> --reason <why>

    Set the level by hand (coordinators only), overriding triage; a downgrade needs this too.
    """
    incident = ctx.require_incident()
    ctx.require_coordinator("set the level")
    previous = incident.level
    if previous is command.level and incident.confirmed_level is not None:
        raise Refusal(f"The level is already {command.level.value}.")
    incident.confirmed_level = command.level
    events = [
        ctx.event(
            "level_set",
            level=command.level.value,
            previous=previous.value if previous else None,
            reason=command.reason,
        )
    ]
    events += _close_triage(ctx, incident)
    events += plan_checkins(ctx, incident)
    ctx.services.store.save(incident, events)
    sync_timers(ctx.services, incident)
    await ctx.reply(
        f"Level set to {command.level.value} by {ctx.person.name}. Reason: {command.reason}"
    )
    await refresh(ctx.services, incident)
    await assemble_for_level(ctx.services, incident)
