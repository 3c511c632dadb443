"""An in-memory chat platform with users, rooms, direct messages, buttons and reactions.

It keeps a transcript that reads like a chat log. Tests drive it as people would (`say`,
`click`, `react`) and may make the next call of a method fail, as a real platform can.
Given a KeyValue store it keeps its rooms and messages there, so that they outlive the process
as a real platform's do; rooms it never made stay unknown.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.core.store import KeyValue
from bot.port import (
    Inbound,
    InboundHandler,
    InboundKind,
    Outbound,
    PlatformError,
    RoomAccess,
    RoomSpec,
    SentMessage,
    delivery_key,
)

BOT = "bot"
STATE_KEY = "console:state"


@dataclass
class PostedMessage:
    id: str
    room_id: str
    author: str
    text: str
    buttons: tuple[tuple[str, str], ...] = ()  # (label, value)
    thread_of: str | None = None
    edits: int = 0


@dataclass
class ConsoleRoom:
    id: str
    name: str
    topic: str = ""
    members: set[str] = field(default_factory=set)
    messages: list[PostedMessage] = field(default_factory=list)
    pinned: list[str] = field(default_factory=list)
    private: bool = True
    history_from_join: bool = False
    moderators: set[str] = field(default_factory=set)
    direct_with: str | None = None
    files: list[tuple[str, bytes, str]] = field(default_factory=list)  # name, content, type


class ConsolePlatform:
    def __init__(
        self,
        on_inbound: InboundHandler | None = None,
        echo: Callable[[str], None] | None = None,
        state: KeyValue | None = None,
    ) -> None:
        self.on_inbound = on_inbound
        self.echo = echo
        self.rooms: dict[str, ConsoleRoom] = {}
        self.messages: dict[str, PostedMessage] = {}
        self.transcript: list[str] = []
        self._directs: dict[str, str] = {}
        self._failures: dict[str, list[PlatformError]] = {}
        self._last_id = 0
        # Effects carried out, by delivery key, with what they returned: delivering one again
        # returns that instead of acting twice, as a Matrix transaction id does.
        self._done: dict[str, Any] = {}
        self._state = state
        saved = state.get(STATE_KEY) if state is not None else None
        if saved is None:
            # Saved with the lobby's id: a state saved before would lose it to a crash.
            self.lobby = self._new_id("room")
            self.rooms[self.lobby] = ConsoleRoom(id=self.lobby, name="lobby", private=False)
            self._save()
        else:
            self._restore(saved)

    @property
    def name(self) -> str:
        return "console"

    @property
    def end_to_end_encrypted(self) -> bool:
        return False

    # -- what the bot calls -------------------------------------------------------------

    async def create_room(self, spec: RoomSpec) -> str:
        if (known := self._done_before()) is not None:
            return str(known)
        self._maybe_fail("create_room")
        room = self._new_room(spec.slug, private=spec.private)
        room.topic = spec.topic
        room.history_from_join = spec.history_from_join
        room.members.update({BOT, *spec.invite})
        if spec.coordinator:
            room.moderators.add(spec.coordinator)
        self._log(
            room, "*", f"room “{spec.name}” opened; members: {', '.join(sorted(spec.invite))}"
        )
        return str(self._did(room.id))

    async def send(self, room_id: str, message: Outbound) -> SentMessage:
        if (known := self._done_before()) is not None:
            return SentMessage(*known)
        self._maybe_fail("send")
        room = self._room(room_id)
        posted = self._post(room, BOT, message.text, message)
        self._did([room_id, posted.id])
        return SentMessage(room_id, posted.id)

    async def edit(self, sent: SentMessage, message: Outbound) -> None:
        if self._done_before() is not None:
            return
        self._maybe_fail("edit")
        posted = self.messages.get(sent.message_id)
        if posted is None:
            raise PlatformError("message_not_found", sent.message_id)
        posted.text, posted.edits = message.text, posted.edits + 1
        posted.buttons = tuple((b.label, b.value) for b in message.buttons)
        self._did(True)

    async def pin(self, sent: SentMessage) -> None:
        if self._done_before() is not None:
            return
        self._maybe_fail("pin")
        self._room(sent.room_id).pinned.append(sent.message_id)
        self._did(True)

    async def set_topic(self, room_id: str, topic: str) -> None:
        if self._done_before() is not None:
            return
        self._maybe_fail("set_topic")
        self._room(room_id).topic = topic
        self._did(True)

    async def set_access(self, room_id: str, access: RoomAccess) -> None:
        if self._done_before() is not None:
            return
        self._maybe_fail("set_access")
        room = self._room(room_id)
        room.private, room.history_from_join = access.private, access.history_from_join
        self._did(True)

    async def invite(self, room_id: str, user_id: str) -> None:
        if self._done_before() is not None:
            return
        self._maybe_fail("invite")
        room = self._room(room_id)
        if user_id not in room.members:
            room.members.add(user_id)
            self._log(room, "*", f"{user_id} joined")
        self._did(True)

    async def remove(self, room_id: str, user_id: str) -> None:
        if self._done_before() is not None:
            return
        self._maybe_fail("remove")
        room = self._room(room_id)
        room.members.discard(user_id)
        self._log(room, "*", f"{user_id} was removed")
        self._did(True)

    async def set_moderators(self, room_id: str, user_ids: tuple[str, ...]) -> None:
        if self._done_before() is not None:
            return
        self._maybe_fail("set_moderators")
        room = self._room(room_id)
        if room.moderators != set(user_ids):
            room.moderators = set(user_ids)
            self._log(room, "*", f"moderators: {', '.join(sorted(user_ids)) or 'none'}")
        self._did(True)

    async def send_direct(self, user_id: str, message: Outbound) -> SentMessage:
        if (known := self._done_before()) is not None:
            return SentMessage(*known)
        self._maybe_fail("send_direct")
        room_id = self.open_direct(user_id)
        posted = self._post(self._room(room_id), BOT, message.text, message)
        self._did([room_id, posted.id])
        return SentMessage(room_id, posted.id)

    async def upload_file(
        self, room_id: str, filename: str, content: bytes, mimetype: str, title: str
    ) -> None:
        if self._done_before() is not None:
            return
        self._maybe_fail("upload_file")
        room = self._room(room_id)
        room.files.append((filename, content, mimetype))
        self._log(room, BOT, f"[file {filename} · {title} · {len(content)} bytes]")
        self._did(True)

    # -- what people do -----------------------------------------------------------------

    async def say(
        self,
        user: str,
        room_id: str,
        text: str,
        reply_to: str | None = None,
        event_id: str | None = None,
    ) -> None:
        """Post as `user`; a given `event_id` is kept when the same event is delivered again."""
        room = self._room(room_id)
        posted = self._post(room, user, text, Outbound(text=text, thread_of=reply_to))
        await self._deliver(
            Inbound(
                platform=self.name,
                event_id=event_id or posted.id,
                kind=InboundKind.TEXT,
                user_id=user,
                room_id=room_id,
                text=text,
                target_message_id=reply_to,
                is_direct=room.direct_with is not None,
                addressed=reply_to is None,
            )
        )

    async def click(
        self, user: str, message_id: str, label: str, event_id: str | None = None
    ) -> None:
        posted = self.messages[message_id]
        value = next((v for (lbl, v) in posted.buttons if lbl.lower() == label.lower()), None)
        if value is None:
            raise KeyError(f"no button {label!r} on message {message_id}")
        self._log(self._room(posted.room_id), user, f"(clicks “{label}”)")
        await self._deliver(
            Inbound(
                platform=self.name,
                event_id=event_id or self._new_event_id("click"),
                kind=InboundKind.BUTTON,
                user_id=user,
                room_id=posted.room_id,
                text=value,
                target_message_id=message_id,
                is_direct=self._room(posted.room_id).direct_with is not None,
            )
        )

    async def react(self, user: str, message_id: str, reaction: str) -> None:
        posted = self.messages[message_id]
        self._log(self._room(posted.room_id), user, f"(reacts {reaction})")
        await self._deliver(
            Inbound(
                platform=self.name,
                event_id=self._new_event_id("reaction"),
                kind=InboundKind.REACTION,
                user_id=user,
                room_id=posted.room_id,
                reaction=reaction,
                target_message_id=message_id,
            )
        )

    def open_direct(self, user: str) -> str:
        """The direct-message room between `user` and the bot, opened as a person would."""
        room_id = self._directs.get(user)
        if room_id is None:
            room = self._new_room(f"dm-{user}", private=True)
            room.members.update({BOT, user})
            room.direct_with = user
            room_id = self._directs[user] = room.id
            self._save()
        return room_id

    def fail_next(self, method: str, error: PlatformError) -> None:
        """Make the next call of `method` raise `error`, as a failing platform API would."""
        self._failures.setdefault(method, []).append(error)

    # -- reading ------------------------------------------------------------------------

    def room_by_name(self, prefix: str) -> ConsoleRoom:
        for room in self.rooms.values():
            if room.name.startswith(prefix):
                return room
        raise KeyError(f"no room named {prefix}…")

    def direct_room(self, user_id: str) -> ConsoleRoom | None:
        room_id = self._directs.get(user_id)
        return self.rooms[room_id] if room_id else None

    def last(self, room_id: str, author: str = BOT) -> PostedMessage:
        for message in reversed(self._room(room_id).messages):
            if message.author == author:
                return message
        raise LookupError(f"{author} has not written in {room_id}")

    def text(self) -> str:
        return "\n".join(self.transcript)

    # -- internals ----------------------------------------------------------------------

    async def _deliver(self, inbound: Inbound) -> None:
        if self.on_inbound is None:
            raise RuntimeError("the console platform is not connected to a bot")
        await self.on_inbound(inbound)

    def _new_id(self, kind: str) -> str:
        self._last_id += 1
        return f"{kind}-{self._last_id}"

    def _new_event_id(self, kind: str) -> str:
        event_id = self._new_id(kind)
        self._save()  # an event id is never handed out twice, or the inbox drops the event
        return event_id

    def _new_room(self, name: str, private: bool) -> ConsoleRoom:
        room = ConsoleRoom(id=self._new_id("room"), name=name, private=private)
        self.rooms[room.id] = room
        self._save()
        return room

    def _room(self, room_id: str) -> ConsoleRoom:
        room = self.rooms.get(room_id)
        if room is None:
            raise PlatformError("channel_not_found", f"no room {room_id}")
        return room

    def _post(self, room: ConsoleRoom, author: str, text: str, message: Outbound) -> PostedMessage:
        posted = PostedMessage(
            id=self._new_id("msg"),
            room_id=room.id,
            author=author,
            text=text,
            buttons=tuple((b.label, b.value) for b in message.buttons),
            thread_of=message.thread_of,
        )
        room.messages.append(posted)
        self.messages[posted.id] = posted
        self._save()
        self._log(room, author, text)
        if posted.buttons:
            labels = "  ".join(f"[{n}. {label}]" for n, (label, _) in enumerate(posted.buttons, 1))
            self._log(room, "", labels)
        return posted

    def _log(self, room: ConsoleRoom, author: str, text: str) -> None:
        where = f"@{room.direct_with}" if room.direct_with else f"#{room.name}"
        lines = text.splitlines() or [""]
        prefix = f"[{where}] {author}: " if author else f"[{where}]   "
        entry = prefix + lines[0] + "".join("\n" + " " * len(prefix) + ln for ln in lines[1:])
        self.transcript.append(entry)
        if self.echo is not None:
            self.echo(entry)

    def _done_before(self) -> Any:
        """What the effect being delivered returned the first time, if it was carried out."""
        key = delivery_key.get()
        return self._done.get(key) if key is not None else None

    def _did(self, result: Any) -> Any:
        key = delivery_key.get()
        if key is not None:
            self._done[key] = result
        self._save(finished=True)  # the change and its key together, as one request
        return result

    def _maybe_fail(self, method: str) -> None:
        pending = self._failures.get(method)
        if pending:
            raise pending.pop(0)

    def _save(self, finished: bool = False) -> None:
        if self._state is None or (delivery_key.get() is not None and not finished):
            return
        rooms = [_room_data(room) for room in self.rooms.values()]
        data = {
            "last_id": self._last_id,
            "lobby": getattr(self, "lobby", ""),
            "rooms": rooms,
            "done": self._done,
        }
        self._state.set(STATE_KEY, json.dumps(data, ensure_ascii=False))

    def _restore(self, saved: str) -> None:
        data = json.loads(saved)
        self._last_id, self.lobby = data["last_id"], data["lobby"]
        self._done = data.get("done", {})
        for room in (_room_of(item) for item in data["rooms"]):
            self.rooms[room.id] = room
            self.messages.update((m.id, m) for m in room.messages)
            if room.direct_with is not None:
                self._directs[room.direct_with] = room.id


def _room_data(room: ConsoleRoom) -> dict[str, Any]:
    data = asdict(room)
    for key in ("members", "moderators"):
        data[key] = sorted(data[key])
    data["files"] = [
        (name, base64.b64encode(content).decode(), kind) for name, content, kind in room.files
    ]
    return data


def _room_of(data: dict[str, Any]) -> ConsoleRoom:
    messages = [
        PostedMessage(**{**m, "buttons": tuple(tuple(b) for b in m["buttons"])})
        for m in data["messages"]
    ]
    files = [(name, base64.b64decode(content), kind) for name, content, kind in data["files"]]
    return ConsoleRoom(
        **{
            **data,
            "members": set(data["members"]),
            "moderators": set(data["moderators"]),
            "messages": messages,
            "files": files,
        }
    )
