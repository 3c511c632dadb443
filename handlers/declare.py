"""`declare`: open an incident, its war room and the triage dialogue."""

from __future__ import annotations

from bot.core.commands import Declare
from bot.core.incident import Incident, WarRoom
from bot.core.lifecycle import Transition
from bot.core.tlp import DEFAULT_TLP, TLP
from bot.port import RoomAccess, RoomSpec
from handlers.context import Context, Refusal
from handlers.headline import topic
from handlers.slug import room_slug
from handlers.team_flow import page_coordinator
from handlers.triage_flow import ask_next
from handlers.warroom import post_headline


async def declare(ctx: Context, command: Declare) -> None:
    """declare [--exercise] [--tlp LABEL] <title>

    Declare an incident: opens its war room, posts the headline and starts triage.
    `--exercise` marks it as an exercise; `--tlp` sets the label (default TLP:AMBER).
    """
    services = ctx.services
    now = ctx.now
    source = f"{ctx.inbound.platform}:{ctx.inbound.event_id}"
    label = command.tlp or DEFAULT_TLP
    if not label.allows(ctx.person.max_tlp):
        raise Refusal(
            f"You are cleared up to {ctx.person.max_tlp.value}, so you cannot declare an "
            f"incident at {label.value}. Ask a coordinator cleared for it."
        )
    incident = Incident(
        id=services.store.next_incident_id(now.year),
        title=command.title,
        org=services.organisation,
        declared_by=ctx.person.id,
        declared_at=now,
        t0=now,
        tlp=label,
        is_exercise=command.exercise,
        state_since=now,
        source=source,
    )
    ctx.incident = incident
    declared = ctx.event(
        "declared",
        title=incident.title,
        org=incident.org,
        tlp=incident.tlp.value,
        exercise=incident.is_exercise,
        source=source,
    )
    services.store.save(incident, [declared])
    room = await _open_war_room(ctx, incident)
    # The headline is posted once the paging is decided: its first version has the team line.
    await page_coordinator(services, incident, lambda: post_headline(services, incident, room))
    await ask_next(services, incident)


async def _open_war_room(ctx: Context, incident: Incident) -> WarRoom:
    services, now, platform = ctx.services, ctx.now, ctx.platform
    previous = incident.apply(Transition.START_TRIAGE, now)  # logged once the room exists
    access = RoomAccess.for_label(incident.tlp.value)
    spec = RoomSpec(
        name=f"{incident.id} · {incident.title}",
        slug=room_slug(incident.id, incident.title),
        topic=topic(incident),
        invite=(ctx.inbound.user_id,),
        private=access.private,
        history_from_join=access.history_from_join,
        coordinator=ctx.inbound.user_id if ctx.person.holds("coordinator") else None,
    )
    room = WarRoom(
        platform=platform.name, room_id=await platform.create_room(spec), topic=spec.topic
    )
    incident.rooms[platform.name] = room
    # The opening itself is logged when the platform has made the room (with its real id).
    services.store.save(
        incident,
        [ctx.event("state_changed", from_state=previous.value, to_state=incident.state.value)],
    )
    if not ctx.inbound.is_direct and ctx.inbound.room_id != room.room_id:
        # Anyone may read a lobby: the title is named there only when the label is CLEAR.
        if incident.tlp is TLP.CLEAR:
            await ctx.reply_by_id(f"Declared {incident.id}. War room: {spec.name}")
        else:
            await ctx.reply_by_id(
                f"Declared {incident.id} ({incident.tlp.value}); you are invited to its war room."
            )
    return room
