"""Effects on a chat platform as outbox rows: what a decision asks a platform to do.

Inside a unit of work, handlers speak through `RecordingPlatform`: each call becomes an outbox
row committed with the decision, and nothing reaches the platform until the commit. What a
platform would return (a room id, a message id) is a placeholder, `@out:<effect key>/<field>`,
that later effects may use; delivery replaces it with the real id once the platform answers.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from typing import Any

from bot.core.store import Outbox
from bot.port import (
    Button,
    ChatPlatform,
    Classification,
    Outbound,
    RoomAccess,
    RoomSpec,
    SentMessage,
)

REF_PREFIX = "@out:"
ROOM, MESSAGE = "room_id", "message_id"
# The arguments that may hold a placeholder; text never does, whatever a user typed.
REF_FIELDS = ("room_id", "message_id", "thread_of")


def ref(key: str, field: str) -> str:
    return f"{REF_PREFIX}{key}/{field}"


def parse_ref(value: str) -> tuple[str, str] | None:
    """(effect key, result field) of a placeholder; None for a real id."""
    if not value.startswith(REF_PREFIX):
        return None
    key, _, field = value[len(REF_PREFIX) :].rpartition("/")
    return (key, field) if key and field in (ROOM, MESSAGE) else None


def encode_outbound(message: Outbound) -> dict[str, Any]:
    return {
        "text": message.text,
        "buttons": [[b.label, b.value, b.style] for b in message.buttons],
        "thread_of": message.thread_of,
    }


def decode_outbound(data: Mapping[str, Any]) -> Outbound:
    return Outbound(
        text=data["text"],
        buttons=tuple(Button(label, value, style) for label, value, style in data["buttons"]),
        thread_of=data["thread_of"],
    )


def target_room(args: Mapping[str, Any]) -> str | None:
    """The room an effect acts in, if any (a send's room, an edit's or a pin's message room)."""
    room = args.get(ROOM) or args.get("sent", {}).get(ROOM)
    return str(room) if room is not None else None


def encode_payload(args: Mapping[str, Any]) -> str:
    # ASCII escapes keep any text storable, a lone surrogate included.
    return json.dumps(args, ensure_ascii=True, sort_keys=True)


def refs_in(args: Mapping[str, Any]) -> Iterator[str]:
    """Every placeholder among an effect's arguments."""
    for name, value in _walk(args):
        if name in REF_FIELDS and isinstance(value, str) and parse_ref(value):
            yield value


def substitute(args: Any, real: Mapping[str, str]) -> Any:
    """The arguments with each placeholder replaced by its real id."""
    if isinstance(args, dict):
        return {
            name: real.get(value, value)
            if name in REF_FIELDS and isinstance(value, str)
            else substitute(value, real)
            for name, value in args.items()
        }
    if isinstance(args, list):
        return [substitute(item, real) for item in args]
    return args


def _walk(args: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(args, dict):
        for name, value in args.items():
            yield name, value
            yield from _walk(value)
    elif isinstance(args, list):
        for item in args:
            yield from _walk(item)


async def perform(platform: ChatPlatform, kind: str, args: Mapping[str, Any]) -> dict[str, str]:
    """Carry out one effect on the real platform; returns what later effects refer to."""
    match kind:
        case "create_room":
            return {ROOM: await platform.create_room(RoomSpec(**_room_spec(args["spec"])))}
        case "send":
            sent = await platform.send(args[ROOM], decode_outbound(args["message"]))
            return {ROOM: sent.room_id, MESSAGE: sent.message_id}
        case "send_direct":
            sent = await platform.send_direct(args["user_id"], decode_outbound(args["message"]))
            return {ROOM: sent.room_id, MESSAGE: sent.message_id}
        case "edit":
            await platform.edit(_sent(args["sent"]), decode_outbound(args["message"]))
        case "pin":
            await platform.pin(_sent(args["sent"]))
        case "set_topic":
            await platform.set_topic(args[ROOM], args["topic"])
        case "set_access":
            await platform.set_access(args[ROOM], RoomAccess(**args["access"]))
        case "invite":
            await platform.invite(args[ROOM], args["user_id"])
        case "remove":
            await platform.remove(args[ROOM], args["user_id"])
        case "set_moderators":
            await platform.set_moderators(args[ROOM], tuple(args["user_ids"]))
        case "upload_file":
            content = base64.b64decode(args["content"])
            await platform.upload_file(
                args[ROOM], args["filename"], content, args["mimetype"], args["title"]
            )
        case _:
            raise ValueError(f"unknown effect {kind!r}")
    return {}


def _sent(data: Mapping[str, str]) -> SentMessage:
    return SentMessage(data[ROOM], data[MESSAGE])


def _room_spec(data: Mapping[str, Any]) -> dict[str, Any]:
    return {**data, "invite": tuple(data["invite"])}


class RecordingPlatform:
    """A `ChatPlatform` whose every call is queued in the outbox of the current unit of work."""

    def __init__(
        self,
        name: str,
        outbox: Outbox,
        about: Classification | None = None,
        *,
        end_to_end_encrypted: bool = False,
    ) -> None:
        self._name = name
        self._outbox = outbox
        self._about = about
        self._encrypted = end_to_end_encrypted

    @property
    def name(self) -> str:
        return self._name

    @property
    def end_to_end_encrypted(self) -> bool:
        return self._encrypted

    def classified(self, about: Classification) -> RecordingPlatform:
        """The platform speaking about an incident: its effects pass the gate at delivery."""
        return RecordingPlatform(
            self._name, self._outbox, about, end_to_end_encrypted=self._encrypted
        )

    def _record(self, kind: str, **args: Any) -> str:
        about = encode_payload(asdict(self._about)) if self._about is not None else None
        return self._outbox.add_effect(self._name, kind, encode_payload(args), about)

    async def create_room(self, spec: RoomSpec) -> str:
        return ref(self._record("create_room", spec=asdict(spec)), ROOM)

    async def send(self, room_id: str, message: Outbound) -> SentMessage:
        key = self._record("send", room_id=room_id, message=encode_outbound(message))
        return SentMessage(room_id, ref(key, MESSAGE))

    async def edit(self, sent: SentMessage, message: Outbound) -> None:
        self._record("edit", sent=_sent_data(sent), message=encode_outbound(message))

    async def pin(self, sent: SentMessage) -> None:
        self._record("pin", sent=_sent_data(sent))

    async def set_topic(self, room_id: str, topic: str) -> None:
        self._record("set_topic", room_id=room_id, topic=topic)

    async def set_access(self, room_id: str, access: RoomAccess) -> None:
        self._record("set_access", room_id=room_id, access=asdict(access))

    async def invite(self, room_id: str, user_id: str) -> None:
        self._record("invite", room_id=room_id, user_id=user_id)

    async def remove(self, room_id: str, user_id: str) -> None:
        self._record("remove", room_id=room_id, user_id=user_id)

    async def set_moderators(self, room_id: str, user_ids: tuple[str, ...]) -> None:
        self._record("set_moderators", room_id=room_id, user_ids=list(user_ids))

    async def send_direct(self, user_id: str, message: Outbound) -> SentMessage:
        key = self._record("send_direct", user_id=user_id, message=encode_outbound(message))
        return SentMessage(ref(key, ROOM), ref(key, MESSAGE))

    async def upload_file(
        self, room_id: str, filename: str, content: bytes, mimetype: str, title: str
    ) -> None:
        self._record(
            "upload_file",
            room_id=room_id,
            filename=filename,
            content=base64.b64encode(content).decode(),
            mimetype=mimetype,
            title=title,
        )


def _sent_data(sent: SentMessage) -> dict[str, str]:
    return {ROOM: sent.room_id, MESSAGE: sent.message_id}
