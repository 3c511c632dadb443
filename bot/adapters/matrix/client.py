"""`ChatPlatform` over a Matrix homeserver, with matrix-nio's `AsyncClient`."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import uuid
from collections.abc import Callable
from typing import Any

from nio import AsyncClient, AsyncClientConfig, RoomPreset
from nio.crypto import ENCRYPTION_ENABLED

from bot.adapters.matrix.calls import Backoff, MatrixCalls, Sleep
from bot.adapters.matrix.encryption import Encryption
from bot.adapters.matrix.rendering import edit_content, file_content, message_content
from bot.adapters.matrix.rooms import (
    access_state,
    encryption_state,
    made_by_and_joined,
    room_alias_name,
    room_create_arguments,
    with_moderators,
)
from bot.adapters.matrix.settings import MatrixSettings
from bot.adapters.matrix.state import MatrixState
from bot.adapters.matrix.sync import SyncLoop
from bot.core.store import KeyValue
from bot.port import (
    InboundHandler,
    Outbound,
    PlatformError,
    RoomAccess,
    RoomSpec,
    SentMessage,
    delivery_key,
)

log = logging.getLogger(__name__)

FORBIDDEN = "M_FORBIDDEN"
ROOM_IN_USE = "M_ROOM_IN_USE"
# Looks at a room found by its alias, until the bot shows as joined: Synapse maps the alias
# before it writes the room's first events, so a `createRoom` still in flight (sent again after
# a timeout) has made the alias before the room the bot is in.
ROOM_READ_ATTEMPTS = 6
FALLBACK_ROOM_VERSION = "10"
TRANSACTIONS = uuid.UUID("5d0f4f2e-2b1a-4c55-9d0e-7272746d7478")  # namespace of our txn ids


class MatrixAdapter:
    """Rooms are Matrix rooms; message ids are event ids.

    `start()` logs in, catches up on everything sent since the last saved sync token, and
    leaves the sync loop running in the background until `stop()`. `on_request` hears the
    name of every request made to the homeserver (to count them).
    """

    def __init__(
        self,
        settings: MatrixSettings,
        store: KeyValue,
        on_inbound: InboundHandler,
        *,
        accept_invite_from: Callable[[str], bool],
        space_room_id: str | None = None,
        encrypt: bool = False,
        sleep: Sleep = asyncio.sleep,
        on_request: Callable[[str], None] | None = None,
    ) -> None:
        if encrypt and not ENCRYPTION_ENABLED:
            raise PlatformError(
                "encryption_unavailable", "Matrix encryption needs matrix-nio[e2e] (vodozemac)"
            )
        self._settings = settings
        self._state = MatrixState(store)
        self._space_room_id = space_room_id
        self._encrypt = encrypt
        self._calls = MatrixCalls(
            Backoff(settings.backoff_initial, settings.backoff_max),
            connection_attempts=settings.connection_attempts,
            rate_limit_attempts=settings.rate_limit_attempts,
            sleep=sleep,
            on_request=on_request,
        )
        self._store = store
        self._on_inbound = on_inbound
        self._accept_invite_from = accept_invite_from
        self._report: Callable[[bool, str | None], None] = lambda up, why: None
        settings.store_dir.mkdir(parents=True, exist_ok=True)
        self._connect_parts()
        self._used = False  # whether `start` has run on these parts
        self._room_version: str | None = None
        self._loop_task: asyncio.Task[None] | None = None

    def _connect_parts(self) -> None:
        """A client, its key store and the sync loop, made anew for each start: after a
        takeover elsewhere (another replica held the Matrix role meanwhile) nothing kept in
        memory from before is current, the device's keys least of all."""
        settings, store = self._settings, self._store
        encrypt = self._encrypt
        # nio's own retries are off: `MatrixCalls` retries, so every error is seen here.
        self._client = AsyncClient(
            settings.homeserver,
            settings.user_id,
            # The remembered device is read at the start: a standby replica reads nothing
            # until it takes over, and then finds the device its predecessor used.
            device_id=settings.device_id or "",
            store_path=str(settings.store_dir),
            config=AsyncClientConfig(
                max_limit_exceeded=0,
                max_timeouts=0,
                encryption_enabled=encrypt,
                store_sync_tokens=False,
            ),
        )
        if settings.access_token:
            self._client.access_token = settings.access_token
        self._encryption = (
            Encryption(
                self._client,
                self._calls,
                store,
                store_dir=settings.store_dir,
                password=settings.password,
                give_up_after=settings.undecryptable_timeout,
                tell=self._tell,
            )
            if encrypt
            else None
        )
        self._sync = SyncLoop(
            self._client,
            self._calls,
            self._state,
            self._on_inbound,
            self._accept_invite_from,
            timeout_ms=settings.sync_timeout_ms,
            timeline_limit=settings.timeline_limit,
            encryption=self._encryption,
        )
        self._sync.report = self._report

    @property
    def name(self) -> str:
        return "matrix"

    @property
    def end_to_end_encrypted(self) -> bool:
        return self._encrypt

    @property
    def user_id(self) -> str:
        return self._settings.user_id

    async def start(self) -> None:
        if self._used:
            self._connect_parts()
        self._used = True
        await self._log_in()
        await self._sync.sync_once(timeout_ms=0)
        self._loop_task = asyncio.create_task(self._sync.run(), name="matrix-sync")

    def watch_connection(self, report: Callable[[bool, str | None], None]) -> None:
        """`report` hears when syncing fails (the connection is lost) and when it works again."""
        self._report = report
        self._sync.report = report

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        await self._client.close()

    async def _log_in(self) -> None:
        client, settings = self._client, self._settings
        if not client.device_id:
            client.device_id = self._state.device_id or ""
        if settings.password and not settings.access_token:
            response = await self._calls(
                "login",
                lambda: client.login(password=settings.password, device_name=settings.device_name),
            )
            device_id = response.device_id
        else:
            # The token belongs to one device; asking also proves the token works.
            whoami = await self._calls("whoami", client.whoami)
            device_id = whoami.device_id or client.device_id
        client.restore_login(settings.user_id, device_id, client.access_token)
        self._state.device_id = device_id

    async def _send_event(self, room_id: str, event_type: str, content: dict[str, Any]) -> str:
        if self._encryption is not None:
            await self._encryption.before_send(room_id)
        # One transaction id for every retry, so the homeserver stores the event once; derived
        # from the effect's key, so that delivering the effect again after a crash (same
        # device) returns the event sent the first time.
        key = delivery_key.get()
        transaction = (
            uuid.uuid5(TRANSACTIONS, f"{key}|{room_id}|{event_type}").hex
            if key is not None
            else uuid.uuid4().hex
        )
        response = await self._calls(
            f"send {event_type}",
            lambda: self._client.room_send(
                room_id, event_type, content, tx_id=transaction, ignore_unverified_devices=True
            ),
        )
        event_id: str = response.event_id
        return event_id

    async def _put_state(
        self, room_id: str, event_type: str, content: dict[str, Any], state_key: str = ""
    ) -> None:
        await self._calls(
            f"set {event_type}",
            lambda: self._client.room_put_state(room_id, event_type, content, state_key=state_key),
        )

    async def _default_room_version(self) -> str:
        if self._room_version is None:
            self._room_version = await self._fetch_default_room_version()
        return self._room_version

    async def _fetch_default_room_version(self) -> str:
        async def capabilities() -> Any:
            answer = await self._client.send(
                "GET",
                "/_matrix/client/v3/capabilities",
                headers={"Authorization": f"Bearer {self._client.access_token}"},
            )
            return await answer.json()

        found = await self._calls("capabilities", capabilities)
        version = found.get("capabilities", {}).get("m.room_versions", {}).get("default")
        return version if isinstance(version, str) else FALLBACK_ROOM_VERSION

    async def create_room(self, spec: RoomSpec) -> str:
        """The war room, made once per delivery key.

        `createRoom` has no transaction id: under a delivery key the room gets an alias
        derived from the key, so that delivering the effect again (after a crash, or a retry
        of a request whose answer was lost) finds the alias taken and takes the room the
        earlier attempt made. What follows `createRoom` here is done again either way.
        """
        space = (self._space_room_id, self._settings.server_name) if self._space_room_id else None
        key = delivery_key.get()
        alias = room_alias_name(self.user_id, key) if key is not None else None
        arguments = room_create_arguments(
            spec,
            bot_user_id=self.user_id,
            room_version=await self._default_room_version(),
            encrypt=self._encrypt,
            space=space,
            alias=alias,
        )
        try:
            response = await self._calls(
                "create room", lambda: self._client.room_create(**arguments)
            )
            room_id: str = response.room_id
        except PlatformError as error:
            if alias is None or error.code != ROOM_IN_USE:
                raise
            room_id = await self._room_made_before(alias)
        if self._encryption is not None:
            self._encryption.access_changed(
                room_id, RoomAccess(private=spec.private, history_from_join=spec.history_from_join)
            )
        if self._space_room_id:
            await self._put_state(
                self._space_room_id,
                "m.space.child",
                {"via": [self._settings.server_name]},
                state_key=room_id,
            )
        return room_id

    async def _room_made_before(self, alias_name: str) -> str:
        """The room an earlier delivery created with this alias; refused (`M_ROOM_IN_USE`)
        unless the bot created it and is in it."""
        alias = f"#{alias_name}:{self._settings.server_name}"
        resolved = await self._calls(
            "resolve room alias", lambda: self._client.room_resolve_alias(alias)
        )
        room_id: str = resolved.room_id
        for attempt in range(ROOM_READ_ATTEMPTS):
            if attempt:
                await self._calls.back_off(attempt)
            try:
                state = await self._calls(
                    "read room state", lambda: self._client.room_get_state(room_id)
                )
            except PlatformError as error:
                if error.code != FORBIDDEN:
                    raise
                continue  # the bot is not (yet) in the room
            created, joined = made_by_and_joined(state.events, self.user_id)
            if not created:
                raise PlatformError(
                    ROOM_IN_USE, f"create room: {alias} names a room the bot did not create"
                )
            if joined:
                log.info("room %s was created by an earlier delivery: %s", alias, room_id)
                return room_id
        raise PlatformError(ROOM_IN_USE, f"create room: {alias} names a room the bot is not in")

    async def _tell(self, room_id: str, text: str) -> None:
        await self.send(room_id, Outbound(text))

    async def send(self, room_id: str, message: Outbound) -> SentMessage:
        event_id = await self._send_event(room_id, "m.room.message", message_content(message))
        if message.buttons:
            self._state.remember_buttons(event_id, message.buttons)
        return SentMessage(room_id=room_id, message_id=event_id)

    async def edit(self, sent: SentMessage, message: Outbound) -> None:
        content = edit_content(sent.message_id, message)
        await self._send_event(sent.room_id, "m.room.message", content)
        self._state.remember_buttons(sent.message_id, message.buttons)

    async def pin(self, sent: SentMessage) -> None:
        """Adds the message to the room's pins, as the adapter last set or saw them
        (`MatrixState.pinned`): a war room's pins are the bot's, so none are read first."""
        pinned = self._state.pinned(sent.room_id)
        if sent.message_id not in pinned:
            pinned.append(sent.message_id)
            await self._put_state(sent.room_id, "m.room.pinned_events", {"pinned": pinned})
            self._state.remember_pinned(sent.room_id, pinned)

    async def set_topic(self, room_id: str, topic: str) -> None:
        await self._put_state(room_id, "m.room.topic", {"topic": topic})

    async def set_access(self, room_id: str, access: RoomAccess) -> None:
        """Join rule, then history visibility, as at creation (`rooms.access_state`).

        Putting state is idempotent (Synapse keeps the current event when the content is the
        same), so delivering this again is harmless. History visibility applies to the events
        sent after it: what was sent while the room was `shared` stays readable to whoever
        joins later; a member invited after a raise to TLP:RED reads only from their invite
        what was sent from the raise on.
        """
        if self._encryption is not None:
            self._encryption.access_changed(room_id, access)
        for event in access_state(access):
            await self._put_state(room_id, event["type"], event["content"], event["state_key"])

    async def invite(self, room_id: str, user_id: str) -> None:
        try:
            await self._calls("invite", lambda: self._client.room_invite(room_id, user_id))
        except PlatformError as error:
            # Inviting a member is a no-op to the bot; Synapse calls it forbidden.
            if not (error.code == FORBIDDEN and "already in the room" in error.detail):
                raise
        if self._encryption is not None:
            self._encryption.members_changed(room_id)

    async def remove(self, room_id: str, user_id: str) -> None:
        await self._calls("kick", lambda: self._client.room_kick(room_id, user_id))

    async def set_moderators(self, room_id: str, user_ids: tuple[str, ...]) -> None:
        """Power levels as `rooms.with_moderators` makes them; nothing is sent when they
        already match, so delivering this again is harmless."""
        current = await self._calls(
            "read power levels",
            lambda: self._client.room_get_state_event(room_id, "m.room.power_levels"),
        )
        wanted = with_moderators(current.content, self.user_id, user_ids)
        if wanted != current.content:
            await self._put_state(room_id, "m.room.power_levels", wanted)

    async def send_direct(self, user_id: str, message: Outbound) -> SentMessage:
        room_id = self._state.direct_room(user_id)
        if room_id is not None:
            try:
                return await self.send(room_id, message)
            except PlatformError as error:
                if error.code != FORBIDDEN:
                    raise
                log.info("direct room %s with %s is gone; opening a new one", room_id, user_id)
        room_id = await self._create_direct_room(user_id)
        return await self.send(room_id, message)

    async def _create_direct_room(self, user_id: str) -> str:
        response = await self._calls(
            "create direct room",
            lambda: self._client.room_create(
                is_direct=True,
                preset=RoomPreset.private_chat,
                invite=[user_id],
                # Pages name the incident; they are as private as the war room.
                initial_state=[encryption_state()] if self._encrypt else [],
            ),
        )
        room_id: str = response.room_id
        self._state.remember_direct_room(user_id, room_id)
        return room_id

    async def upload_file(
        self, room_id: str, filename: str, content: bytes, mimetype: str, title: str
    ) -> None:
        encrypted = False
        if self._encryption is not None:
            await self._encryption.before_send(room_id)
            encrypted = self._encryption.is_encrypted(room_id)
        uploaded_keys: dict[str, Any] = {}  # filled by the upload that succeeds

        async def upload() -> Any:
            response, keys = await self._client.upload(
                io.BytesIO(content),
                content_type=mimetype,
                filename=filename,
                filesize=len(content),
                encrypt=encrypted,
            )
            uploaded_keys.clear()
            uploaded_keys.update(keys or {})
            return response

        uploaded = await self._calls("upload", upload)
        keys = uploaded_keys if encrypted else None
        content_uri = uploaded.content_uri
        await self._send_event(
            room_id,
            "m.room.message",
            file_content(content_uri, filename, mimetype, len(content), title, keys),
        )
