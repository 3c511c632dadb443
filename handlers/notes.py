"""`note`, `status` and `timeline`: write to and read from the record."""

from __future__ import annotations

from bot.core.commands import Note, Simple
from bot.core.tlp import TLP
from bot.reporting.describe import describe_event
from handlers.audience import admitted
from handlers.context import Context
from handlers.headline import headline, when

TIMELINE_LIMIT = 30
# A timeline is an overview: an entry longer than this is cut (the report has it whole), so
# that 30 entries stay well within what any platform takes in one message.
ENTRY_LIMIT = 400


async def note(ctx: Context, command: Note) -> None:
    """note <text>

    Add a note to the incident log.
    """
    incident = ctx.require_incident()
    ctx.services.store.append([ctx.event("note", text=command.text)])
    await ctx.reply(f"Noted in {incident.id}.")


async def status(ctx: Context, command: Simple) -> None:
    """status

    Show the incident's headline; outside a war room, list the open incidents you may see.
    """
    if ctx.incident is not None:
        await ctx.reply(headline(ctx.incident, ctx.services.display_zone))
        return
    # Outside a war room the list names only what the asker is cleared for; in a lobby,
    # which others read too, by id alone unless the label is CLEAR.
    services = ctx.services
    visible = [i for i in services.store.open_incidents() if admitted(services, i, ctx.person)]
    if not visible:
        await ctx.reply("No open incidents that you may see.")
        return
    lines = [
        f"{i.label if ctx.inbound.is_direct or i.tlp is TLP.CLEAR else i.id} ({i.tlp.value})"
        f" — {i.state.value}, {i.level.value if i.level else 'triage'}"
        for i in visible
    ]
    await ctx.reply("Open incidents:\n" + "\n".join(lines))


async def timeline(ctx: Context, command: Simple) -> None:
    """timeline

    Show the latest entries of the incident log.
    """
    incident = ctx.require_incident()
    names = {person.id: person.name for person in ctx.services.roster.people}
    records = ctx.services.store.log(incident.id)[-TIMELINE_LIMIT:]
    zone = ctx.services.display_zone
    lines = [
        _cut(f"{when(r.event.at, zone)} · {describe_event(r.event, names, zone)}") for r in records
    ]
    await ctx.reply(f"Timeline of {incident.id}:\n" + "\n".join(lines))


def _cut(line: str) -> str:
    flat = " ".join(line.split())
    return flat if len(flat) <= ENTRY_LIMIT else flat[: ENTRY_LIMIT - 1] + "…"
