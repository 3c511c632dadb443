"""`ChatPlatform` over the Slack Web API."""

from __future__ import annotations

from functools import partial

from bot.adapters.slack.blocks import escape, fallback_text, message_blocks
from bot.adapters.slack.names import channel_name, numbered
from bot.adapters.slack.state import SlackState
from bot.adapters.slack.web import SlackWeb
from bot.core.store import KeyValue
from bot.port import Outbound, PlatformError, RoomSpec, SentMessage

# Slack topics and purposes hold at most 250 characters.
TOPIC_LIMIT = 250
MAX_NAME_ATTEMPTS = 20


class SlackPlatform:
    """Slack rooms are channels; message ids are message timestamps (`ts`)."""

    def __init__(self, web: SlackWeb, store: KeyValue) -> None:
        self._web = web
        self._state = SlackState(store)

    @property
    def name(self) -> str:
        return "slack"

    async def create_room(self, spec: RoomSpec) -> str:
        """Create the channel (suffixing -2, -3 … while the name is taken), then topic, invites.

        Slack has no per-member history cut-off and no bot-granted channel moderators, so
        `history_from_join` and `coordinator` are not applied here.
        """
        channel_id = await self._create_channel(channel_name(spec.slug), spec.private)
        await self._web.call(
            "conversations.setPurpose",
            lambda: self._web.client.conversations_setPurpose(
                channel=channel_id, purpose=spec.name[:TOPIC_LIMIT]
            ),
        )
        await self.set_topic(channel_id, spec.topic)
        if spec.invite:
            await self._web.call(
                "conversations.invite",
                lambda: self._web.client.conversations_invite(
                    channel=channel_id, users=list(spec.invite), force=True
                ),
            )
        return channel_id

    async def _create_channel(self, base: str, private: bool) -> str:
        for attempt in range(1, MAX_NAME_ATTEMPTS + 1):
            name = numbered(base, attempt)
            try:
                create = partial(
                    self._web.client.conversations_create, name=name, is_private=private
                )
                response = await self._web.call("conversations.create", create)
            except PlatformError as error:
                if error.code == "name_taken":
                    continue
                raise
            return str(response["channel"]["id"])
        last = numbered(base, MAX_NAME_ATTEMPTS)
        raise PlatformError("name_taken", f"Every channel name from {base} to {last} is taken.")

    async def send(self, room_id: str, message: Outbound) -> SentMessage:
        response = await self._web.call(
            "chat.postMessage",
            lambda: self._web.client.chat_postMessage(
                channel=room_id,
                text=fallback_text(message),
                blocks=message_blocks(message),
                thread_ts=message.thread_of,
            ),
            limit_key=room_id,
        )
        # Replies in a DM or channel come back with the channel id Slack resolved.
        sent = SentMessage(str(response.get("channel") or room_id), str(response["ts"]))
        if message.buttons:
            self._state.remember_buttons(
                sent.room_id, sent.message_id, [button.value for button in message.buttons]
            )
        return sent

    async def edit(self, sent: SentMessage, message: Outbound) -> None:
        await self._web.call(
            "chat.update",
            lambda: self._web.client.chat_update(
                channel=sent.room_id,
                ts=sent.message_id,
                text=fallback_text(message),
                blocks=message_blocks(message),
            ),
        )
        self._state.remember_buttons(
            sent.room_id, sent.message_id, [button.value for button in message.buttons]
        )

    async def pin(self, sent: SentMessage) -> None:
        try:
            await self._web.call(
                "pins.add",
                lambda: self._web.client.pins_add(channel=sent.room_id, timestamp=sent.message_id),
            )
        except PlatformError as error:
            if error.code != "already_pinned":
                raise

    async def set_topic(self, room_id: str, topic: str) -> None:
        await self._web.call(
            "conversations.setTopic",
            lambda: self._web.client.conversations_setTopic(
                channel=room_id, topic=escape(topic)[:TOPIC_LIMIT]
            ),
        )

    async def invite(self, room_id: str, user_id: str) -> None:
        try:
            await self._web.call(
                "conversations.invite",
                lambda: self._web.client.conversations_invite(channel=room_id, users=user_id),
            )
        except PlatformError as error:
            if error.code != "already_in_channel":
                raise

    async def remove(self, room_id: str, user_id: str) -> None:
        await self._web.call(
            "conversations.kick",
            lambda: self._web.client.conversations_kick(channel=room_id, user=user_id),
        )

    async def send_direct(self, user_id: str, message: Outbound) -> SentMessage:
        channel = self._state.direct_channel(user_id)
        if channel is None:
            response = await self._web.call(
                "conversations.open",
                lambda: self._web.client.conversations_open(users=user_id),
            )
            channel = str(response["channel"]["id"])
            self._state.remember_direct_channel(user_id, channel)
        return await self.send(channel, message)

    async def upload_file(
        self, room_id: str, filename: str, content: bytes, mimetype: str, title: str
    ) -> None:
        # Slack infers the file type from its name and bytes; `mimetype` has no v2 parameter.
        await self._web.call(
            "files.completeUploadExternal",
            lambda: self._web.client.files_upload_v2(
                channel=room_id, filename=filename, content=content, title=title
            ),
        )
