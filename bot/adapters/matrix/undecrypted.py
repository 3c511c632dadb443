"""Events the bot could not decrypt yet, kept until their room key arrives or they expire.

A room key often reaches the bot a moment after the message it opens (the sender's client
shares it late, or only when asked). The events wait here, bounded, persisted in the adapter's
KeyValue store so that a restart in between does not lose them: the sync token has moved past.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from bot.core.store import KeyValue

KEY = "matrix:undecrypted"
LIMIT = 200  # the oldest are dropped beyond this: a flood of unreadable events stays bounded


@dataclass(frozen=True, slots=True)
class HeldEvent:
    room_id: str
    event: dict[str, Any]  # the m.room.encrypted event as the homeserver sent it
    seen: float  # when the bot first failed to decrypt it (epoch seconds)

    @property
    def event_id(self) -> str:
        event_id: str = self.event["event_id"]
        return event_id

    @property
    def session_id(self) -> str | None:
        session_id = self.event.get("content", {}).get("session_id")
        return session_id if isinstance(session_id, str) else None


class HeldEvents:
    def __init__(self, store: KeyValue) -> None:
        self._store = store
        stored = store.get(KEY)
        self._held = [HeldEvent(**item) for item in json.loads(stored)] if stored else []

    def __len__(self) -> int:
        return len(self._held)

    def all(self) -> list[HeldEvent]:
        return list(self._held)

    def hold(self, room_id: str, event: dict[str, Any], now: float) -> bool:
        """Keeps `event`; False when it is already held."""
        if any(held.event_id == event["event_id"] for held in self._held):
            return False
        self._held = [*self._held, HeldEvent(room_id, event, now)][-LIMIT:]
        self._save()
        return True

    def release(self, event_ids: set[str]) -> None:
        if event_ids:
            self._held = [held for held in self._held if held.event_id not in event_ids]
            self._save()

    def _save(self) -> None:
        self._store.set(KEY, json.dumps([asdict(held) for held in self._held]))
