"""What the adapter remembers between restarts, kept in the bot's KeyValue store."""

from __future__ import annotations

import json

from bot.core.store import KeyValue


class SlackState:
    def __init__(self, store: KeyValue) -> None:
        self._store = store

    def remember_buttons(self, channel: str, ts: str, values: list[str]) -> None:
        """The button values of a bot message, so a numbered reply can stand for a click."""
        self._store.set(f"slack:buttons:{channel}:{ts}", json.dumps(values))

    def buttons(self, channel: str, ts: str) -> list[str]:
        stored = self._store.get(f"slack:buttons:{channel}:{ts}")
        return [str(value) for value in json.loads(stored)] if stored else []

    def remember_direct_channel(self, user: str, channel: str) -> None:
        self._store.set(f"slack:dm:{user}", channel)

    def direct_channel(self, user: str) -> str | None:
        return self._store.get(f"slack:dm:{user}")

    def remember_effect(self, key: str, part: str, value: str) -> None:
        """What delivering the effect `key` has done so far (`part`: "room", "upload"), so
        that delivering it again after a crash finds it (see `bot.port.delivery_retried`)."""
        self._store.set(f"slack:effect:{key}:{part}", value)

    def effect(self, key: str, part: str) -> str | None:
        return self._store.get(f"slack:effect:{key}:{part}")
