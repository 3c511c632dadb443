"""What adapters remember (sync tokens, DM channels, button values), kept off the event loop.

An adapter reads and writes its state from the event loop, while it sends and receives. Written
straight to the database, one write waiting on a lock held elsewhere would stop every ack and
every sync; so values are read once and kept in memory, and writes go to the database in the
background, in order.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from bot.core.store import KeyValue

log = logging.getLogger("rrt.state")


class WriteBehind:
    """A `KeyValue` that answers from memory and writes through a background thread."""

    def __init__(self, store: KeyValue) -> None:
        self._store = store
        self._cache: dict[str, str | None] = {}
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="rrt-state")

    def get(self, key: str) -> str | None:
        if key not in self._cache:
            self._cache[key] = self._store.get(key)
        return self._cache[key]

    def set(self, key: str, value: str) -> None:
        self._cache[key] = value
        self._writer.submit(self._write, key, value)

    def forget(self, prefix: str) -> None:
        """Read the keys under `prefix` from the database again: another process (a replica
        that held the platform's role meanwhile) may have changed them. Waits for the writes
        so far, so that none lands after the values are read again."""
        self.flush()
        for key in list(self._cache):  # copied at once: other keys change meanwhile
            if key.startswith(prefix):
                self._cache.pop(key, None)

    def flush(self) -> None:
        """Wait for the writes so far (at shutdown)."""
        self._writer.submit(lambda: None).result()

    def close(self) -> None:
        self._writer.shutdown(wait=True)

    def _write(self, key: str, value: str) -> None:
        try:
            self._store.set(key, value)
        except Exception as error:  # kept in memory; written again by the next change
            log.warning("could not save adapter state %s: %r", key, error)
