"""End-to-end encryption chores: keys kept current around each sync and before each send.

nio encrypts and decrypts; this keeps its keys in step with the homeserver. The bot trusts
every device of a room member on first use: it cannot take part in interactive verification,
and a member whose new device cannot read the war room is worse than an unverified device
that can. Its own keys live in nio's store (`MatrixSettings.store_dir`), one file per device,
so they survive restarts as long as the device id does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

from nio import AsyncClient, Event, LocalProtocolError, MatrixRoom, MegolmEvent, RoomMemberEvent

from bot.adapters.matrix.calls import MatrixCalls
from bot.port import PlatformError

log = logging.getLogger(__name__)


class Encryption:
    def __init__(self, client: AsyncClient, calls: MatrixCalls) -> None:
        self._client = client
        self._calls = calls
        # Key requests answer with state nio applies on receipt; one at a time keeps it coherent.
        self._keys = asyncio.Lock()

    async def after_sync(self) -> None:
        """Uploads, queries and claims whatever keys the last sync showed to be needed."""
        client = self._client
        async with self._keys:
            if client.should_upload_keys:
                await self._calls("keys_upload", client.keys_upload)
            if client.should_query_keys:
                await self._calls("keys_query", client.keys_query)
            if client.should_claim_keys:
                wanted = client.get_users_for_key_claiming()
                await self._calls("keys_claim", lambda: client.keys_claim(wanted))
            if client.outgoing_to_device_messages:
                await client.send_to_device_messages()

    async def before_send(self, room_id: str) -> None:
        """Makes sure nio knows the room, everyone in it, and their devices."""
        room = self._client.rooms.get(room_id)
        if room is None or not room.members_synced:
            await self._read_members(room_id)
        async with self._keys:
            if self._client.should_query_keys:
                await self._calls("keys_query", self._client.keys_query)

    def members_changed(self, room_id: str) -> None:
        """Someone was invited: the next message must reach their devices too."""
        room = self._client.rooms.get(room_id)
        if room is not None:
            room.members_synced = False

    def is_encrypted(self, room_id: str) -> bool:
        room = self._client.rooms.get(room_id)
        return room is not None and room.encrypted

    async def _read_members(self, room_id: str) -> None:
        """Reads the room's state, invitations included, from the homeserver.

        The sync may not have brought the room, or all of a room just created, by the time the
        bot speaks in it, and a message is encrypted only for the members nio knows of. Syncs
        keep the room current afterwards.
        """
        response = await self._calls("room state", lambda: self._client.room_get_state(room_id))
        client = self._client
        room = client.rooms.setdefault(room_id, MatrixRoom(room_id, client.user_id))
        members_changed = False
        for raw in response.events:
            event = Event.parse_event(raw)
            if isinstance(event, RoomMemberEvent):
                members_changed = room.handle_membership(event) or members_changed
            elif isinstance(event, Event):
                room.handle_event(event)  # an m.room.encryption event marks it encrypted
        room.members_synced = True
        if room.encrypted:
            client.encrypted_rooms.add(room_id)
            assert client.olm is not None
            client.olm.update_tracked_users(room)
            if members_changed:
                client.invalidate_outbound_session(room_id)

    async def undecryptable(self, room_id: str, events: Sequence[Any]) -> None:
        """Logs events nio could not decrypt and asks the sender's devices for their key."""
        for event in events:
            if not isinstance(event, MegolmEvent):
                continue
            log.warning(
                "cannot decrypt %s from %s in %s (session %s); skipped",
                event.event_id,
                event.sender,
                room_id,
                event.session_id,
            )
            event.room_id = room_id
            try:
                await self._calls("request key", partial(self._client.request_room_key, event))
            except (LocalProtocolError, PlatformError) as error:
                log.info("no key request for %s: %s", event.event_id, error)
