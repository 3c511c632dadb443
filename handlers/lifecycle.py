"""`contain`, `resolve`, `close` and `reopen`: move the incident along its lifecycle."""

from __future__ import annotations

from bot.core.commands import Simple
from bot.core.lifecycle import Transition, TransitionRefused
from bot.core.tlp import TLP
from handlers.audience import outsiders
from handlers.context import Context, Refusal
from handlers.report import conclude
from handlers.timer_sync import sync_timers
from handlers.warroom import refresh


async def _move(
    ctx: Context, transition: Transition, said: str, after: str = "", concludes: bool = False
) -> None:
    incident = ctx.require_incident()
    try:
        previous = incident.apply(transition, ctx.now)
    except TransitionRefused as refused:
        raise Refusal(str(refused)) from None
    event = ctx.event("state_changed", from_state=previous.value, to_state=incident.state.value)
    ctx.services.store.save(incident, [event])
    sync_timers(ctx.services, incident)  # check-ins stop once resolved; all timers at closing
    if concludes:  # the report goes up before the closing message, which says where it went
        after += " " + await conclude(ctx.services, incident)
    await ctx.reply(f"{incident.id} {said} by {ctx.person.name}.{after}")
    await refresh(ctx.services, incident)


async def contain(ctx: Context, command: Simple) -> None:
    """contain

    Mark the incident contained.
    """
    await _move(ctx, Transition.CONTAIN, "contained")


async def resolve(ctx: Context, command: Simple) -> None:
    """resolve

    Mark the incident resolved.
    """
    await _move(ctx, Transition.RESOLVE, "resolved")


async def close(ctx: Context, command: Simple) -> None:
    """close

    Close a resolved incident and conclude its record with the report (coordinators only).
    The report is posted here and saved; under TLP:RED it is never saved, and attached only in
    an end-to-end-encrypted war room.
    """
    ctx.require_coordinator("close an incident")
    incident = ctx.require_incident()
    if incident.tlp is TLP.RED and outsiders(ctx.services, incident):
        # The report is about to be posted here: nobody the label no longer admits may read it.
        raise Refusal(
            "Under TLP:RED the room still holds people the label no longer admits. "
            "Remove them with `enforce`, then close."
        )
    await _move(ctx, Transition.CLOSE, "closed", " The record is concluded.", concludes=True)


async def reopen(ctx: Context, command: Simple) -> None:
    """reopen

    Reopen a resolved incident (back to response).
    """
    await _move(ctx, Transition.REOPEN, "reopened")
