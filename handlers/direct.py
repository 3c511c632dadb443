"""Direct messages to one person about an incident, on every platform the incident lives on."""

from __future__ import annotations

from bot.core.incident import Incident
from bot.port import Outbound
from handlers.context import Services
from handlers.marking import speaker


async def direct(
    services: Services, incident: Incident, person_id: str, text: str, *, by_id: bool = False
) -> bool:
    """Write to the person; True when they can be reached on a platform of the incident.

    `by_id`: the text names the incident by its id alone, so the label need not admit them.
    """
    person = services.roster.person(person_id)
    if person is None:
        return False
    reached = False
    for room in incident.rooms.values():
        platform = speaker(
            services.platforms, incident, room.platform, person.id, classified=not by_id
        )
        handle = person.handles.get(room.platform)
        if platform is not None and handle is not None:
            await platform.send_direct(handle, Outbound(text=text))
            reached = True
    return reached
