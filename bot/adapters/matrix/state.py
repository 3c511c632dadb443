"""What the adapter remembers between restarts, kept in the bot's KeyValue store."""

from __future__ import annotations

import json

from bot.core.store import KeyValue
from bot.port import Button


class MatrixState:
    def __init__(self, store: KeyValue) -> None:
        self._store = store

    @property
    def next_batch(self) -> str | None:
        """The sync token up to which every event was handed to the bot."""
        return self._store.get("matrix:next_batch")

    @next_batch.setter
    def next_batch(self, token: str) -> None:
        self._store.set("matrix:next_batch", token)

    @property
    def device_id(self) -> str | None:
        return self._store.get("matrix:device_id")

    @device_id.setter
    def device_id(self, device_id: str) -> None:
        self._store.set("matrix:device_id", device_id)

    def remember_buttons(self, event_id: str, buttons: tuple[Button, ...]) -> None:
        """The options of a bot message, so a numbered reply or a keycap can stand for a click."""
        stored = [[button.label, button.value, button.style] for button in buttons]
        self._store.set(f"matrix:buttons:{event_id}", json.dumps(stored))

    def buttons(self, event_id: str) -> tuple[Button, ...]:
        stored = self._store.get(f"matrix:buttons:{event_id}")
        if not stored:
            return ()
        return tuple(Button(label, value, style) for label, value, style in json.loads(stored))

    def remember_answer(self, event_id: str, answered: str) -> None:
        """What a person's message answered, so that an edit of it changes that answer."""
        self._store.set(f"matrix:answer:{event_id}", answered)

    def answer(self, event_id: str) -> str | None:
        return self._store.get(f"matrix:answer:{event_id}")

    def remember_pinned(self, room_id: str, event_ids: list[str]) -> None:
        """A room's pinned events, as the bot set them or saw them set."""
        self._store.set(f"matrix:pinned:{room_id}", json.dumps(event_ids))

    def pinned(self, room_id: str) -> list[str]:
        stored = self._store.get(f"matrix:pinned:{room_id}")
        return list(json.loads(stored)) if stored else []

    def remember_direct_room(self, user_id: str, room_id: str) -> None:
        self._store.set(f"matrix:direct:{user_id}", room_id)
        self._store.set(f"matrix:direct-room:{room_id}", user_id)

    def direct_room(self, user_id: str) -> str | None:
        return self._store.get(f"matrix:direct:{user_id}")

    def is_direct_room(self, room_id: str) -> bool:
        return self._store.get(f"matrix:direct-room:{room_id}") is not None
