"""The one place where an exercise's outbound traffic is marked EXERCISE (policy §8).

Handlers speak for an incident through `speaker()`. For an exercise it hands out the platform
wrapped so that every message, edit, topic, direct message, room and file it sends is marked;
nothing else in the handlers needs to remember to add the mark.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from bot.core.incident import Incident
from bot.port import (
    ChatPlatform,
    Classification,
    Classifying,
    Outbound,
    RoomAccess,
    RoomSpec,
    SentMessage,
)
from handlers.headline import marked

SLUG_MARK = "exercise-"  # room slugs are lowercase on some platforms
SLUG_LIMIT = 80  # the longest channel name Slack accepts


class ExercisePlatform:
    """A chat platform as an exercise incident uses it: everything it says is marked."""

    def __init__(self, platform: ChatPlatform, incident: Incident) -> None:
        self._platform = platform
        self._incident = incident

    def _mark(self, message: Outbound) -> Outbound:
        return replace(message, text=marked(self._incident, message.text))

    @property
    def name(self) -> str:
        return self._platform.name

    @property
    def end_to_end_encrypted(self) -> bool:
        return self._platform.end_to_end_encrypted

    async def create_room(self, spec: RoomSpec) -> str:
        slug = spec.slug if spec.slug.startswith(SLUG_MARK) else SLUG_MARK + spec.slug
        return await self._platform.create_room(
            replace(
                spec,
                name=marked(self._incident, spec.name),
                slug=slug[:SLUG_LIMIT].rstrip("-"),
                topic=marked(self._incident, spec.topic),
            )
        )

    async def send(self, room_id: str, message: Outbound) -> SentMessage:
        return await self._platform.send(room_id, self._mark(message))

    async def edit(self, sent: SentMessage, message: Outbound) -> None:
        await self._platform.edit(sent, self._mark(message))

    async def pin(self, sent: SentMessage) -> None:
        await self._platform.pin(sent)

    async def set_topic(self, room_id: str, topic: str) -> None:
        await self._platform.set_topic(room_id, marked(self._incident, topic))

    async def set_access(self, room_id: str, access: RoomAccess) -> None:
        await self._platform.set_access(room_id, access)

    async def invite(self, room_id: str, user_id: str) -> None:
        await self._platform.invite(room_id, user_id)

    async def remove(self, room_id: str, user_id: str) -> None:
        await self._platform.remove(room_id, user_id)

    async def set_moderators(self, room_id: str, user_ids: tuple[str, ...]) -> None:
        await self._platform.set_moderators(room_id, user_ids)

    async def send_direct(self, user_id: str, message: Outbound) -> SentMessage:
        return await self._platform.send_direct(user_id, self._mark(message))

    async def upload_file(
        self, room_id: str, filename: str, content: bytes, mimetype: str, title: str
    ) -> None:
        await self._platform.upload_file(
            room_id, filename, content, mimetype, marked(self._incident, title)
        )


def speaking(
    platform: ChatPlatform,
    incident: Incident | None,
    person: str | None = None,
    *,
    classified: bool = True,
) -> ChatPlatform:
    """The platform as the incident speaks on it: what it sends is classified by the incident
    (and addressed to `person`, when it speaks to one), and marked when it is an exercise.

    `classified=False` is for text that names the incident by its id alone: it may reach
    people the label does not admit (telling them they are off the incident, say).
    """
    if incident is None:
        return platform
    if classified and isinstance(platform, Classifying):
        platform = platform.classified(Classification(incident.id, person))
    return ExercisePlatform(platform, incident) if incident.is_exercise else platform


def speaker(
    platforms: Mapping[str, ChatPlatform],
    incident: Incident | None,
    name: str,
    person: str | None = None,
    *,
    classified: bool = True,
) -> ChatPlatform | None:
    """The platform `name`, as the incident speaks on it; None when it is not connected."""
    platform = platforms.get(name)
    return None if platform is None else speaking(platform, incident, person, classified=classified)
