"""What one inbound event means: who and where, which command, and its handler.

`handle` runs inside the event's unit of work (see `bot.runtime`): it decides, writes through
the store and speaks through the recording platforms, so nothing it does reaches a platform
before its transaction commits. A refusal is raised, for the runtime to roll back and answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import fields, replace

from bot.core.commands import ParseError, parse
from bot.core.events import LogEvent
from bot.core.incident import Incident
from bot.core.lifecycle import allowed_after_closing
from bot.port import Inbound, InboundKind, Outbound
from handlers.context import Context, Refusal, Services
from handlers.lifecycle import after_closing
from handlers.marking import speaking
from handlers.registry import route_for, usage
from handlers.replies import answer_text

NOT_ON_ROSTER = "You are not on this bot's roster. Ask a coordinator to add you."
NAMED_INCIDENT = re.compile(r"\bINC-\d{4}-\d{4,}\b")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_FIELDS = tuple(field.name for field in fields(Inbound))


def encode(inbound: Inbound) -> str:
    return json.dumps({name: getattr(inbound, name) for name in _FIELDS}, ensure_ascii=True)


def decode(payload: str) -> Inbound:
    data = json.loads(payload)
    data["kind"] = InboundKind(data["kind"])
    return Inbound(**data)


def storable(inbound: Inbound) -> Inbound:
    """The event with any lone surrogate written as its escape (`\\ud800`): no database
    encodes one, and the text around it is kept rather than the event dropped."""
    return replace(inbound, text=_escaped(inbound.text), reaction=_escaped(inbound.reaction))


def _escaped(text: str) -> str:
    return _LONE_SURROGATE.sub(lambda found: f"\\u{ord(found[0]):04x}", text)


def route(services: Services, inbound: Inbound) -> str:
    """The lane an event is handled in: its incident when one can be told, else its own."""
    incident = services.store.by_room(inbound.platform, inbound.room_id)
    if incident is not None:
        return incident.id
    if inbound.target_message_id is not None:
        bound = services.store.prompt(inbound.platform, inbound.target_message_id)
        if bound is not None:
            return bound[0]
    named = NAMED_INCIDENT.search(inbound.text)
    if named is not None:
        return named[0]
    # Outside an incident (a declaration, `status` in the lobby) an event has a lane of its own:
    # declarations from one channel are opened side by side.
    return f"{inbound.platform}:{inbound.event_id}"


async def handle(services: Services, inbound: Inbound) -> None:
    """Decide what the event does. Raises Refusal with the answer for the user."""
    if inbound.platform not in services.platforms:
        return
    incident = services.store.by_room(inbound.platform, inbound.room_id)
    if inbound.kind is InboundKind.JOINED:
        if incident is not None:
            joined(services, incident, inbound)
        return
    text = answer_text(services, inbound, incident)
    if text is None:
        return  # chatter, or a reaction that answers nothing
    person = services.roster.by_handle(inbound.platform, inbound.user_id)
    if person is None:
        raise Refusal(NOT_ON_ROSTER)
    ctx = Context(services=services, inbound=inbound, person=person, incident=incident)
    parsed = parse(text)
    if isinstance(parsed, ParseError):
        hint = f"\nUsage: `{usage(parsed.command)}`" if parsed.command else ""
        raise Refusal(parsed.reason + hint)
    route = route_for(parsed)
    if incident is not None and not incident.is_open and not allowed_after_closing(route.word):
        raise Refusal(after_closing(incident))
    await route.handler(ctx, parsed)


def joined(services: Services, incident: Incident, inbound: Inbound) -> None:
    """Remember who is in a war room: a raise of the label lists those it no longer admits."""
    handles = incident.joined.setdefault(inbound.platform, [])
    if inbound.user_id in handles:
        return
    handles.append(inbound.user_id)
    person = services.roster.by_handle(inbound.platform, inbound.user_id)
    event = LogEvent(
        kind="joined",
        actor=person.id if person else "guest",
        at=services.clock.now(),
        incident_id=incident.id,
        data={"platform": inbound.platform, "handle": inbound.user_id},
    )
    services.store.save(incident, [event])


async def answer(services: Services, inbound: Inbound, text: str) -> None:
    """Reply where the event came from (marked when the room is an exercise's)."""
    if inbound.platform not in services.platforms:
        return
    incident = services.store.by_room(inbound.platform, inbound.room_id)
    platform = speaking(services.platforms[inbound.platform], incident)
    await platform.send(inbound.room_id, Outbound(text=text))
