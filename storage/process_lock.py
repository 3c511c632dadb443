"""One process per SQLite file: an OS lock on `<db>.lock`, held while the bot runs.

SQLite serializes writers within one host but the bot's decisions assume that no other bot
process shares its database (PostgreSQL's row locks are what make replicas safe). The kernel
drops the lock when the process ends, however it ends (SIGKILL too), so a crash never leaves
the database locked.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path


class DatabaseInUse(Exception):
    """Another process runs a bot on this SQLite file."""


class ProcessLock:
    """The lock on one database file; `release` drops it once every holder here has."""

    def __init__(self, database: Path, descriptor: int) -> None:
        self.database = database
        self._descriptor = descriptor
        self._holders = 1

    def release(self) -> None:
        with _guard:
            self._holders -= 1
            if self._holders > 0:
                return
            _held.pop(self.database, None)
            os.close(self._descriptor)  # closing the file drops the lock


# Locks this process holds, by database: a lock is per open file, so a second bot on the
# same file in this process (tests, a restart in place) shares the first one's.
_held: dict[Path, ProcessLock] = {}
_guard = threading.Lock()


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


def hold(database: Path) -> ProcessLock:
    """Take the lock on `database` for this process; raises DatabaseInUse if another has it."""
    database = database.resolve()
    with _guard:
        if (mine := _held.get(database)) is not None:
            mine._holders += 1
            return mine
        descriptor = os.open(lock_path(database), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "?"
            os.close(descriptor)
            raise DatabaseInUse(
                f"another rrt process (pid {other}) is using {database}; SQLite serves one "
                "process — use PostgreSQL for replicas"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        _held[database] = ProcessLock(database, descriptor)
        return _held[database]
