"""Kill the bot with SIGKILL at random moments, restart it on the same database, and compare.

`tests/test_crash.py` kills the scripted bot at named points; here the test itself kills the
process after a random delay (uniform over how long an uninterrupted run takes to start, or
to play the lines left), one to three times, then lets a last restart play the script to its
end. Every run starts from a fresh database and must end with exactly what an uninterrupted
run ends with: the same log, the same bot messages in every room (by name: ids differ between
runs), the same room state, each page sent once, one war room, the same fired timers, and
nothing left in the inbox or the outbox.

`RRT_TEST_CRASH_RUNS` sets the number of runs (default 5) and `RRT_TEST_CRASH_SEED` the base
seed (run `n` uses seed base + n); each failure names its seed and the delays it killed at.
A seed gives the same delays, but where they land depends on the machine's speed.

Known: a kill in the millisecond or so between SQLite creating a new database file and
writing its first page leaves an empty file, which `open_store` refuses at every restart
(`refuse_damaged_file`); a run failing with "exists but is empty" is that (about one run in
a thousand here).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.console import ConsolePlatform
from bot.adapters.console.platform import BOT
from storage.sql_store import SqlStore, open_store
from tests.test_crash import (
    INCIDENT,
    KILLED,
    ONE_LINE,
    SCRIPT,
    _expect,
    fired_timers,
    logged,
    page_messages,
    play,
    spawn,
)

RUNS = int(os.environ.get("RRT_TEST_CRASH_RUNS", "5"))
BASE_SEED = int(os.environ.get("RRT_TEST_CRASH_SEED", "20261130"))
MAX_KILLS = 3  # kills in one run before the last restart plays the script to its end


@dataclass
class Reference:
    db: Path
    ready_after: float  # seconds from its start to `@ready`: importing, opening the database
    done_after: list[float]  # seconds from `@ready` to the end of each line


@dataclass
class Played:
    """What one process did; filled in as it goes."""

    ready_at: int | None = None  # the line it started from; None if it died before `@ready`
    ready_after: float = 0.0  # seconds from its start to `@ready`
    done_after: list[float] = field(default_factory=list)  # seconds from `@ready`, per line
    exit_code: int | None = None


@dataclass
class Kill:
    """A SIGKILL aimed `delay` seconds after the process started, or after its `@ready`."""

    delay: float
    after_ready: bool
    played: Played

    def __str__(self) -> str:
        aim = f"{self.delay:.3f}s after {'@ready' if self.after_ready else 'the start'}"
        played = self.played
        if played.exit_code != KILLED and played.ready_at is None:
            return f"{aim}: ended by itself before @ready (exit {played.exit_code})"
        if played.exit_code != KILLED:
            return f"{aim}: finished first (exit {played.exit_code})"
        if played.ready_at is None:
            return f"{aim}: killed while starting"
        done = played.ready_at + len(played.done_after)
        where = f"in line {done} {SCRIPT[done]!r}" if done < len(SCRIPT) else "at the end"
        return f"{aim}: killed {where}, having started at line {played.ready_at}"


@dataclass
class Run:
    seed: int
    kills: list[Kill] = field(default_factory=list)

    def __str__(self) -> str:
        again = f"RRT_TEST_CRASH_SEED={self.seed} RRT_TEST_CRASH_RUNS=1"
        return f"seed {self.seed} (again: {again}); kills: " + "; ".join(map(str, self.kills))


async def _drive(process: asyncio.subprocess.Process, played: Played, ready: asyncio.Event) -> None:
    """Feed the script to a started process until it ends or dies; `ready` is set once it
    has said `@ready` (or died)."""
    assert process.stdin is not None
    began = time.monotonic()
    try:
        started = await _expect(process, "@ready ")
        if started is None:
            return
        played.ready_at, played.ready_after = int(started), time.monotonic() - began
        ready.set()
        for index in range(played.ready_at, len(SCRIPT)):
            process.stdin.write(f"{SCRIPT[index]}\n".encode())
            await process.stdin.drain()
            if await _expect(process, "@done ") is None:
                return  # killed
            played.done_after.append(time.monotonic() - began - played.ready_after)
        process.stdin.close()
    except (BrokenPipeError, ConnectionResetError):
        pass  # killed while we wrote to it
    finally:
        ready.set()


async def _play(db: Path, log: Path, kill: Callable[[Played], float | None]) -> Played:
    """Play the script from where the database stands. `kill` is called at the start and
    again at `@ready`; the first time it returns a delay, the bot is killed that much later."""
    played = Played()
    process = await spawn(db, log)
    ready = asyncio.Event()
    driving = asyncio.ensure_future(_drive(process, played, ready))
    delay = kill(played)
    if delay is None:
        await ready.wait()
        delay = kill(played) if played.ready_at is not None else None
    done, _ = await asyncio.wait({driving}, timeout=delay)
    if not done and process.returncode is None:
        process.kill()
    await asyncio.wait_for(driving, ONE_LINE)
    played.exit_code = await asyncio.wait_for(process.wait(), ONE_LINE)
    return played


async def _kill_at_random(db: Path, log: Path, rng: random.Random, reference: Reference) -> Kill:
    """Play, and kill the bot at a random moment of what an uninterrupted run would do from
    there: a quarter of the time while it starts (imports, migrations, replay), else while
    it plays the lines left, so that the kill lands in the script whatever the machine's
    load does to start-up times."""
    in_start, fraction = rng.random() < 1 / 4, rng.random()
    kill = Kill(0.0, not in_start, Played())

    def aim(played: Played) -> float | None:
        if in_start:
            kill.delay = fraction * reference.ready_after
        elif played.ready_at is None:
            return None  # not yet at `@ready`
        else:
            begin = reference.done_after[played.ready_at - 1] if played.ready_at else 0.0
            kill.delay = fraction * (reference.done_after[-1] - begin)
        return kill.delay

    kill.played = await _play(db, log, aim)
    return kill


async def crash_and_finish(db: Path, log: Path, seed: int, reference: Reference) -> Run:
    """Kill the bot 1 to MAX_KILLS times at random moments, then play the script to its end."""
    rng = random.Random(seed)
    run = Run(seed)
    for _ in range(rng.randint(1, MAX_KILLS)):
        run.kills.append(await _kill_at_random(db, log, rng, reference))
    try:
        _, code = await play(db, log)
    except AssertionError as error:
        raise AssertionError(f"{run}: the last restart failed: {error}\n{_tail(log)}") from None
    assert code == 0, f"{run}: the last restart exited with {code}:\n{_tail(log)}"
    return run


def _tail(log: Path, lines: int = 40) -> str:
    """The end of the bots' stderr (a traceback, if the last one failed)."""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


# What an end state is compared by. Rooms, messages and files are matched by content: their
# ids are handed out in the order things happened, which a crash may change.


def _message(chat: ConsolePlatform, message_id: str | None) -> str | None:
    found = chat.messages.get(message_id) if message_id else None
    return found.text if found else message_id


def said(chat: ConsolePlatform) -> dict[str, list[tuple[Any, ...]]]:
    """Per room name, the bot's messages in order: text, buttons, thread, edits."""
    return {
        room.name: [
            (m.text, m.buttons, _message(chat, m.thread_of), m.edits)
            for m in room.messages
            if m.author == BOT
        ]
        for room in chat.rooms.values()
    }


def room_state(chat: ConsolePlatform) -> dict[str, dict[str, Any]]:
    """Per room name, who is in it, its topic, settings, pinned messages and files."""
    return {
        room.name: {
            "members": sorted(room.members),
            "moderators": sorted(room.moderators),
            "topic": room.topic,
            "private": room.private,
            "history_from_join": room.history_from_join,
            "direct_with": room.direct_with,
            "pinned": [_message(chat, pinned) for pinned in room.pinned],
            "files": [(name, content) for name, content, _kind in room.files],
        }
        for room in chat.rooms.values()
    }


def paged(store: SqlStore) -> Counter[tuple[str, str]]:
    """(person, role) of every page the log records: one page direct message each."""
    return Counter(
        (str(r.event.data["person"]), str(r.event.data["role"]))
        for r in store.log(INCIDENT)
        if r.event.kind == "paged"
    )


def pending_timers(store: SqlStore) -> list[tuple[str, str, str]]:
    return [(t.kind, t.key, t.due_at.isoformat()) for t in store.pending_timers(INCIDENT)]


def _differences(what: str, expected: Sequence[Hashable], actual: Sequence[Hashable]) -> list[str]:
    """Items lost, duplicated (or extra), or reordered between two sequences."""
    if list(expected) == list(actual):
        return []
    want, got = Counter(expected), Counter(actual)
    found = [f"lost: {what}: {item!r}" for item in (want - got).elements()]
    for item in (got - want).elements():
        kind = "duplicate" if item in want else "extra"
        found.append(f"{kind}: {what}: {item!r}")
    return found or [f"order: {what}: {list(actual)!r} instead of {list(expected)!r}"]


def _by_content(value: Any, chat: ConsolePlatform) -> Hashable:
    """`value` made hashable, a console room or message id in it replaced by what it names."""
    if isinstance(value, str) and value in chat.rooms:
        return f"#{chat.rooms[value].name}"
    if isinstance(value, str) and value in chat.messages:
        return f"message {chat.messages[value].text!r}"
    if isinstance(value, dict):
        return tuple(sorted((key, _by_content(item, chat)) for key, item in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_by_content(item, chat) for item in value)
    return value  # type: ignore[no-any-return]


def _log(store: SqlStore, chat: ConsolePlatform) -> list[Hashable]:
    """The log, rooms and messages named by content: a person's line typed again after a
    kill takes an id, so that the ids handed out after it differ from a run without kills."""
    return [_by_content(event, chat) for event in logged(store)]


def differences(expected: SqlStore, actual: SqlStore) -> list[str]:
    """Everything in which `actual` ends differently from `expected`, each as `kind: what`."""
    found: list[str] = []
    want_chat, got_chat = ConsolePlatform(state=expected.kv), ConsolePlatform(state=actual.kv)
    found += _differences("log", _log(expected, want_chat), _log(actual, got_chat))
    rooms_want = Counter(room.name for room in want_chat.rooms.values())
    rooms_got = Counter(room.name for room in got_chat.rooms.values())
    found += _differences("room", sorted(rooms_want.elements()), sorted(rooms_got.elements()))
    want_said, got_said = said(want_chat), said(got_chat)
    for name in sorted(want_said.keys() | got_said.keys()):
        found += _differences(
            f"bot message in #{name}",
            want_said.get(name, []),
            got_said.get(name, []),
        )
    want_state, got_state = room_state(want_chat), room_state(got_chat)
    for name in sorted(want_state.keys() & got_state.keys()):
        for part, value in want_state[name].items():
            got = got_state[name][part]
            if isinstance(value, list):  # members, pinned messages, files
                found += _differences(f"#{name} {part}", value, got)
            elif got != value:
                found.append(f"state: #{name} {part}: {got!r} instead of {value!r}")
    pages, logged_pages = page_messages(actual), paged(actual)
    for page in sorted(pages.keys() | logged_pages.keys()):
        if pages[page] != logged_pages[page]:
            kind = "lost" if pages[page] < logged_pages[page] else "duplicate"
            found.append(
                f"{kind}: page DM {page} sent {pages[page]} times, paged {logged_pages[page]}"
            )
    found += _differences(
        "page DM", sorted(page_messages(expected).elements()), sorted(pages.elements())
    )
    war_rooms = [
        r.name for r in got_chat.rooms.values() if r.direct_with is None and r.name != "lobby"
    ]
    if len(war_rooms) != 1:
        found.append(f"{'lost' if not war_rooms else 'duplicate'}: war rooms {war_rooms!r}")
    incidents = [incident.id for incident in actual.all_incidents()]
    if incidents != [INCIDENT]:
        found.append(f"state: incidents {incidents!r} != {[INCIDENT]!r}")
    found += _differences("fired timer", fired_timers(expected), fired_timers(actual))
    found += _differences("pending timer", pending_timers(expected), pending_timers(actual))
    found += [f"lost: unhandled event {event[:2]!r}" for event in actual.unhandled()]
    found += [
        f"lost: pending effect {effect.key} {effect.kind}" for effect in actual.pending_effects()
    ]
    return found


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The script played in one go, and how long its start and each line took."""
    place = tmp_path_factory.mktemp("reference")
    db = place / "rrt.db"
    played = asyncio.run(_play(db, place / "stderr.log", lambda _: None))
    assert (played.ready_at, len(played.done_after), played.exit_code) == (0, len(SCRIPT), 0)
    return Reference(db, played.ready_after, played.done_after)


def test_the_reference_run_is_sound(reference: Reference) -> None:
    """What the runs are compared with holds what they must hold."""
    store = open_store(f"sqlite:///{reference.db}")
    try:
        assert [incident.id for incident in store.all_incidents()] == [INCIDENT]
        assert store.unhandled() == []
        assert store.pending_effects() == []
        assert len(fired_timers(store)) >= 4
        assert page_messages(store) == paged(store)  # one direct message per page
        assert len(paged(store)) >= 4
    finally:
        store.close()


@pytest.mark.parametrize("run", range(RUNS))
def test_random_kills_end_as_an_uninterrupted_run(
    run: int, reference: Reference, tmp_path: Path
) -> None:
    seed = BASE_SEED + run
    db, log = tmp_path / "rrt.db", tmp_path / "stderr.log"
    played = asyncio.run(crash_and_finish(db, log, seed, reference))
    print(played)
    expected, actual = open_store(f"sqlite:///{reference.db}"), open_store(f"sqlite:///{db}")
    try:
        found = differences(expected, actual)
    finally:
        expected.close()
        actual.close()
    assert found == [], f"{played}; database {db}, stderr {log}:\n" + "\n".join(found)
