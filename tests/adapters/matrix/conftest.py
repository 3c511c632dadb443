from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.matrix import MatrixAdapter, MatrixSettings
from bot.adapters.matrix.calls import Sleep
from tests.adapters.matrix.support import Analyst, Inbox, MemoryKeyValue

# Imported rather than listed in `pytest_plugins`: pytest accepts that only in the top-level
# conftest.
from tests.fixtures.synapse import SynapseServer, synapse_fixture  # noqa: F401

_user_numbers = itertools.count(1)


def unique(localpart: str) -> str:
    return f"{localpart}{next(_user_numbers)}"


class MatrixWorld:
    """A bot account and two analysts on the test homeserver, fresh for each test."""

    def __init__(self, synapse: SynapseServer, store_dir: Path) -> None:
        self.synapse = synapse
        self.bot_user_id, self.bot_token = synapse.register(unique("rrt"), "bot-password")
        self.store_dir = store_dir
        self.analysts = [
            Analyst(synapse.base_url, *synapse.register(unique(name), "pw"))
            for name in ("alice", "bob")
        ]
        self.store = MemoryKeyValue()
        self.inbox = Inbox()
        self.adapters: list[MatrixAdapter] = []

    def settings(self, **overrides: Any) -> MatrixSettings:
        values: dict[str, Any] = {
            "homeserver": self.synapse.base_url,
            "user_id": self.bot_user_id,
            "access_token": self.bot_token,
            "store_dir": self.store_dir,
            "sync_timeout_ms": 5_000,
            "backoff_initial": 0.05,
            "backoff_max": 0.5,
            "connection_attempts": 100,
        }
        values.update(overrides)
        return MatrixSettings(**values)

    def adapter(
        self,
        *,
        accept_invite_from: Callable[[str], bool] = lambda _: True,
        space_room_id: str | None = None,
        sleep: Sleep = asyncio.sleep,
        **setting_overrides: Any,
    ) -> MatrixAdapter:
        created = MatrixAdapter(
            self.settings(**setting_overrides),
            self.store,
            self.inbox,
            accept_invite_from=accept_invite_from,
            space_room_id=space_room_id,
            sleep=sleep,
        )
        self.adapters.append(created)
        return created

    async def close(self) -> None:
        for adapter in self.adapters:
            await adapter.stop()
        for analyst in self.analysts:
            await analyst.client.close()


@pytest.fixture
async def world(synapse: SynapseServer, tmp_path: Path) -> AsyncIterator[MatrixWorld]:
    created = MatrixWorld(synapse, tmp_path / "nio")
    yield created
    await created.close()
