"""End-to-end encryption chores: keys kept current around each sync and before each send.

nio encrypts and decrypts; this keeps its keys in step with the homeserver. The bot trusts
every device of a room member on first use: it cannot take part in interactive verification,
and a member whose new device cannot read the war room is worse than an unverified device
that can. Its own keys live in nio's store (`MatrixSettings.store_dir`), one file per device,
so they survive restarts as long as the device id does; so do the account's cross-signing keys
(`cross_signing`), which sign that device.

A message whose room key has not reached the bot yet is held (`undecrypted`) and read when the
key arrives; its key is asked for at once, and if it still cannot be read after a while its
sender is told to send it again. A member who joins later a room whose history is shared gets
the keys of what the bot sent there before (`room_history`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    EncryptionError,
    Event,
    ForwardedRoomKeyEvent,
    LocalProtocolError,
    MatrixRoom,
    MegolmEvent,
    RoomKeyEvent,
    RoomMemberEvent,
    ToDeviceMessage,
)

from bot.adapters.matrix.calls import MatrixCalls
from bot.adapters.matrix.cross_signing import CrossSigning
from bot.adapters.matrix.room_history import RoomHistoryKeys
from bot.adapters.matrix.undecrypted import HeldEvent, HeldEvents
from bot.core.store import KeyValue
from bot.port import PlatformError, RoomAccess

log = logging.getLogger(__name__)

MEGOLM = "m.megolm.v1.aes-sha2"
Tell = Callable[[str, str], Awaitable[None]]  # (room id, text): a notice in the room


def _history_key(room_id: str) -> str:
    return f"matrix:history-from-join:{room_id}"


class Encryption:
    def __init__(
        self,
        client: AsyncClient,
        calls: MatrixCalls,
        state: KeyValue,
        *,
        store_dir: Path,
        password: str | None,
        give_up_after: float,
        tell: Tell,
    ) -> None:
        self._client = client
        self._calls = calls
        self._state = state
        self._store_dir = store_dir
        self._password = password
        self._give_up_after = give_up_after
        self._tell = tell
        # Key requests answer with state nio applies on receipt; one at a time keeps it coherent.
        self._keys = asyncio.Lock()
        self._held = HeldEvents(state)
        self._key_arrived = bool(self._held)  # keys may have come in while the bot was down
        self._kept: RoomHistoryKeys | None = None
        self._cross_signed = False
        client.add_to_device_callback(self._room_key_arrived, (RoomKeyEvent, ForwardedRoomKeyEvent))

    @property
    def _history(self) -> RoomHistoryKeys:
        if self._kept is None:  # per device: known once logged in
            self._kept = RoomHistoryKeys(self._store_dir, self._client.device_id)
        return self._kept

    async def _cross_sign(self) -> None:
        """Once per start, after the first sync has uploaded the device keys."""
        self._cross_signed = True
        try:
            await CrossSigning(self._client, self._calls, self._store_dir, self._password).ensure()
        except PlatformError as error:
            # The bot still works, with an unsigned device: clients show it as not trusted.
            log.error("cross-signing not set up: %s", error)

    def _room_key_arrived(self, _event: Any) -> None:
        self._key_arrived = True

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
        if not self._cross_signed:
            await self._cross_sign()

    async def before_send(self, room_id: str) -> None:
        """Makes sure nio knows the room, everyone in it, and their devices, and has shared
        the room's session with them."""
        room = self._client.rooms.get(room_id)
        if room is None or not room.members_synced:
            await self._read_members(room_id)
        async with self._keys:
            if self._client.should_query_keys:
                await self._calls("keys_query", self._client.keys_query)
            await self._share_session(room_id)

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

    async def hold(self, room_id: str, events: Sequence[Any]) -> None:
        """Keeps the events nio could not decrypt, and asks the sender's devices for the key."""
        for event in events:
            if not isinstance(event, MegolmEvent) or event.sender == self._client.user_id:
                continue
            if not self._held.hold(room_id, event.source, time.time()):
                continue
            log.warning(
                "cannot decrypt %s from %s in %s yet (session %s); held until its key arrives",
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

    def late_events(self) -> list[tuple[str, dict[str, Any]]]:
        """(room id, event) of held events a room key that came since makes readable."""
        if not self._key_arrived:
            return []
        self._key_arrived = False
        readable: list[tuple[str, dict[str, Any]]] = []
        done: set[str] = set()
        for held in self._held.all():
            decrypted = self._decrypt(held)
            if decrypted is not None:
                done.add(held.event_id)
                if isinstance(decrypted, Event) and isinstance(decrypted.source, dict):
                    log.info(
                        "decrypted %s in %s after its key arrived", held.event_id, held.room_id
                    )
                    readable.append((held.room_id, decrypted.source))
        self._held.release(done)
        return readable

    def _decrypt(self, held: HeldEvent) -> Any:
        """The decrypted event (or nio's bad event), or None while its key is missing."""
        event = MegolmEvent.from_dict(held.event)
        if not isinstance(event, MegolmEvent):
            return event
        event.room_id = held.room_id
        try:
            return self._client.decrypt_event(event)
        except EncryptionError:
            return None

    async def give_up(self) -> None:
        """Tells the senders of held events that stayed unreadable too long to send them again."""
        now = time.time()
        expired = [held for held in self._held.all() if now - held.seen >= self._give_up_after]
        self._held.release({held.event_id for held in expired})
        told: set[tuple[str, str]] = set()
        for held in expired:
            sender = held.event.get("sender", "")
            log.warning(
                "gave up decrypting %s from %s in %s: its key never arrived",
                held.event_id,
                sender,
                held.room_id,
            )
            if (held.room_id, sender) in told:
                continue  # one notice per sender and room covers them all
            told.add((held.room_id, sender))
            sent = datetime.fromtimestamp(held.event.get("origin_server_ts", 0) / 1000, UTC)
            text = (
                f"{sender}: I could not read your message of {sent:%H:%M} UTC "
                "(its encryption key never reached me). Please send it again."
            )
            try:
                await self._tell(held.room_id, text)
            except PlatformError as error:
                log.warning("could not tell %s in %s: %s", sender, held.room_id, error)

    def access_changed(self, room_id: str, access: RoomAccess) -> None:
        """Records whether a newcomer may read the room's history (policy §5).

        A change starts a new session, so that nothing sent under one label shares a key with
        what is sent under the other; a room raised to TLP:RED forgets the keys it kept.
        """
        before = self._state.get(_history_key(room_id))
        now = "1" if access.history_from_join else "0"
        self._state.set(_history_key(room_id), now)
        if access.history_from_join:
            self._history.forget(room_id)
        if before is not None and before != now and self._client.olm is not None:
            self._client.invalidate_outbound_session(room_id)

    def _history_shared(self, room_id: str) -> bool:
        # A room the bot has no record of (a direct room, one older than the record) is not.
        return self._state.get(_history_key(room_id)) == "0"

    async def _share_session(self, room_id: str) -> None:
        """Shares a new room session before the first message in it, keeping its first key.

        nio would share it within `room_send`; doing it here is what lets the key be kept as
        it was before the first message, so that a newcomer can read from that message on.
        """
        client, olm = self._client, self._client.olm
        room = client.rooms.get(room_id)
        if olm is None or room is None or not room.encrypted:
            return
        if not olm.should_share_group_session(room_id) or room_id in client.sharing_session:
            return
        await self._calls(
            "share room key",
            lambda: client.share_group_session(room_id, ignore_unverified_devices=True),
        )
        session = olm.outbound_group_sessions.get(room_id)
        if session is not None and session.message_index == 0 and self._history_shared(room_id):
            self._history.keep(room_id, session.id, session.session_key)

    async def members_joined(self, room_id: str, events: Sequence[Mapping[str, Any]]) -> None:
        """Gives whoever joined the keys of what the bot sent before, if they may read it.

        At the join, not the invite: by then the member's client knows the bot's device, and a
        client that reads only cross-signed devices files a key from a device it does not know
        yet as from an unknown sender, for good.
        """
        for event in events:
            content = event.get("content", {})
            sender = event.get("sender")
            previous = event.get("unsigned", {}).get("prev_content", {}).get("membership")
            if (
                event.get("type") == "m.room.member"
                and event.get("state_key") == sender
                and content.get("membership") == "join"
                and previous != "join"
                and isinstance(sender, str)
                and sender != self._client.user_id
            ):
                try:
                    await self._share_history(room_id, sender)
                except PlatformError as error:
                    log.warning("room history not given to %s in %s: %s", sender, room_id, error)

    async def _share_history(self, room_id: str, user_id: str) -> None:
        """Gives a member the keys of what the bot sent before, if they may read it."""
        if not self._history_shared(room_id):
            return
        sessions = self._history.sessions(room_id)
        client, olm = self._client, self._client.olm
        if not sessions or olm is None:
            return
        async with self._keys:
            olm.users_for_key_query.add(user_id)
            await self._calls("keys_query", client.keys_query)
            missing = olm.get_missing_sessions([user_id])
            if missing:
                await self._calls("keys_claim", lambda: client.keys_claim(missing))
        devices = [
            device
            for device in olm.device_store.active_user_devices(user_id)
            if not olm.is_device_blacklisted(device)
        ]
        for device in devices:
            channel = olm.session_store.get(device.curve25519)
            if channel is None:
                log.warning("no Olm session with %s's device %s", user_id, device.id)
                continue
            for session_id, session_key in sessions.items():
                content = {
                    "algorithm": MEGOLM,
                    "room_id": room_id,
                    "session_id": session_id,
                    "session_key": session_key,
                }
                # nio's own sharing encrypts the same way; it has no call for an older session.
                encrypted = olm._olm_encrypt(channel, device, "m.room_key", content)
                message = ToDeviceMessage("m.room.encrypted", user_id, device.id, encrypted)
                await self._calls("share room history", partial(client.to_device, message))
        log.info(
            "gave %s (%d devices) the keys of %d sessions in %s",
            user_id,
            len(devices),
            len(sessions),
            room_id,
        )
