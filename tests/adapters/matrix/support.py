"""Helpers for the Matrix tests: an in-memory KeyValue, an inbox, and analyst clients."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from nio import AsyncClient, ErrorResponse, MessageDirection, RoomPreset

from bot.port import Inbound, InboundKind
from config.triage import load_questionnaire

WAIT_SECONDS = 15.0
T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str, seconds: float) -> T:
    """The first non-None result of `probe`, asked again until `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = await probe()
        if found is not None:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what} after {seconds:.0f}s")


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
        response = ok(
            await self.client.room_send(
                room_id, "m.room.message", content, ignore_unverified_devices=True
            )
        )
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

    async def open_room(self, *invite: str) -> str:
        response = ok(
            await self.client.room_create(preset=RoomPreset.private_chat, invite=list(invite))
        )
        room_id: str = response.room_id
        return room_id

    async def invited_room_named(self, prefix: str) -> str | None:
        """The room this person is invited to whose name starts with `prefix`, if any."""
        ok(await self.client.sync(timeout=0, full_state=True))
        for room_id, room in self.client.invited_rooms.items():
            if (room.name or "").startswith(prefix):
                return room_id
        return None

    async def bot_messages(self, room_id: str, bot_user_id: str) -> list[dict[str, Any]]:
        """The bot's messages in a room, oldest first, leaving out its edits."""
        return [
            event
            for event in reversed(await self.recent_events(room_id, limit=100))
            if event["sender"] == bot_user_id
            and event["type"] == "m.room.message"
            and event["content"].get("m.relates_to", {}).get("rel_type") != "m.replace"
        ]

    async def invited_rooms(self) -> dict[str, Any]:
        response = ok(await self.client.sync(timeout=0, full_state=True))
        rooms: dict[str, Any] = response.rooms.invite
        return rooms


def option_number(question_id: str, key: str) -> int:
    """The 1-based number the bot shows beside an option of the default questionnaire."""
    question = load_questionnaire().question(question_id)
    assert question is not None, question_id
    return [option.key for option in question.options].index(key) + 1


class RoomWatch:
    """Reads, as one member, what the bot posted in a room, waiting (bounded) for it."""

    def __init__(self, member: Analyst, room_id: str, bot_user_id: str, seconds: float) -> None:
        self.member = member
        self.room_id = room_id
        self.bot_user_id = bot_user_id
        self.seconds = seconds

    async def messages(self) -> list[dict[str, Any]]:
        return await self.member.bot_messages(self.room_id, self.bot_user_id)

    async def message_with(self, text: str) -> dict[str, Any]:
        """The bot's latest message whose body contains `text`."""

        async def latest() -> dict[str, Any] | None:
            found = [m for m in await self.messages() if text in m["content"]["body"]]
            return found[-1] if found else None

        return await eventually(latest, f"the bot to say {text!r}", self.seconds)

    async def question(self, question_id: str) -> dict[str, Any]:
        return await self.message_with(f" · {question_id}: ")


class EncryptedAnalyst(Analyst):
    """A person whose client encrypts, with its own key store; it syncs before each read."""

    def __init__(self, base_url: str, user_id: str, access_token: str, store_dir: Path) -> None:
        store_dir.mkdir(parents=True, exist_ok=True)
        self.user_id = user_id
        self.client = AsyncClient(base_url, user_id, store_path=str(store_dir))
        self.client.access_token = access_token

    @classmethod
    async def connect(
        cls, base_url: str, user_id: str, access_token: str, store_dir: Path
    ) -> EncryptedAnalyst:
        """Logged in on the token's own device, its keys uploaded."""
        analyst = cls(base_url, user_id, access_token, store_dir)
        device_id = ok(await analyst.client.whoami()).device_id
        analyst.client.restore_login(user_id, device_id, access_token)
        await analyst.catch_up()
        return analyst

    async def catch_up(self) -> None:
        """One sync, then the key traffic it calls for (as nio's own sync loop does)."""
        client = self.client
        ok(await client.sync(timeout=0, full_state=True))
        if client.should_upload_keys:
            ok(await client.keys_upload())
        if client.should_query_keys:
            ok(await client.keys_query())
        if client.should_claim_keys:
            ok(await client.keys_claim(client.get_users_for_key_claiming()))
        for response in await client.send_to_device_messages():
            ok(response)

    async def say(self, room_id: str, body: str, **extra: Any) -> str:
        await self.catch_up()
        return await super().say(room_id, body, **extra)

    async def recent_events(self, room_id: str, limit: int = 20) -> list[dict[str, Any]]:
        await self.catch_up()  # brings the room keys of what the bot sent since
        return await super().recent_events(room_id, limit)

    async def invited_room_named(self, prefix: str) -> str | None:
        await self.catch_up()
        return await super().invited_room_named(prefix)
