"""Speaking in an incident's war rooms: announcements, the headline, the topic.

Handlers speak through the outbox: what the platform then refuses is logged and reported by
delivery (`bot.delivery`), not here.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.incident import Incident, WarRoom
from bot.port import Button, Outbound, RoomAccess, SentMessage
from handlers.context import Services
from handlers.headline import headline, topic
from handlers.marking import speaker, speaking


async def announce(
    services: Services, incident: Incident, text: str, buttons: Sequence[Button] = ()
) -> dict[str, SentMessage]:
    """Post to every war room of the incident."""
    sent: dict[str, SentMessage] = {}
    message = Outbound(text=text, buttons=tuple(buttons))
    for room in incident.rooms.values():
        platform = speaker(services.platforms, incident, room.platform)
        if platform is not None:
            sent[room.platform] = await platform.send(room.room_id, message)
    return sent


async def refresh(services: Services, incident: Incident) -> None:
    """Bring the pinned headline and the topic up to date in every war room.

    Only what changed is sent, and what was shown is saved, so that a busy triage does not
    spend the platform's rate allowance on repeats.
    """
    text = headline(incident, services.display_zone)
    wanted_topic = topic(incident)
    changed = False
    for room in incident.rooms.values():
        platform = speaker(services.platforms, incident, room.platform)
        if platform is None or room.headline_id is None:
            continue
        if room.headline != text:
            await platform.edit(SentMessage(room.room_id, room.headline_id), Outbound(text=text))
            room.headline, changed = text, True
        if room.topic != wanted_topic:
            await platform.set_topic(room.room_id, wanted_topic)
            room.topic, changed = wanted_topic, True
    if changed:
        services.store.save(incident, [])


async def match_label(services: Services, incident: Incident) -> None:
    """Re-configure every war room for the label: join rule, history visibility (policy §5)."""
    access = RoomAccess.for_label(incident.tlp.value)
    for room in incident.rooms.values():
        platform = speaker(services.platforms, incident, room.platform)
        if platform is not None:
            await platform.set_access(room.room_id, access)


async def post_headline(services: Services, incident: Incident, room: WarRoom) -> None:
    platform = speaking(services.platforms[room.platform], incident)
    text = headline(incident, services.display_zone)
    sent = await platform.send(room.room_id, Outbound(text=text))
    room.headline_id, room.headline = sent.message_id, text
    await platform.pin(sent)
