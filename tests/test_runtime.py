"""The runtime: an event for a known incident whose lane is idle is recorded in the transaction
that decides it; otherwise it is recorded first and handled in its turn, each once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Connection, event
from sqlmodel import Session, col, select

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot
from storage.tables import OutboxRow
from tests.fixtures.chat import bot, clock, console  # noqa: F401

INCIDENT = "INC-2026-0001"
NOTED = f"Noted in {INCIDENT}."


class Commits:
    """The transactions committed on the store's write engine, and whether each wrote the
    inbox, the log or marked an effect delivered."""

    def __init__(self, watched: Bot) -> None:
        self.committed: list[set[str]] = []
        self._open: dict[int, set[str]] = {}
        engine = watched.store.engine
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, connection: Connection, _cursor: object, sql: str, *_: object) -> None:
        wrote = self._open.setdefault(id(connection), set())
        for table in ("inbox", "log", "outbox"):
            if sql.startswith((f"INSERT INTO {table} ", f"UPDATE {table} ")):
                wrote.add(table)

    def _commit(self, connection: Connection) -> None:
        self.committed.append(self._open.pop(id(connection), set()))


@pytest.fixture(name="room")
async def war_room(console: ConsolePlatform) -> str:  # noqa: F811
    await console.say("alice", console.lobby, "declare Ransomware at AZ Noord")
    room_id = console.room_by_name("inc-").id
    await console.say("alice", room_id, "note First")  # the bot has seen the room now
    return room_id


def delivered_in_table(watched: Bot) -> list[bool]:
    with Session(watched.store.engine) as session:
        return [row.done for row in session.exec(select(OutboxRow).order_by(col(OutboxRow.id)))]


async def test_a_note_is_recorded_decided_and_the_last_answer_marked_in_one_transaction(
    bot: Bot,  # noqa: F811
    console: ConsolePlatform,  # noqa: F811
    room: str,
) -> None:
    commits = Commits(bot)
    bot.dispatcher.marks_seconds = 60.0  # no mark is written on its own meanwhile

    await console.say("alice", room, "note Backups offline")
    await console.say("alice", room, "note Printers down")

    assert console.last(room).text == NOTED
    assert commits.committed == [{"inbox", "log", "outbox"}] * 2
    marked = delivered_in_table(bot)
    assert all(marked[:-1])  # each answer marked by the next event's transaction
    assert marked[-1] is False
    assert bot.store.unhandled() == []
    assert bot.store.pending_effects() == []


async def test_the_last_answer_is_marked_on_its_own_soon_after(
    bot: Bot,  # noqa: F811
    console: ConsolePlatform,  # noqa: F811
    room: str,
) -> None:
    commits = Commits(bot)

    await console.say("alice", room, "note Backups offline")
    for _ in range(100):
        if all(delivered_in_table(bot)):
            break
        await asyncio.sleep(bot.dispatcher.marks_seconds)

    assert all(delivered_in_table(bot))
    assert commits.committed == [{"inbox", "log", "outbox"}, {"outbox"}]


async def test_the_same_event_delivered_twice_is_handled_once(
    bot: Bot,  # noqa: F811
    console: ConsolePlatform,  # noqa: F811
    room: str,
) -> None:
    await console.say("alice", room, "note Backups offline", event_id="evt-twice")
    await console.say("alice", room, "note Backups offline", event_id="evt-twice")

    notes = [r.event.data["text"] for r in bot.store.log(INCIDENT) if r.event.kind == "note"]
    assert notes == ["First", "Backups offline"]
    assert [m.text for m in console.rooms[room].messages[-3:]] == [
        "note Backups offline",
        NOTED,
        "note Backups offline",
    ]


async def test_a_refusal_is_recorded_with_its_answer(
    bot: Bot,  # noqa: F811
    console: ConsolePlatform,  # noqa: F811
    room: str,
) -> None:
    commits = Commits(bot)

    await console.say("mallory", room, "note I am not on the roster", event_id="evt-mallory")

    assert "roster" in console.last(room).text
    assert commits.committed[0] == {"inbox", "outbox"}  # the note itself was rolled back
    await console.say("mallory", room, "note again", event_id="evt-mallory")
    assert bot.store.unhandled() == []
    refusals = [m for m in console.rooms[room].messages if m.author == "bot" and "roster" in m.text]
    assert len(refusals) == 1


async def test_while_the_runtime_holds_an_event_is_recorded_first_and_handled_on_release(
    bot: Bot,  # noqa: F811
    console: ConsolePlatform,  # noqa: F811
    room: str,
) -> None:
    bot.dispatcher.hold()  # as at start, while what a crash left is delivered first
    saying = bot.dispatcher.enqueue  # a sync loop reads on once its events are recorded
    console.on_inbound = saying

    await console.say("alice", room, "note Recorded while held", event_id="evt-held")

    assert [event_id for _, event_id, _ in bot.store.unhandled()] == ["evt-held"]
    assert console.last(room).text == NOTED  # the first note's answer, still the last
    bot.dispatcher.release()
    await bot.dispatcher.settle(5.0)
    assert bot.store.unhandled() == []
    assert console.last(room).text == NOTED
    notes = [r.event.data["text"] for r in bot.store.log(INCIDENT) if r.event.kind == "note"]
    assert notes == ["First", "Recorded while held"]
