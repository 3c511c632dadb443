"""`ChatPlatform` over the Slack Web API.

The outbox is delivered at least once (`bot.delivery`): a crash between a Web API call and the
commit of its result makes the same effect run again, with `bot.port.delivery_retried` set.
Slack takes no request ids, so this adapter makes each repeat harmless itself:

- A message carries its effect's key as message metadata (`event_type` "rrt_effect"). A retried
  send first looks for that key among the channel's recent messages (or the thread's) and
  returns the message found instead of posting it again.
- A war room's id is noted in the KeyValue store as soon as Slack answers. A retried
  create_room reuses the noted channel; failing that (the crash came before the note), a
  `name_taken` answer makes it look for the channel of that name and reuse it if the bot
  created it for this room. Purpose and topic are set where they are not yet, and the
  invitations repeated (members already in are fine).
- An upload notes its start, then its file; a retried upload looks for a file of the same
  name, title and size that the bot shared in the channel since that start.
- Editing, pinning, topics, access, invitations and removals are idempotent: Slack's "already so"
  answers (`already_pinned`, `already_in_channel`, `not_in_channel` on a kick) count as success.

When a reply to an event cannot be posted because of the channel itself (the bot is not a
member, the channel is archived or gone), it is said to the sender alone instead: see
`bot.adapters.slack.answers`.

What is left: a retry looks back only HISTORY_LOOKBACK messages, so a retried send into a
channel that had more messages than that since the first attempt, or whose history the bot
cannot read, posts once more; so does an upload whose share Slack did not show yet.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from functools import partial
from typing import Any

from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.adapters.slack.answers import ReplyHint, ReplyHints, post_to_response_url
from bot.adapters.slack.blocks import escape, fallback_text, message_blocks
from bot.adapters.slack.names import channel_name, numbered
from bot.adapters.slack.state import SlackState
from bot.adapters.slack.web import ROOM_ERRORS, SlackWeb
from bot.core.store import KeyValue
from bot.port import (
    Outbound,
    PlatformError,
    RoomAccess,
    RoomSpec,
    SentMessage,
    delivery_key,
    delivery_origin,
    delivery_retried,
)

log = logging.getLogger(__name__)

# Slack topics and purposes hold at most 250 characters.
TOPIC_LIMIT = 250
MAX_NAME_ATTEMPTS = 20
# The metadata event type of every message the bot posts for an outbox effect.
EFFECT_EVENT_TYPE = "rrt_effect"
# How far back a retried send or upload looks: the newest messages of the channel (one page
# of conversations.history), or the first pages of a thread (conversations.replies, oldest
# first). Internal apps get Tier 3 for both; apps distributed outside the Marketplace get one
# call a minute and at most 15 messages, which this lookback then exceeds harmlessly.
HISTORY_LOOKBACK = 100
THREAD_PAGES = 5
# conversations.list pages looked through for a war room of a taken name (200 is Slack's
# recommended page size): a workspace with more channels than that makes a second room.
LIST_PAGE_SIZE = 200
LIST_PAGES = 50
# An upload's start is noted by this host's clock and compared with Slack's timestamps.
CLOCK_MARGIN_SECONDS = 300.0

Channel = Mapping[str, Any]


class SlackPlatform:
    """Slack rooms are channels; message ids are message timestamps (`ts`)."""

    def __init__(self, web: SlackWeb, store: KeyValue) -> None:
        self._web = web
        self._state = SlackState(store)
        self._bot_user: str | None = None
        self._hints = ReplyHints()

    @property
    def name(self) -> str:
        return "slack"

    @property
    def end_to_end_encrypted(self) -> bool:
        return False  # Slack can read every channel

    # ---- rooms

    async def create_room(self, spec: RoomSpec) -> str:
        """Create the channel (suffixing -2, -3 … while the name is taken), then topic, invites.

        Slack has no per-member history cut-off and no bot-granted channel moderators, so
        `history_from_join` and `coordinator` are not applied here.
        """
        key = delivery_key.get()
        retried = key is not None and delivery_retried.get()
        channel = await self._noted_room(key) if retried else None
        fresh = channel is None
        if channel is None:
            channel, fresh = await self._create_channel(spec, reuse=retried)
        channel_id = str(channel["id"])
        if key is not None:
            self._state.remember_effect(key, "room", channel_id)
        purpose = _channel_text(spec.name)
        if fresh or _text_of(channel, "purpose") != purpose:
            await self._web.call(
                "conversations.setPurpose",
                lambda: self._web.client.conversations_setPurpose(
                    channel=channel_id, purpose=purpose
                ),
            )
        if fresh or _text_of(channel, "topic") != _channel_text(spec.topic):
            await self._set_topic(channel_id, spec.topic)
        if spec.invite:
            await self._invite_all(channel_id, spec.invite)
        return channel_id

    async def _invite_all(self, channel_id: str, users: tuple[str, ...]) -> None:
        """Invite everyone in one call; members already in (the first attempt's invitations)
        are fine."""
        response = await self._web.call(
            "conversations.invite",
            lambda: self._web.client.conversations_invite(
                channel=channel_id, users=list(users), force=True
            ),
            accept={"already_in_channel"},
        )
        if response.get("ok"):
            return
        # Slack names each member already in under `errors`; `force` should have invited the
        # others regardless, but each is invited on its own to be sure (harmless if done).
        already = {str(item.get("user")) for item in response.get("errors") or []}
        for user in users:
            if user not in already:
                await self.invite(channel_id, user)

    async def _noted_room(self, key: str | None) -> Channel | None:
        """The channel an earlier attempt at this effect created, if it noted one."""
        noted = self._state.effect(key, "room") if key is not None else None
        if noted is None:
            return None
        try:
            response = await self._web.call(
                "conversations.info",
                partial(self._web.client.conversations_info, channel=noted),
            )
        except PlatformError as error:
            if error.code == "channel_not_found":
                return None
            return {"id": noted}  # purpose and topic unknown: they are set again
        channel: Channel = response["channel"]
        return None if channel.get("is_archived") else channel

    async def _create_channel(self, spec: RoomSpec, reuse: bool) -> tuple[Channel, bool]:
        """The new channel and True; with `reuse`, maybe the bot's earlier one and False."""
        base = channel_name(spec.slug)
        ours: dict[str, Channel] | None = None
        for attempt in range(1, MAX_NAME_ATTEMPTS + 1):
            name = numbered(base, attempt)
            try:
                create = partial(
                    self._web.client.conversations_create, name=name, is_private=spec.private
                )
                response = await self._web.call("conversations.create", create)
            except PlatformError as error:
                if error.code != "name_taken":
                    raise
                if reuse:
                    if ours is None:
                        ours = await self._rooms_made_by_bot(base, spec)
                    if name in ours:
                        return ours[name], False
                continue
            return response["channel"], True
        last = numbered(base, MAX_NAME_ATTEMPTS)
        raise PlatformError("name_taken", f"Every channel name from {base} to {last} is taken.")

    async def _rooms_made_by_bot(self, base: str, spec: RoomSpec) -> dict[str, Channel]:
        """Channels named `base`, `base-2` … that the bot created and that are not archived,
        whose purpose is this room's or not set yet (the first attempt stopped before it)."""
        names = {numbered(base, attempt) for attempt in range(1, MAX_NAME_ATTEMPTS + 1)}
        # The unescaped name too: the purpose an earlier version of the bot set.
        purposes = {"", _channel_text(spec.name), spec.name[:TOPIC_LIMIT]}
        bot = await self._bot_user_id()
        found: dict[str, Channel] = {}
        try:
            async for channel in self._pages(
                "conversations.list",
                lambda cursor: self._web.client.conversations_list(
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=LIST_PAGE_SIZE,
                    cursor=cursor,
                ),
                "channels",
                LIST_PAGES,
            ):
                if (
                    channel.get("name") in names
                    and channel.get("creator") == bot
                    and _text_of(channel, "purpose") in purposes
                ):
                    found[str(channel["name"])] = channel
        except PlatformError as error:
            log.warning("Could not look for the war room %s made before: %s", base, error)
        return found

    async def set_topic(self, room_id: str, topic: str) -> None:
        if delivery_retried.get() and await self._topic_is(room_id, topic):
            return  # set by the attempt that crashed: setting it again would announce it twice
        await self._set_topic(room_id, topic)

    async def _topic_is(self, room_id: str, topic: str) -> bool:
        try:
            response = await self._web.call(
                "conversations.info", partial(self._web.client.conversations_info, channel=room_id)
            )
        except PlatformError:
            return False
        return _text_of(response["channel"], "topic") == _channel_text(topic)

    async def _set_topic(self, room_id: str, topic: str) -> None:
        await self._web.call(
            "conversations.setTopic",
            lambda: self._web.client.conversations_setTopic(
                channel=room_id, topic=_channel_text(topic)
            ),
        )

    async def set_access(self, room_id: str, access: RoomAccess) -> None:
        """Check that the channel is as private as its label wants; Slack changes nothing here.

        A channel is private or public from its creation (`create_room` makes every room
        but a TLP:CLEAR one private), and a bot token cannot make a public channel private:
        raising a public channel's label above TLP:CLEAR is refused with `cannot_make_private`
        (reported to whoever changed the label). Lowering a private channel to TLP:CLEAR
        leaves it private, which is stricter than the label asks. Slack has no per-member
        history cut-off, so `history_from_join` has no equivalent: every member of a channel
        reads its whole history.
        """
        if not access.private:
            return
        response = await self._web.call(
            "conversations.info", partial(self._web.client.conversations_info, channel=room_id)
        )
        if not response["channel"].get("is_private"):
            # Not named: the notice may go to a lobby, where a label above CLEAR hides the title.
            raise PlatformError(
                "cannot_make_private",
                "Slack does not let an app make a public channel private, so the war room "
                "stays public; a workspace admin can make it private in the channel's settings",
                {"method": "conversations.info", "channel": room_id},
            )

    async def invite(self, room_id: str, user_id: str) -> None:
        await self._web.call(
            "conversations.invite",
            lambda: self._web.client.conversations_invite(channel=room_id, users=user_id),
            accept={"already_in_channel"},
        )

    async def remove(self, room_id: str, user_id: str) -> None:
        # On conversations.kick, `not_in_channel` means the user was not in the channel.
        await self._web.call(
            "conversations.kick",
            lambda: self._web.client.conversations_kick(channel=room_id, user=user_id),
            accept={"not_in_channel"},
        )

    async def set_moderators(self, room_id: str, user_ids: tuple[str, ...]) -> None:
        """Nothing to do: a Slack channel has no roles of its own (a workspace's admins run
        every channel), so a coordinator needs no more rights than any member."""

    # ---- messages

    async def send(self, room_id: str, message: Outbound) -> SentMessage:
        key = delivery_key.get()
        if key is not None and delivery_retried.get():
            found = await self._find_sent(room_id, message.thread_of, key)
            if found is not None:
                self._remember_buttons(found, message)
                return found
        try:
            response = await self._web.call(
                "chat.postMessage",
                lambda: self._web.client.chat_postMessage(
                    channel=room_id,
                    text=fallback_text(message),
                    blocks=message_blocks(message),
                    thread_ts=message.thread_of,
                    metadata=_effect_metadata(key) if key is not None else None,
                ),
                limit_key=room_id,
            )
        except PlatformError as error:
            hint = self._hints.of(delivery_origin.get())
            if error.code not in ROOM_ERRORS or hint is None or hint.room_id != room_id:
                raise
            why = f"_Only you can see this: {ROOM_ERRORS[error.code]}._"
            said = Outbound(f"{message.text}\n{why}", message.buttons)
            answered = await self._answer(hint, said)
            if answered is None:
                raise
            return answered
        # Replies in a DM or channel come back with the channel id Slack resolved.
        sent = SentMessage(str(response.get("channel") or room_id), str(response["ts"]))
        self._remember_buttons(sent, message)
        return sent

    async def answer_privately(self, room_id: str, message: Outbound) -> bool:
        """Tell the sender of the event being answered, in `room_id`, where only they see it."""
        hint = self._hints.of(delivery_origin.get())
        if hint is None or hint.room_id != room_id:
            return False
        return await self._answer(hint, message) is not None

    async def _answer(self, hint: ReplyHint, message: Outbound) -> SentMessage | None:
        """Say it to the hint's sender alone: by response_url, else chat.postEphemeral, else
        in a direct message. None when all three failed."""
        url = self._hints.take_url(hint)
        body = {
            "response_type": "ephemeral",
            "replace_original": False,
            "text": fallback_text(message),
            "blocks": message_blocks(message),
        }
        # Slack gives an answer by response_url no id; this one stands for it, matching nothing.
        private_id = f"private-{uuid.uuid4().hex}"
        if url is not None and await post_to_response_url(url, body):
            return SentMessage(hint.room_id, private_id)
        try:
            response = await self._web.call(
                "chat.postEphemeral",
                lambda: self._web.client.chat_postEphemeral(
                    channel=hint.room_id,
                    user=hint.user_id,
                    text=fallback_text(message),
                    blocks=message_blocks(message),
                ),
            )
            return SentMessage(hint.room_id, str(response.get("message_ts") or private_id))
        except PlatformError as error:
            log.info("Could not answer %s in %s: %s", hint.user_id, hint.room_id, error)
        try:
            return await self.send_direct(hint.user_id, message)
        except PlatformError as error:
            log.warning("Could not answer %s at all: %s", hint.user_id, error)
            return None

    def _remember_buttons(self, sent: SentMessage, message: Outbound) -> None:
        if message.buttons:
            self._state.remember_buttons(
                sent.room_id, sent.message_id, [button.value for button in message.buttons]
            )

    async def _find_sent(self, room_id: str, thread_of: str | None, key: str) -> SentMessage | None:
        """The bot's message for the effect `key` among the recent ones, if it was posted."""
        try:
            async for message in self._recent_messages(room_id, thread_of):
                if message.get("bot_id") and _effect_key(message) == key:
                    log.info("%s was posted before the crash: not posting it again", key)
                    return SentMessage(room_id, str(message["ts"]))
        except PlatformError as error:
            # Posting once more beats losing the message.
            log.warning("Could not look for %s in %s: %s", key, room_id, error)
        return None

    def _recent_messages(
        self, room_id: str, thread_of: str | None, oldest: float | None = None
    ) -> AsyncIterator[Mapping[str, Any]]:
        if thread_of:
            # conversations.history lists only the top level; a thread is read oldest first.
            return self._pages(
                "conversations.replies",
                lambda cursor: self._web.client.conversations_replies(
                    channel=room_id,
                    ts=thread_of,
                    include_all_metadata=True,
                    limit=HISTORY_LOOKBACK,
                    cursor=cursor,
                ),
                "messages",
                THREAD_PAGES,
            )
        # Newest first; metadata comes only with include_all_metadata.
        return self._pages(
            "conversations.history",
            lambda cursor: self._web.client.conversations_history(
                channel=room_id,
                include_all_metadata=True,
                limit=HISTORY_LOOKBACK,
                oldest=f"{oldest:.6f}" if oldest is not None else None,
                cursor=cursor,
            ),
            "messages",
            1,
        )

    async def edit(self, sent: SentMessage, message: Outbound) -> None:
        # chat.update sets the whole message: repeating it changes nothing.
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
        await self._web.call(
            "pins.add",
            lambda: self._web.client.pins_add(channel=sent.room_id, timestamp=sent.message_id),
            accept={"already_pinned"},
        )

    async def send_direct(self, user_id: str, message: Outbound) -> SentMessage:
        channel = self._state.direct_channel(user_id)
        if channel is None:
            # conversations.open gives the same DM channel every time: safe to repeat.
            response = await self._web.call(
                "conversations.open",
                lambda: self._web.client.conversations_open(users=user_id),
            )
            channel = str(response["channel"]["id"])
            self._state.remember_direct_channel(user_id, channel)
        return await self.send(channel, message)

    # ---- files

    async def upload_file(
        self, room_id: str, filename: str, content: bytes, mimetype: str, title: str
    ) -> None:
        """Upload and share a file in the channel.

        files.completeUploadExternal takes no metadata, so the effect's progress is noted in
        the KeyValue store instead: its start before the upload, its file after. A retry after
        a crash in between looks for a file of this name, title and size that the bot shared
        in the channel since that start (files.list would need files:read; the channel's
        history shows shared files with channels:history). If Slack had not shown the share
        yet, or the lookup fails, the file is posted once more.
        """
        key = delivery_key.get()
        # Only a retry can find a note: a first attempt just leaves one.
        noted = self._state.effect(key, "upload") if key and delivery_retried.get() else None
        if key is not None:
            if noted is None:
                self._state.remember_effect(key, "upload", f"started {time.time():.6f}")
            elif noted.startswith("file "):
                return  # uploaded and shared; only the outbox never heard of it
            else:
                started = float(noted.removeprefix("started "))
                found = await self._find_upload(room_id, filename, title, len(content), started)
                if found is not None:
                    self._state.remember_effect(key, "upload", f"file {found}")
                    return
        # Slack infers the file type from its name and bytes; `mimetype` has no v2 parameter.
        response = await self._web.call(
            "files.completeUploadExternal",
            lambda: self._web.client.files_upload_v2(
                channel=room_id, filename=filename, content=content, title=title
            ),
        )
        if key is not None:
            files = response.get("files") or [{}]
            self._state.remember_effect(key, "upload", f"file {files[0].get('id', '')}")

    async def _find_upload(
        self, room_id: str, filename: str, title: str, size: int, started: float
    ) -> str | None:
        """The id of a file like this one that the bot shared in `room_id` after `started`."""
        try:
            bot = await self._bot_user_id()
            since = started - CLOCK_MARGIN_SECONDS
            async for message in self._recent_messages(room_id, None, oldest=since):
                for file in message.get("files") or []:
                    if (
                        (file.get("user") or message.get("user")) == bot
                        and file.get("name") == filename
                        and file.get("title") == title
                        and file.get("size", size) == size
                    ):
                        return str(file.get("id", ""))
        except PlatformError as error:
            log.warning("Could not look for %s in %s: %s", filename, room_id, error)
        return None

    # ---- Web API helpers

    async def _bot_user_id(self) -> str:
        """The bot's own user id (auth.test), asked once."""
        if self._bot_user is None:
            response = await self._web.call("auth.test", self._web.client.auth_test)
            self._bot_user = str(response["user_id"])
        return self._bot_user

    async def _pages(
        self,
        method: str,
        request: Callable[[str | None], Awaitable[AsyncSlackResponse]],
        field: str,
        max_pages: int,
    ) -> AsyncIterator[Mapping[str, Any]]:
        """The items of a cursor-paginated answer, from at most `max_pages` pages."""
        cursor: str | None = None
        for _ in range(max_pages):
            response = await self._web.call(method, partial(request, cursor))
            for item in response.get(field) or []:
                yield item
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return


def _channel_text(text: str) -> str:
    """A channel's topic or purpose, escaped like message text (no `<!here>`, no links)."""
    return _limited(escape(text))


def _limited(escaped: str) -> str:
    """Escaped text cut to TOPIC_LIMIT, without leaving half an entity (`&am`) at its end."""
    cut = escaped[:TOPIC_LIMIT]
    if len(escaped) > TOPIC_LIMIT:
        amp = cut.rfind("&")
        if amp != -1 and ";" not in cut[amp:]:
            cut = cut[:amp]
    return cut


def _text_of(channel: Channel, part: str) -> str:
    """A channel's `topic` or `purpose` value ("" when unknown)."""
    value = channel.get(part)
    return str(value.get("value") or "") if isinstance(value, Mapping) else ""


def _effect_metadata(key: str) -> dict[str, Any]:
    return {"event_type": EFFECT_EVENT_TYPE, "event_payload": {"key": key}}


def _effect_key(message: Mapping[str, Any]) -> str | None:
    metadata = message.get("metadata")
    if not isinstance(metadata, Mapping) or metadata.get("event_type") != EFFECT_EVENT_TYPE:
        return None
    payload = metadata.get("event_payload")
    key = payload.get("key") if isinstance(payload, Mapping) else None
    return str(key) if key is not None else None
