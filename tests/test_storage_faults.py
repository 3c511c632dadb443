"""Storage faults on real parts: a full filesystem, a database file removed or replaced.

Nothing already recorded is lost, the sender is told when a command could not be recorded,
and the bot keeps running.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot, build
from bot.core.clock import FakeClock
from tests.fixtures.chat import START
from tests.fixtures.roster import small_roster
from tests.fixtures.settings import settings_in

DISK = "4m"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of a few MiB, mounted for the test (the test runs as root, as CI does)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    place = tmp_path / "disk"
    place.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(place)], check=True)
    try:
        yield place
    finally:
        subprocess.run(["umount", "-l", str(place)], check=True)


def fill(disk: Path) -> Path:
    """Write a file until the filesystem is full; returns it, to be removed to free the space."""
    filler = disk / "filler"
    with filler.open("wb") as file, pytest.raises(OSError, match="No space left") as full:
        _write_forever(file)
    assert full.value.errno == errno.ENOSPC
    return filler


def _write_forever(file: BinaryIO) -> None:
    while True:
        file.write(b"\0" * 65536)
        file.flush()


def wired(folder: Path) -> tuple[Bot, ConsolePlatform]:
    bot = build(settings_in(folder), clock=FakeClock(START), roster=small_roster())
    console = ConsolePlatform(on_inbound=bot.dispatcher)
    bot.attach(console)
    return bot, console


async def test_on_a_full_disk_the_sender_is_told_and_nothing_recorded_is_lost(
    small_disk: Path,
) -> None:
    bot, console = wired(small_disk)
    try:
        await console.say("alice", console.lobby, "declare Ransomware at AZ Noord")
        room = console.room_by_name("inc-").id
        await console.say("alice", room, "note Backups offline")
        filler = fill(small_disk)

        await console.say("alice", room, "note Tape restore started " + "x" * 20000)
        told = console.last(room).text
        assert told.startswith("⚠️ "), told
        assert "database" in told

        filler.unlink()
        await console.say("alice", room, "note Tape restore started")
        assert console.last(room).text == "Noted in INC-2026-0001."
        notes = [r.event.data["text"] for r in bot.store.log() if r.event.kind == "note"]
        assert notes[0] == "Backups offline"
        assert notes[-1] == "Tape restore started"
    finally:
        bot.close()


async def test_a_database_file_removed_under_the_bot_stops_its_writing_loudly(
    tmp_path: Path,
) -> None:
    bot, console = wired(tmp_path)
    try:
        await console.say("alice", console.lobby, "declare Ransomware at AZ Noord")
        room = console.room_by_name("inc-").id
        (tmp_path / "rrt.db").unlink()

        await console.say("alice", room, "note Backups offline")
        told = console.last(room).text
        assert told.startswith("⚠️ Not recorded"), told
        assert "was removed" in told
        await console.say("alice", room, "note Still there?")
        assert "was removed" in console.last(room).text  # and stays refused
    finally:
        bot.close()


async def test_a_database_file_replaced_under_the_bot_is_not_written_to(tmp_path: Path) -> None:
    bot, console = wired(tmp_path)
    try:
        await console.say("alice", console.lobby, "declare Ransomware at AZ Noord")
        room = console.room_by_name("inc-").id
        other, _ = wired(tmp_path / "other")
        other.close()
        os.replace(tmp_path / "other" / "rrt.db", tmp_path / "rrt.db")

        await console.say("alice", room, "note Backups offline")
        assert "was replaced" in console.last(room).text
    finally:
        bot.close()


async def test_a_database_made_read_only_is_answered_and_the_bot_carries_on(
    tmp_path: Path,
) -> None:
    if os.geteuid() != 0:
        pytest.skip("making a file immutable needs root")
    bot, console = wired(tmp_path)
    try:
        await console.say("alice", console.lobby, "declare Ransomware at AZ Noord")
        room = console.room_by_name("inc-").id
        # The main file and its write-ahead log; the shared-memory index is mapped in memory.
        files = [str(tmp_path / "rrt.db"), str(tmp_path / "rrt.db-wal")]
        # Root writes through file modes: the immutable attribute stops it, as a read-only
        # volume would.
        immutable(files, True)
        try:
            await console.say("alice", room, "note Backups offline")
            told = console.last(room).text
            assert told.startswith("⚠️ "), told
            assert "database" in told
        finally:
            immutable(files, False)

        await console.say("alice", room, "note Tape restore started")
        assert console.last(room).text == "Noted in INC-2026-0001."
        notes = [r.event.data["text"] for r in bot.store.log() if r.event.kind == "note"]
        assert notes[-1] == "Tape restore started"
    finally:
        bot.close()


def immutable(files: list[str], on: bool) -> None:
    subprocess.run(["chattr", "+i" if on else "-i", *files], check=True)
