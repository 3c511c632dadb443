"""`endex` and `realworld`: ending an exercise, and suspending it at once for a real incident."""

from __future__ import annotations

from bot.core.commands import Close, Simple
from bot.core.incident import Incident
from bot.core.lifecycle import State
from handlers.context import Context, Refusal
from handlers.direct import direct
from handlers.lifecycle import close
from handlers.team_flow import on_team
from handlers.timer_sync import sync_timers
from handlers.warroom import announce, refresh

HOT_WASH = (
    "🏁 ENDEX: the exercise is over. Hot wash: what went well, and what must improve?\n"
    "Record each lesson with `lesson <text> [owner @person] [due YYYY-MM-DD]`; "
    "`lessons` lists them, and owners are reminded when a lesson falls due."
)


def _exercise(ctx: Context) -> Incident:
    incident = ctx.require_incident()
    if not incident.is_exercise:
        raise Refusal(f"{incident.id} is not an exercise.")
    return incident


async def endex(ctx: Context, command: Simple) -> None:
    """endex

    End a resolved exercise (coordinators only): the hot wash, then closing with the report,
    in one step. The exercise must be resolved first (`resolve`), as for any close, so that its
    times to contained and resolved are measured. Its clocks are simulated: those not filed are
    listed, not confirmed. Lessons may still be added after closing.
    """
    incident = _exercise(ctx)
    ctx.require_coordinator("end an exercise")
    if incident.state is not State.RESOLVED:
        raise Refusal(
            f"The exercise is {incident.state.value}: resolve it first (`resolve`), then `endex`."
        )
    ctx.services.store.append([ctx.event("exercise_ended")])
    await announce(ctx.services, incident, HOT_WASH)
    # Nothing is really due, so nothing to confirm: the closing message lists what is unfiled.
    await close(ctx, Close(confirmed=True))


def paged_for(incident: Incident) -> list[str]:
    """Everyone paged for the incident, whatever they answered, in paging order."""
    seen: dict[str, None] = {}
    for role in incident.team.roles if incident.team else []:
        for page in role.pages:
            seen.setdefault(page.person_id, None)
    return list(seen)


async def realworld(ctx: Context, command: Simple) -> None:
    """realworld

    Suspend the exercise at once for a real-world incident (anyone on its team): paging,
    check-ins and clocks stop, and everyone paged for it is told.
    """
    incident = _exercise(ctx)
    services = ctx.services
    team = {person for people in on_team(incident.team).values() for person in people}
    if ctx.person.id not in team | {incident.declared_by} and not ctx.person.holds("coordinator"):
        raise Refusal("Only the exercise's team can suspend it.")
    if incident.exercise_suspended_at is not None:
        raise Refusal(f"{incident.id} is already suspended.")
    incident.exercise_suspended_at = ctx.now
    services.store.save(incident, [ctx.event("exercise_suspended")])
    sync_timers(services, incident)  # no more pages, check-ins or clock reminders
    said = f"🛑 REAL WORLD: exercise {incident.id} suspended"
    await announce(
        services,
        incident,
        f"{said} by {ctx.person.name}. Paging, check-ins and clocks of the exercise have stopped.",
    )
    for person_id in paged_for(incident):
        await direct(services, incident, person_id, f"{said}. Stand down from the exercise.")
    await refresh(services, incident)
