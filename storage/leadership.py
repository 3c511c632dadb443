"""A role held through a PostgreSQL session-level advisory lock, on a connection of its own.

The lock lives as long as the connection: a holder that is killed frees it as soon as the
server sees the socket closed, and TCP keepalives on both ends make a machine that vanished
(no FIN sent) noticed within seconds rather than hours. The key is the role and the schema,
so deployments sharing a database in different schemas do not exclude each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

import psycopg
from sqlalchemy.engine import make_url

from storage.db import (
    SERVER_KEEPALIVE_VALUES,
    SERVER_KEEPALIVES,
    advisory_key,
    postgresql_keepalives,
)

log = logging.getLogger("rrt.leadership")

LOCK = f"SELECT pg_try_advisory_lock({advisory_key('%s')})"
# A holder cut off from the database gives the role up (a check every second, given up after
# this) before the server's keepalives free the lock for another (idle + interval x count,
# 11 s), so that two replicas do not sync at once.
CHECK_TIMEOUT_S = 5.0


def libpq_url(database_url: str) -> str:
    """The URL as libpq takes it (no SQLAlchemy driver name)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class AdvisoryLease:
    """`Leadership` for `role` among the processes using the database at `database_url`."""

    def __init__(self, database_url: str, role: str) -> None:
        self._url = libpq_url(database_url)
        self._role = role
        self._connection: psycopg.Connection[tuple[object, ...]] | None = None
        self._held = False
        self._unreachable = False
        self._lock = threading.Lock()  # one statement at a time on the connection

    async def acquire(self) -> bool:
        return await asyncio.to_thread(self._acquire)

    async def still_held(self) -> bool:
        try:
            return await asyncio.wait_for(asyncio.to_thread(self._check), CHECK_TIMEOUT_S)
        except TimeoutError:
            # Given up here and now; the stuck check ends with the connection (keepalives),
            # and asking for the role again waits for it.
            log.warning("%s: the database did not answer; the role is given up", self._role)
            self._held = False
            return False

    async def release(self) -> None:
        await asyncio.to_thread(self.drop)

    def hold(self) -> bool:
        """Take the role now unless held (the calling thread waits for the server); a role
        held already is not asked about again, so this costs nothing once it is held."""
        connection = self._connection
        if self._held and connection is not None and not connection.broken:
            return True
        return self._acquire()

    def _acquire(self) -> bool:
        with self._lock:
            if self._held:
                return self._check_locked()
            try:
                connection = self._connect()
                row = connection.execute(LOCK, (self._role,)).fetchone()
            except psycopg.Error as error:
                if not self._unreachable:  # once per outage, not at every poll
                    log.warning("%s: could not ask for the role (%s)", self._role, error)
                self._unreachable = True
                self._close()
                return False
            self._unreachable = False
            self._held = bool(row and row[0])
            if self._held:
                log.info("%s: this process holds the role", self._role)
            return self._held

    def _check(self) -> bool:
        with self._lock:
            return self._check_locked()

    def _check_locked(self) -> bool:
        if not self._held or self._connection is None:
            return False
        try:
            self._connection.execute("SELECT 1")
        except psycopg.Error as error:
            log.warning("%s: lost the role (%s)", self._role, error)
            self._held = False
            self._close()
            return False
        return True

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(
                self._url,
                autocommit=True,
                application_name=f"rrt {self._role}",
                **postgresql_keepalives(),
            )
            # The server's side, so that it frees the lock of a holder whose machine is gone.
            self._connection.execute(SERVER_KEEPALIVES, SERVER_KEEPALIVE_VALUES)
        return self._connection

    def drop(self) -> None:
        """Give the role up now (the calling thread waits for the server)."""
        with self._lock:
            self._held = False
            self._close()  # closing the session releases its advisory locks

    def _close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(psycopg.Error):
                self._connection.close()
            self._connection = None
