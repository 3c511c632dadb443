"""Knowing that the database is still the one the bot started on.

A SQLite file deleted under a running process stays readable through its open handle, and one
replaced or cut short answers as a new, empty database would: either way the bot would go on
writing a record nobody will find. Every unit of work first checks the file (same inode, still
there) and the identity token written into the database when it was created.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session

from bot.core.store import StorageLost
from storage.core_tables import IDENTITY_KEY
from storage.db import sqlite_path
from storage.tables import KeyValueRow, table_of
from storage.upsert import insert_new

SQLITE_HEADER = b"SQLite format 3\x00"
_KEY_VALUES = table_of(KeyValueRow)
_IDENTITY = select(_KEY_VALUES.c.value).where(_KEY_VALUES.c.key == IDENTITY_KEY)


@dataclass
class DatabaseIdentity:
    token: str
    path: Path | None = None  # the SQLite file, if any
    inode: tuple[int, int] | None = None
    lost: str = ""  # once lost, the store stays refused
    header_fd: int | None = None  # the SQLite file kept open, to read its header cheaply

    @classmethod
    def of(cls, engine: Engine) -> DatabaseIdentity:
        with Session(engine) as session, session.begin():
            insert_new(
                session,
                _KEY_VALUES,
                {"key": IDENTITY_KEY, "value": uuid.uuid4().hex},
                ["key"],
            )
            token = session.connection().execute(_IDENTITY).scalar_one()
        path = sqlite_path(engine.url)
        if path is None:
            return cls(token=str(token))
        return cls(str(token), path, _inode(path), header_fd=os.open(path, os.O_RDONLY))

    def close(self) -> None:
        if self.header_fd is not None:
            os.close(self.header_fd)
            self.header_fd = None

    def check(self, session: Session) -> None:
        """Raise StorageLost unless this is still the database the bot started on."""
        self.check_file()
        try:
            token = session.connection().execute(_IDENTITY).scalar()
        except DatabaseError as error:
            self.check_failure(error)
            raise
        self.check_token(token)

    def check_failure(self, error: DatabaseError) -> None:
        """Raise StorageLost if a failed statement shows the database emptied or damaged."""
        if "no such table" in str(error) or "malformed" in str(error):
            self._lose(f"the database was emptied or damaged ({error.orig})")

    def check_file(self) -> None:
        """The part of `check` that needs no statement: the SQLite file is still in place."""
        if self.lost:
            raise StorageLost(self.lost)
        if self.path is None:
            return
        try:
            inode = _inode(self.path)
        except FileNotFoundError:
            self._lose(f"the database file {self.path} was removed")
        if inode != self.inode:
            self._lose(f"the database file {self.path} was replaced")
        # Cut short in place: an open connection would go on reading its cached pages.
        if self.header_fd is None or os.pread(self.header_fd, 16, 0) != SQLITE_HEADER:
            self._lose(f"the database file {self.path} was emptied or damaged")

    def check_token(self, token: object) -> None:
        """The rest of `check`, given the identity token read in the transaction."""
        if token != self.token:
            self._lose("the database was replaced by another one")

    def _lose(self, why: str) -> None:
        self.lost = why + "; the bot writes nothing more until it is restored and restarted"
        raise StorageLost(self.lost)


def create_whole(path: Path) -> None:
    """Make a new database file appear whole: written under a temporary name, header and all,
    then linked into place. A crash at any moment leaves either no file or a valid one, never
    an empty file that `refuse_damaged_file` would (rightly) refuse at every later start."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.new")
    try:
        connection = sqlite3.connect(temporary)
        connection.execute("PRAGMA journal_mode=WAL")  # writes the header page
        connection.close()
        os.link(temporary, path)
    except FileExistsError:
        pass  # another process made it meanwhile
    finally:
        for leftover in (temporary, Path(f"{temporary}-wal"), Path(f"{temporary}-shm")):
            leftover.unlink(missing_ok=True)


def refuse_damaged_file(path: Path) -> None:
    """At start: an existing file that is empty or not SQLite is not silently made anew."""
    if not path.exists():
        return
    if not _has_sqlite_header(path):
        raise StorageLost(
            f"{path} exists but is empty or not a SQLite database; restore it from a backup, "
            "or move it away to start a new record"
        )


def _has_sqlite_header(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(16) == SQLITE_HEADER
    except FileNotFoundError:
        return False


def _inode(path: Path) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino
