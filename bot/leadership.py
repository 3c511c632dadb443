"""Which replica does a job that only one may do at a time (Matrix syncing, with one device).

Several `rrt run` processes may share one PostgreSQL database; a named role is held by one of
them, and the others stand by, asking again every `POLL_SECONDS`, to take over when its holder
dies. On SQLite the bot is a single process, so it always holds every role.
"""

from __future__ import annotations

from typing import Protocol

MATRIX_SYNC = "matrix-sync"
POLL_SECONDS = 1.0  # how often a standby asks for the role, and a holder checks it still has it


class Leadership(Protocol):
    async def acquire(self) -> bool:
        """Takes the role if no one holds it; true if this process holds it now."""
        ...

    async def still_held(self) -> bool:
        """False once the role is lost (the database connection holding it has gone)."""
        ...

    async def release(self) -> None: ...


class SoleLeader:
    """The only process there is holds every role."""

    async def acquire(self) -> bool:
        return True

    async def still_held(self) -> bool:
        return True

    async def release(self) -> None:
        pass
