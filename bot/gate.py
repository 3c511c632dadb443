"""The one TLP gate: every classified effect is checked against policy §5 as it is delivered.

A decision may be right when it is made and wrong when it is delivered: the label was raised
meanwhile, an organisation was unshared, a reminder falls due a month later. So the gate reads
the incident as it is now and checks the effect's audience:

- a person (a direct message, a page, an invite, a room's first members) must be cleared for
  the label and from an organisation it admits; under TLP:RED, approved or already a member;
- a room must be one of the incident's war rooms, unless the label is TLP:CLEAR: anywhere
  else (a lobby) the bot may name the incident only by an unclassified message (its id).

What fails is withheld and the withholding logged in the incident; nothing else is sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.core.incident import Incident
from bot.core.tlp import TLP
from bot.effects import target_room
from bot.port import ChatPlatform
from handlers.audience import admitted
from handlers.context import Services

# Effects that show nothing to the person they name: taking someone out of a room.
NOT_SHOWN_TO_PERSON = ("remove",)


class TlpGate:
    def __init__(self, services: Services, platforms: Mapping[str, ChatPlatform]) -> None:
        self._services = services
        self._platforms = platforms

    def at_hand(self, about: str) -> Incident | None:
        """The effect's incident as last committed, when that needs no database read (then
        `check` may run on the event loop, given it)."""
        return self._services.store.committed_in_memory(json.loads(about)["incident_id"])

    def check(
        self,
        platform: str,
        kind: str,
        about: str,
        args: Mapping[str, Any],
        incident: Incident | None = None,
    ) -> str | None:
        """Why the effect must be withheld, or None when it may go, by the incident as last
        committed (`incident`, if at hand)."""
        classification = json.loads(about)
        if incident is None:
            incident = self._services.store.committed(classification["incident_id"])
        if incident is None:
            return "its incident is not on record"
        if kind == "upload_file" and incident.tlp is TLP.RED and not self._encrypted(platform):
            return f"a {TLP.RED.value} file goes only into an end-to-end-encrypted war room"
        for person_id in self._people(platform, kind, classification, args):
            refused = self._person_refused(incident, person_id)
            if refused:
                return refused
        room = target_room(args)
        if room is None or classification.get("person") or kind in ("send_direct", "invite"):
            return None  # a direct message: its person was checked
        war_rooms = {r.room_id for r in incident.rooms.values() if r.platform == platform}
        if room in war_rooms or incident.tlp is TLP.CLEAR:
            return None
        return f"it names {incident.id} ({incident.tlp.value}) outside its war room"

    def _encrypted(self, platform: str) -> bool:
        found = self._platforms.get(platform)
        return found is not None and found.end_to_end_encrypted

    def _people(
        self, platform: str, kind: str, classification: Mapping[str, Any], args: Mapping[str, Any]
    ) -> list[str]:
        if kind in NOT_SHOWN_TO_PERSON:
            return []
        people: list[str] = []
        if classification.get("person"):
            people.append(classification["person"])
        handles: list[str] = []
        if kind in ("send_direct", "invite"):
            handles.append(args["user_id"])
        if kind == "create_room":
            handles.extend(args["spec"]["invite"])
        for handle in handles:
            person = self._services.roster.by_handle(platform, handle)
            people.append(person.id if person else f"handle:{handle}")
        return list(dict.fromkeys(people))

    def _person_refused(self, incident: Incident, person_id: str) -> str | None:
        person = self._services.roster.person(person_id)
        if person is None:
            return f"{person_id.removeprefix('handle:')} is not on the roster"
        if admitted(self._services, incident, person):
            return None
        return f"{person.name} is not admitted to {incident.id} under {incident.tlp.value}"
