"""Kill the bot with SIGKILL mid-incident, restart it on the same database, and compare.

The bot runs as a real process (`python -m bot.scripted`) on the console platform and a
simulated clock. The same script is played once without interruption and once killed at
several points: between commands, right after an event is recorded, right after a
declaration is saved. Both runs must end with the same log, pages and fired timers.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bot.adapters.console import ConsolePlatform
from storage.sql_store import SqlStore, open_store

ROOT = Path(__file__).resolve().parents[1]
INCIDENT = "INC-2026-0001"
SCRIPT = [
    "declare Ransomware at Riverside Hospitals",
    ":go dm-anna-peeters",
    ":click 1",  # the coordinator accepts her page
    ":go inc-2026-0001",
    "answer Q8 criminal",
    "level L2 --reason hospital ransomware",  # the L2 team is paged
    "note Backups are offline",
    ":wait 20m",  # the first analyst pages time out; backups are paged
    ":as thomas-wouters",
    "page accept INC-2026-0001 analyst",
    ":as anna-peeters",
    "tlp amber+strict",
    "enforce",
    ":wait 2h",
    "note Restore from tape started",
]
KILLED = -9
ONE_LINE = 20.0  # seconds; a line takes well under one


async def _expect(process: asyncio.subprocess.Process, prefix: str) -> str | None:
    """The rest of the next output line starting with `prefix`; None when the process ended."""
    assert process.stdout is not None
    while line := await asyncio.wait_for(process.stdout.readline(), ONE_LINE):
        text = line.decode().rstrip("\n")
        if text.startswith(prefix):
            return text.removeprefix(prefix)
    return None


async def spawn(db: Path, log: Path, *, crash_at: str | None = None) -> asyncio.subprocess.Process:
    """Start the scripted bot on `db`, its stderr appended to `log`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RRT_")}
    if crash_at is not None:
        env["RRT_CRASH_AT"] = crash_at
    with log.open("a") as errors:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.scripted",
            "--db",
            str(db),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
            cwd=ROOT,
            env=env,
        )


async def play(
    db: Path, log: Path, *, crash_at: str | None = None, kill_after: int | None = None
) -> tuple[int, int]:
    """Play the script from where the database stands; (first line played, exit code)."""
    process = await spawn(db, log, crash_at=crash_at)
    assert process.stdin is not None
    ready = await _expect(process, "@ready ")
    assert ready is not None, "the bot did not start; see " + str(log)
    for index in range(int(ready), len(SCRIPT)):
        process.stdin.write(f"{SCRIPT[index]}\n".encode())
        await process.stdin.drain()
        done = await _expect(process, "@done ")
        if done is None:
            break  # it killed itself
        assert int(done) == index
        if index == kill_after:
            process.kill()
            break
    else:
        process.stdin.close()
    return int(ready), await asyncio.wait_for(process.wait(), ONE_LINE)


def logged(store: SqlStore) -> list[tuple[str, str, str, dict[str, object]]]:
    return [
        (r.event.kind, r.event.actor, r.event.at.isoformat(), r.event.data) for r in store.log()
    ]


def fired_timers(store: SqlStore) -> list[tuple[str, str, str, str | None]]:
    return [
        (t.kind, t.key, t.due_at.isoformat(), t.fired_at.isoformat() if t.fired_at else None)
        for t in store.fired(INCIDENT)
    ]


def page_messages(store: SqlStore) -> Counter[tuple[str, str]]:
    """(person, role) of every page direct message the chat platform holds."""
    chat = ConsolePlatform(state=store.kv)
    found: Counter[tuple[str, str]] = Counter()
    for room in chat.rooms.values():
        for message in room.messages if room.direct_with else []:
            if message.text.startswith("📟 You are paged as "):
                role = message.text.removeprefix("📟 You are paged as ").split()[0]
            elif " · your page as " in message.text:  # answered or withdrawn: edited to say so
                role = message.text.split(" · your page as ")[1].split(":")[0]
            else:
                continue
            found[(room.direct_with or "", role)] += 1
    return found


def rooms(store: SqlStore) -> dict[str, list[str]]:
    """Who is in each room the chat platform knows."""
    chat = ConsolePlatform(state=store.kv)
    return {room.name: sorted(room.members) for room in chat.rooms.values()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The script played in one go."""
    place = tmp_path_factory.mktemp("reference")
    db = place / "rrt.db"
    assert asyncio.run(play(db, place / "stderr.log")) == (0, 0)
    return db


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[int, int]]]:
    """The script played through kills; returns the database and each run's (start, exit)."""
    place = tmp_path_factory.mktemp("crashed")
    db, log = place / "rrt.db", place / "stderr.log"

    async def runs() -> list[tuple[int, int]]:
        return [
            # The declaration is saved, its war room not yet opened.
            await play(db, log, crash_at="saved:declared"),
            # A button click is recorded in the inbox, not yet handled.
            await play(db, log, crash_at="inbox:script-2"),
            await play(db, log, kill_after=5),  # between commands, pages out
            # A note is written, its command not yet done: it is not written again.
            await play(db, log, crash_at="saved:note"),
            # A page's ack deadline starts to fire, its effect not yet written: the restart
            # fires it (once) and finishes the wait.
            await play(db, log, crash_at="firing:ack"),
            await play(db, log, kill_after=8),  # between commands, after timers fired
            # An acceptance is recorded, not yet handled.
            await play(db, log, crash_at="inbox:script-9"),
            await play(db, log, crash_at="inbox:script-12"),
            await play(db, log),
        ]

    return db, asyncio.run(runs())


def test_every_kill_happened_where_planned(crashed: tuple[Path, list[tuple[int, int]]]) -> None:
    _, runs = crashed
    assert runs == [
        (0, KILLED),
        (0, KILLED),
        (2, KILLED),
        (6, KILLED),
        (6, KILLED),
        (8, KILLED),
        (9, KILLED),
        (9, KILLED),
        (12, 0),
    ]


def test_the_log_is_the_same_as_without_crashes(
    reference: Path, crashed: tuple[Path, list[tuple[int, int]]]
) -> None:
    expected, actual = open_store(f"sqlite:///{reference}"), open_store(f"sqlite:///{crashed[0]}")
    try:
        assert logged(actual) == logged(expected)
        assert [i.id for i in actual.all_incidents()] == [INCIDENT]
        assert actual.unhandled() == []
        assert rooms(actual) == rooms(expected)
    finally:
        expected.close()
        actual.close()


def test_no_page_is_sent_twice_and_every_timer_fires_once(
    reference: Path, crashed: tuple[Path, list[tuple[int, int]]]
) -> None:
    expected, actual = open_store(f"sqlite:///{reference}"), open_store(f"sqlite:///{crashed[0]}")
    try:
        paged = Counter(
            (r.event.data["person"], r.event.data["role"])
            for r in actual.log(INCIDENT)
            if r.event.kind == "paged"
        )
        assert paged == page_messages(actual) == page_messages(expected)  # one message each
        assert fired_timers(actual) == fired_timers(expected)
        assert len(fired_timers(actual)) >= 4  # ack timeouts fell due during the waits
        end = max(r.event.at for r in actual.log())
        assert all(t.due_at > end for t in actual.pending_timers(INCIDENT))
    finally:
        expected.close()
        actual.close()


def test_the_log_verifies_after_the_crashes(crashed: tuple[Path, list[tuple[int, int]]]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "log", "verify", "--db", str(crashed[0])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("log OK")
