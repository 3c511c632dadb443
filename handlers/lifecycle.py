"""`contain`, `resolve`, `close` and `reopen`: move the incident along its lifecycle."""

from __future__ import annotations

from bot.core.commands import Close, Simple
from bot.core.events import LogEvent
from bot.core.incident import Incident, PromptMessage
from bot.core.lifecycle import Transition, TransitionRefused, next_state
from bot.core.paging import Decision, withdraw_all
from bot.core.tlp import TLP
from bot.port import Button
from handlers.audience import outsiders
from handlers.clocks import clock_line
from handlers.context import Context, Refusal
from handlers.headline import deadline, simulated
from handlers.report import conclude
from handlers.team_flow import carry_out, show_outcome
from handlers.warroom import refresh

CLOSE_ANYWAY = Button("Close anyway", "close confirm", "danger")


def after_closing(incident: Incident) -> str:
    """The answer to a command a closed incident no longer takes: what still works."""
    return (
        f"{incident.id} is closed: its record is concluded. Still possible: `lesson`, "
        "`lesson done <n>`, `filed <clock>`, and reading it (`status`, `timeline`, `team`, "
        f"`clocks`, `lessons`). The report: `rrt report {incident.id}` on the bot's host."
    )


def _awaiting_approval(incident: Incident) -> list[str]:
    """The proposed roles with a place nobody approved has taken yet."""
    waiting = []
    for proposal in incident.proposals:
        state = incident.team.role(proposal.role) if incident.team else None
        taken = state.held if state else 0
        if taken < proposal.needed:
            waiting.append(proposal.role)
    return waiting


def _conclude(
    ctx: Context, incident: Incident, events: list[LogEvent]
) -> tuple[list[Decision], list[PromptMessage]]:
    """Nobody is paged into, or approved for, a concluded incident: open pages are withdrawn
    and TLP:RED proposals dropped. Returns the withdrawals and the close prompts answered."""
    decisions: list[Decision] = []
    if incident.team is not None:
        incident.team, decisions = withdraw_all(incident.team, ctx.now)
    if waiting := _awaiting_approval(incident):
        events.append(ctx.event("proposals_withdrawn", roles=waiting))
    incident.proposals = []
    answered, incident.close_prompts = incident.close_prompts, []
    return decisions, answered


async def _move(
    ctx: Context, transition: Transition, said: str, after: str = "", concludes: bool = False
) -> None:
    incident = ctx.require_incident()
    try:
        previous = incident.apply(transition, ctx.now)
    except TransitionRefused as refused:
        raise Refusal(str(refused)) from None
    moved: dict[str, object] = {"from_state": previous.value, "to_state": incident.state.value}
    if concludes:  # closed with these reports still to file, as the coordinator confirmed
        moved["unfiled"] = [clock.id for clock in incident.unfiled]
    events = [ctx.event("state_changed", **moved)]
    decisions, answered = _conclude(ctx, incident, events) if concludes else ([], [])
    # Check-ins stop once resolved; at closing all timers but the clocks' and lessons'.
    await carry_out(ctx.services, incident, decisions, events)
    unfiled = f" with regulatory reports not filed yet{simulated(incident)}"
    for prompt in answered:  # as a page's message shows how the page ended
        outcome = f"{incident.id} closed by {ctx.person.name}{unfiled if incident.unfiled else ''}."
        await show_outcome(ctx.services, incident, prompt, outcome)
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


def _still_running(ctx: Context, incident: Incident) -> str:
    """What the closing message says of the regulatory clocks that go on after it."""
    unfiled = incident.unfiled
    if not unfiled:
        return ""
    zone = ctx.services.display_zone
    names = "; ".join(f"{c.title} (due {deadline(c.due, zone)})" for c in unfiled)
    return (
        f" Still to file{simulated(incident)}: {names}. Their reminders go on until "
        "`filed <clock>`."
    )


async def close(ctx: Context, command: Close | Simple) -> None:
    """close [confirm]

    Close a resolved incident and conclude its record with the report (coordinators only).
    Open pages are withdrawn. Regulatory reports not yet filed are listed first, and
    `close confirm` closes anyway: their clocks and reminders go on until `filed <clock>`.
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
    confirmed = isinstance(command, Close) and command.confirmed
    if incident.unfiled and not confirmed:
        await _ask_to_confirm(ctx, incident)
        return
    after = " The record is concluded." + _still_running(ctx, incident)
    await _move(ctx, Transition.CLOSE, "closed", after, concludes=True)


async def _ask_to_confirm(ctx: Context, incident: Incident) -> None:
    """List the unfiled reports; closing waits for the coordinator to confirm it (policy §7)."""
    try:  # a refused transition says so now, not after the confirmation
        next_state(incident.state, Transition.CLOSE)
    except TransitionRefused as refused:
        raise Refusal(str(refused)) from None
    zone = ctx.services.display_zone
    lines = "\n".join(f"• {clock_line(c, zone, ctx.now)}" for c in incident.unfiled)
    sent = await ctx.reply(
        f"Regulatory reports of {incident.id} not filed yet{simulated(incident)}:\n{lines}\n"
        "Closing does not stop them: their clocks and reminders go on until `filed <clock>`. "
        "Close anyway with `close confirm`.",
        buttons=[CLOSE_ANYWAY],
    )
    prompt = PromptMessage(
        platform=ctx.inbound.platform, room_id=sent.room_id, message_id=sent.message_id
    )
    incident.close_prompts.append(prompt)  # its button goes once the incident is closed
    ctx.services.store.save(incident, [])


async def reopen(ctx: Context, command: Simple) -> None:
    """reopen

    Reopen a resolved incident (back to response).
    """
    await _move(ctx, Transition.REOPEN, "reopened")
