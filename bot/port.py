"""The chat port: what the bot needs from a chat platform, and what a platform hands the bot.

Adapters (console, Slack, Matrix) translate their payloads into one `Inbound` value and call
the dispatcher; they implement `ChatPlatform` for everything the bot sends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Button:
    """A choice shown under a message; `value` is the command text it stands for."""

    label: str
    value: str
    style: str = "default"  # "default" | "primary" | "danger"


@dataclass(frozen=True, slots=True)
class Outbound:
    """A message the bot sends. Platforms render `buttons` natively or as numbered options."""

    text: str
    buttons: tuple[Button, ...] = ()
    thread_of: str | None = None  # reply in the thread of this message id


class InboundKind(StrEnum):
    TEXT = "text"  # a typed command or a reply
    BUTTON = "button"  # a click on a Button: `text` holds the button's value
    REACTION = "reaction"  # `reaction` holds the key, `target_message_id` the message
    JOINED = "joined"  # a member joined `room_id`


@dataclass(frozen=True, slots=True)
class Inbound:
    """One thing that happened on a platform, in platform-neutral form."""

    platform: str
    event_id: str  # unique per platform: used to handle each event once
    kind: InboundKind
    user_id: str  # the platform's handle for the sender
    room_id: str
    text: str = ""
    reaction: str = ""
    target_message_id: str | None = None  # message replied to, reacted to, or clicked
    is_direct: bool = False
    # False for chat that was not a command to the bot (a reply in a thread, a plain
    # message): the bot only takes it as an answer to one of its own prompts.
    addressed: bool = True
    # The root of the thread the event was sent in, if any: the bot answers in that thread.
    thread_id: str | None = None


@dataclass(frozen=True, slots=True)
class RoomAccess:
    """Who may find and join a war room, and what a newcomer reads (policy §5)."""

    private: bool = True  # invite only; only a TLP:CLEAR room is public
    history_from_join: bool = False  # TLP:RED: a member reads only what came after their invite

    @classmethod
    def for_label(cls, tlp: str) -> RoomAccess:
        return cls(private=tlp != "TLP:CLEAR", history_from_join=tlp == "TLP:RED")


@dataclass(frozen=True, slots=True)
class RoomSpec:
    """A war room to open."""

    name: str  # human name, e.g. "INC-2026-0007 · Ransomware at hospital"
    slug: str  # platform-safe name, e.g. "inc-2026-0007-ransomware-at-hospital"
    topic: str
    invite: tuple[str, ...] = ()  # platform user ids
    private: bool = True
    history_from_join: bool = False  # TLP:RED: members see history only from joining
    coordinator: str | None = None  # platform user id given moderator rights


@dataclass(frozen=True, slots=True)
class SentMessage:
    room_id: str
    message_id: str


@dataclass(slots=True)
class PlatformError(Exception):
    """A platform call failed in a way the bot reports to users (not a bug)."""

    code: str
    detail: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    # Set when the platform could not do it now but may later (it is down, or limiting the
    # bot): the seconds it asked to wait, 0 when it did not say. None for a refusal.
    retry_after: float | None = None
    # The error is about the room itself (gone, archived, the bot not in it or unable to see
    # it): a notice about it is not posted in that room.
    about_room: bool = False

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}" if self.detail else self.code


@dataclass(frozen=True, slots=True)
class Classification:
    """What an outbound effect may reveal, and to whom: checked when it is delivered."""

    incident_id: str  # the incident whose label governs it
    person: str | None = None  # the roster person it speaks to, when it is one person


@runtime_checkable
class ChatPlatform(Protocol):
    """What a chat platform offers the bot. Every method may raise `PlatformError`."""

    @property
    def name(self) -> str: ...

    @property
    def end_to_end_encrypted(self) -> bool:
        """Whether the war rooms it makes are end-to-end encrypted (policy §5: only there may
        a TLP:RED report be attached)."""
        ...

    async def create_room(self, spec: RoomSpec) -> str:
        """Open a war room and return its id."""
        ...

    async def send(self, room_id: str, message: Outbound) -> SentMessage: ...

    async def edit(self, sent: SentMessage, message: Outbound) -> None: ...

    async def pin(self, sent: SentMessage) -> None: ...

    async def set_topic(self, room_id: str, topic: str) -> None: ...

    async def set_access(self, room_id: str, access: RoomAccess) -> None:
        """Make the room match its label: join rule and history visibility."""
        ...

    async def invite(self, room_id: str, user_id: str) -> None: ...

    async def remove(self, room_id: str, user_id: str) -> None: ...

    async def set_moderators(self, room_id: str, user_ids: tuple[str, ...]) -> None:
        """Make exactly these people the room's moderators (its coordinators): they may
        invite, remove and change the room's settings; whoever else was one loses it. A
        platform without per-room roles does nothing."""
        ...

    async def send_direct(self, user_id: str, message: Outbound) -> SentMessage:
        """Send to a person's direct-message room (reused between calls)."""
        ...

    async def upload_file(
        self, room_id: str, filename: str, content: bytes, mimetype: str, title: str
    ) -> None: ...


@runtime_checkable
class Classifying(Protocol):
    """A platform whose effects can carry their classification (the outbox's)."""

    def classified(self, about: Classification) -> ChatPlatform: ...


@runtime_checkable
class AnswersPrivately(Protocol):
    """A platform that can answer the sender of the event being handled where only they see it
    (Slack's response_url): for a notice about the room itself, or a room the bot cannot post
    in. The event is the one in `delivery_origin`."""

    async def answer_privately(self, room_id: str, message: Outbound) -> bool:
        """Whether it was said to the sender (False when the platform has no way to)."""
        ...


InboundHandler = Callable[[Inbound], Awaitable[None]]

# The idempotency key of the effect being delivered (see `bot.delivery`). A platform that can
# derives its own request id from it (a Matrix transaction id), so that delivering the same
# effect again after a crash returns the first result instead of acting twice.
delivery_key: ContextVar[str | None] = ContextVar("rrt_delivery_key", default=None)
# True when an earlier delivery of the same effect was attempted and its result never recorded
# (a crash in between): a platform without request ids looks for what that attempt made.
delivery_retried: ContextVar[bool] = ContextVar("rrt_delivery_retried", default=False)
# The unit of work that decided the effect being delivered, as `<platform>:<event id>` (or
# `timer:<id>`): a platform that kept a way to answer that event (Slack's response_url) uses it.
delivery_origin: ContextVar[str | None] = ContextVar("rrt_delivery_origin", default=None)
