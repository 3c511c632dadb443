"""The room keys of what the bot sent, kept to give a member who joins later the room's history.

A member's client accepts a room key (`m.room_key`) only from the device that made the
session, and a forwarded key only from its own devices: the bot can give a newcomer the
sessions it made itself, which is what a war room's history is (the headline, the triage, the
timeline). It keeps each session's key as first shared, at message index 0, in the Matrix
store directory (mode 0600), per device, since a key from another device does not open them.

Only for rooms whose history is shared (`RoomAccess.history_from_join` false): under TLP:RED
nothing is kept and nothing given, and a room raised to it forgets what it kept.
"""

from __future__ import annotations

import json
from pathlib import Path

from bot.adapters.matrix.keyfiles import read_private, write_private

SESSIONS_PER_ROOM = 200  # nio rotates a session every 100 messages: ample for a war room


class RoomHistoryKeys:
    def __init__(self, store_dir: Path, device_id: str) -> None:
        self._path = store_dir / f"room-keys-{device_id}.json"
        text = read_private(self._path)
        self._rooms: dict[str, dict[str, str]] = json.loads(text) if text else {}

    def keep(self, room_id: str, session_id: str, session_key: str) -> None:
        sessions = self._rooms.setdefault(room_id, {})
        if session_id in sessions:
            return
        sessions[session_id] = session_key
        for oldest in list(sessions)[: max(len(sessions) - SESSIONS_PER_ROOM, 0)]:
            del sessions[oldest]
        self._save()

    def sessions(self, room_id: str) -> dict[str, str]:
        """Session id → session key (index 0) of the room's kept sessions, oldest first."""
        return dict(self._rooms.get(room_id, {}))

    def forget(self, room_id: str) -> None:
        if self._rooms.pop(room_id, None) is not None:
            self._save()

    def _save(self) -> None:
        write_private(self._path, json.dumps(self._rooms))
