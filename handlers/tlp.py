"""`tlp`: change the incident's Traffic Light Protocol label."""

from __future__ import annotations

from bot.core.commands import SetTlp
from handlers.context import Context, Refusal
from handlers.sharing import list_outsiders
from handlers.warroom import match_label, refresh


async def set_tlp(ctx: Context, command: SetTlp) -> None:
    """tlp <label> [--reason <why>]

    Change the TLP label. Anyone may raise it; lowering it needs a coordinator and a reason.
    Any change lists who no longer qualifies; a coordinator removes them with `enforce`.
    """
    incident = ctx.require_incident()
    previous = incident.tlp
    if command.tlp is previous:
        raise Refusal(f"The label is already {previous.value}.")
    lowering = previous.is_above(command.tlp)
    if lowering:
        ctx.require_coordinator("lower the TLP label")
        if not command.reason:
            raise Refusal("Lowering the label needs `--reason <why>`.")
    incident.tlp = command.tlp
    event = ctx.event(
        "tlp_changed", from_tlp=previous.value, to_tlp=command.tlp.value, reason=command.reason
    )
    ctx.services.store.save(incident, [event])
    await match_label(ctx.services, incident)  # before anything more is posted in the room
    verb = "lowered" if lowering else "raised"
    await ctx.reply(
        f"TLP {verb} from {previous.value} to {command.tlp.value} by {ctx.person.name}."
    )
    await refresh(ctx.services, incident)
    # Up or down: RED's approved individuals need not qualify under AMBER+STRICT (policy §5).
    await list_outsiders(ctx, incident)
