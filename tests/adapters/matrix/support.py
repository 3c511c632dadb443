"""Helpers for the Matrix tests: an in-memory KeyValue, an inbox, and analyst clients."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from nio import AsyncClient, ErrorResponse, MessageDirection

from bot.port import Inbound, InboundKind

WAIT_SECONDS = 15.0


class MemoryKeyValue:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value


class Inbox:
    """Collects what an adapter delivers; waits (bounded) for what a real server sends."""

    def __init__(self) -> None:
        self.received: list[Inbound] = []

    async def __call__(self, inbound: Inbound) -> None:
        self.received.append(inbound)

    async def wait_for(self, matches: Callable[[Inbound], bool]) -> Inbound:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            found = [inbound for inbound in self.received if matches(inbound)]
            if found:
                return found[0]
            await asyncio.sleep(0.05)
        raise AssertionError(f"nothing matching arrived; received {self.received}")

    def actions_of(self, user_id: str) -> list[Inbound]:
        """What a person did, leaving out their joining rooms."""
        return [
            inbound
            for inbound in self.received
            if inbound.user_id == user_id and inbound.kind != InboundKind.JOINED
        ]

    async def wait_for_actions(self, user_id: str, count: int) -> list[Inbound]:
        await self.wait_for(lambda _: len(self.actions_of(user_id)) >= count)
        return self.actions_of(user_id)


def ok(response: Any) -> Any:
    assert not isinstance(response, ErrorResponse), response
    return response


class Analyst:
    """A person on the homeserver, with a plain nio client."""

    def __init__(self, base_url: str, user_id: str, access_token: str) -> None:
        self.user_id = user_id
        self.client = AsyncClient(base_url, user_id)
        self.client.restore_login(user_id, "ANALYST", access_token)

    async def join(self, room_id: str) -> None:
        ok(await self.client.join(room_id))

    async def say(self, room_id: str, body: str, **extra: Any) -> str:
        content = {"msgtype": "m.text", "body": body, **extra}
        response = ok(await self.client.room_send(room_id, "m.room.message", content))
        event_id: str = response.event_id
        return event_id

    async def reply(self, room_id: str, event_id: str, body: str) -> str:
        return await self.say(
            room_id,
            f"> <@rrt:rrt.test> earlier message\n\n{body}",
            **{"m.relates_to": {"m.in_reply_to": {"event_id": event_id}}},
        )

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
        response = ok(await self.client.room_send(room_id, "m.reaction", content))
        event_id_: str = response.event_id
        return event_id_

    async def state(self, room_id: str, event_type: str, state_key: str = "") -> dict[str, Any]:
        response = ok(await self.client.room_get_state_event(room_id, event_type, state_key))
        content: dict[str, Any] = response.content
        return content

    async def recent_events(self, room_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The room's latest events, newest first, as raw JSON."""
        response = ok(
            await self.client.room_messages(room_id, direction=MessageDirection.back, limit=limit)
        )
        return [event.source for event in response.chunk]

    async def invited_rooms(self) -> dict[str, Any]:
        response = ok(await self.client.sync(timeout=0, full_state=True))
        rooms: dict[str, Any] = response.rooms.invite
        return rooms
