"""Direct messages to one person about an incident, on every platform the incident lives on."""

from __future__ import annotations

from bot.core.incident import Incident
from bot.port import Outbound, PlatformError
from handlers.context import Services, log
from handlers.marking import speaker


async def direct(services: Services, incident: Incident, person_id: str, text: str) -> bool:
    """Write to the person; True when at least one platform took the message."""
    person = services.roster.person(person_id)
    if person is None:
        return False
    delivered = False
    for room in incident.rooms.values():
        platform = speaker(services.platforms, incident, room.platform)
        handle = person.handles.get(room.platform)
        if platform is None or handle is None:
            continue
        try:
            await platform.send_direct(handle, Outbound(text=text))
        except PlatformError as error:
            log.warning("%s: could not write to %s: %s", incident.id, person_id, error)
            continue
        delivered = True
    return delivered
