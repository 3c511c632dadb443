"""The sync loop: pulls events, answers invites, hands events to the bot, then saves the token."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from nio import AsyncClient, InviteMemberEvent, MessageDirection

from bot.adapters.matrix.calls import MatrixCalls
from bot.adapters.matrix.encryption import Encryption
from bot.adapters.matrix.inbound import (
    Event,
    RoomContext,
    after_own_join,
    invite_sender,
    translate,
)
from bot.adapters.matrix.state import MatrixState
from bot.port import InboundHandler, PlatformError

log = logging.getLogger(__name__)

PAGE_SIZE = 100


def _sources(events: list[Any]) -> list[Event]:
    return [event.source for event in events if isinstance(getattr(event, "source", None), dict)]


def _invite_members(invite_state: list[Any]) -> list[Event]:
    """Membership events of an invite; nio strips their content from `source`, so rebuild it."""
    return [
        {
            "type": "m.room.member",
            "state_key": event.state_key,
            "sender": event.sender,
            "content": event.content,
        }
        for event in invite_state
        if isinstance(event, InviteMemberEvent)
    ]


class SyncLoop:
    def __init__(
        self,
        client: AsyncClient,
        calls: MatrixCalls,
        state: MatrixState,
        on_inbound: InboundHandler,
        accept_invite_from: Callable[[str], bool],
        *,
        timeout_ms: int,
        timeline_limit: int,
        encryption: Encryption | None,
    ) -> None:
        self._client = client
        self._calls = calls
        self._state = state
        self._on_inbound = on_inbound
        self._accept_invite_from = accept_invite_from
        self._timeout_ms = timeout_ms
        self._filter = {"room": {"timeline": {"limit": timeline_limit}}}
        self._encryption = encryption
        # Hears whether syncing works (the connection is up) and, when not, why.
        self.report: Callable[[bool, str | None], None] = lambda up, why: None

    async def run(self) -> None:
        """Syncs until cancelled; a failed sync is logged and retried after a back-off."""
        failures = 0
        while True:
            try:
                await self.sync_once(self._timeout_ms)
                failures = 0
                self.report(True, None)
            except PlatformError as error:  # the homeserver's answer: its message says it all
                failures += 1
                log.warning("sync failed (%d in a row): %s", failures, error)
                self.report(False, str(error))
                await self._calls.back_off(failures)
            except Exception as error:
                # The loop is the bot's only ear: it keeps going whatever one sync met.
                failures += 1
                log.exception("sync failed (%d in a row)", failures)
                self.report(False, f"sync: {error!r}")
                await self._calls.back_off(failures)

    async def sync_once(self, timeout_ms: int) -> None:
        since = self._state.next_batch
        response = await self._calls(
            "sync",
            lambda: self._client.sync(timeout=timeout_ms, sync_filter=self._filter, since=since),
            forever=True,
            unreachable=lambda why: self.report(False, why),
        )
        if self._encryption is not None:
            await self._encryption.after_sync()
        for room_id, invited in response.rooms.invite.items():
            await self._answer_invite(room_id, _invite_members(invited.invite_state))
        # The first sync only marks where the bot starts: history before it is not acted on.
        if since is not None:
            for room_id, joined in response.rooms.join.items():
                await self._deliver(room_id, await self._timeline(room_id, joined.timeline, since))
        if self._encryption is not None:
            # A late event goes the usual way; the inbox drops it if it was handled before.
            for room_id, event in self._encryption.late_events():
                await self._deliver(room_id, [event])
            await self._encryption.give_up()
        self._state.next_batch = response.next_batch

    async def _answer_invite(self, room_id: str, invite_state: list[Event]) -> None:
        bot = self._client.user_id
        invite = invite_sender(invite_state, bot)
        try:
            if invite is not None and self._accept_invite_from(invite[0]):
                await self._calls("join", lambda: self._client.join(room_id))
                if invite[1]:
                    self._state.remember_direct_room(invite[0], room_id)
            else:
                await self._calls("reject invite", lambda: self._client.room_leave(room_id))
        except PlatformError as error:
            log.warning("invite to %s not answered: %s", room_id, error)

    async def _timeline(self, room_id: str, timeline: Any, since: str) -> list[Event]:
        events, joined_now = after_own_join(_sources(timeline.events), self._client.user_id)
        await self._hold_undecryptable(room_id, timeline.events, events)
        if self._encryption is not None:
            await self._encryption.members_joined(room_id, events)
        if timeline.limited and timeline.prev_batch and not joined_now:
            events = await self._missed(room_id, timeline.prev_batch, since) + events
        return events

    async def _missed(self, room_id: str, before: str, since: str) -> list[Event]:
        """Events the limited timeline left out, between `since` and `before`, oldest first."""
        missed: list[Event] = []
        start = before
        while True:
            page = await self._calls("messages", partial(self._page_back, room_id, start, since))
            await self._hold_undecryptable(room_id, page.chunk, _sources(page.chunk))
            missed.extend(_sources(page.chunk))
            if not page.chunk or not page.end or page.end == start:
                return list(reversed(missed))
            start = page.end

    async def _hold_undecryptable(self, room_id: str, events: list[Any], kept: list[Event]) -> None:
        """Holds the undecrypted among the events acted on (`kept`) until their key arrives;
        meanwhile they stay `m.room.encrypted`, which `translate` passes over."""
        if self._encryption is not None:
            acted_on = {event.get("event_id") for event in kept}
            await self._encryption.hold(
                room_id, [e for e in events if getattr(e, "event_id", None) in acted_on]
            )

    async def _page_back(self, room_id: str, start: str, end: str) -> Any:
        return await self._client.room_messages(
            room_id, start=start, end=end, direction=MessageDirection.back, limit=PAGE_SIZE
        )

    def _note_pins(self, room_id: str, event: Event) -> None:
        """Pins someone else set are kept, so that the bot's next pin adds to them."""
        if event.get("type") != "m.room.pinned_events" or event.get("state_key") != "":
            return
        pinned = event.get("content", {}).get("pinned")
        if event.get("sender") != self._client.user_id and isinstance(pinned, list):
            self._state.remember_pinned(room_id, [p for p in pinned if isinstance(p, str)])

    async def _deliver(self, room_id: str, events: list[Event]) -> None:
        context = RoomContext(
            bot_user_id=self._client.user_id,
            is_direct=self._state.is_direct_room(room_id),
            buttons_of=self._state.buttons,
            answered=self._state.answer,
            keep_answered=self._state.remember_answer,
        )
        for event in events:
            self._note_pins(room_id, event)
            inbound = translate(room_id, event, context)
            if inbound is None:
                continue
            try:
                await self._on_inbound(inbound)
            except Exception:
                # One failing handler must not stall the room nor replay every later event.
                log.exception("handling %s in %s failed", inbound.event_id, room_id)
