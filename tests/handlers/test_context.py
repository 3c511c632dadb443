"""A handler's reply goes where the event came from: its room, and its thread."""

from __future__ import annotations

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot
from bot.port import Inbound, InboundKind
from tests.handlers.conftest import declare


def status(room: str, event_id: str, thread_id: str | None = None) -> Inbound:
    return Inbound(
        platform="console",
        event_id=event_id,
        kind=InboundKind.TEXT,
        user_id="alice",
        room_id=room,
        text="status",
        thread_id=thread_id,
    )


async def test_a_reply_goes_into_the_thread_the_command_came_from(
    team_bot: Bot, chat: ConsolePlatform
) -> None:
    room = await declare(chat)
    root = chat.rooms[room].pinned[0]

    await team_bot.dispatcher(status(room, "evt-in-thread", thread_id=root))
    in_thread = chat.last(room)
    await team_bot.dispatcher(status(room, "evt-in-timeline"))
    in_timeline = chat.last(room)

    assert in_thread.thread_of == root
    assert in_timeline.thread_of is None
    assert in_thread.text == in_timeline.text
