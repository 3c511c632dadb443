from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.matrix import MatrixAdapter, MatrixSettings
from bot.adapters.matrix.calls import Sleep
from bot.bootstrap import Bot, build
from bot.core.clock import Clock
from bot.core.roster import Organisation, Roster
from bot.core.tlp import TLP
from bot.serve import invite_policy
from config.settings import Settings
from tests.adapters.matrix.support import Analyst, EncryptedAnalyst, Inbox
from tests.fixtures.memory import MemoryKeyValue
from tests.fixtures.roster import person
from tests.fixtures.synapse import SynapseServer

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
        on_request: Callable[[str], None] | None = None,
        **setting_overrides: Any,
    ) -> MatrixAdapter:
        created = MatrixAdapter(
            self.settings(**setting_overrides),
            self.store,
            self.inbox,
            accept_invite_from=accept_invite_from,
            space_room_id=space_room_id,
            sleep=sleep,
            on_request=on_request,
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


class Team:
    """A bot account and the roster's members on the test homeserver, and the roster naming them.

    Matrix ids are unique per test (the homeserver lives for the whole session); roster ids are
    the usual alice (coordinator), bob and carla (analysts), dirk (police liaison), and whoever
    else `people` adds.
    """

    def __init__(
        self, synapse: SynapseServer, directory: Path, people: list[RosterEntry] | None = None
    ) -> None:
        people = ROSTER if people is None else people
        self.synapse = synapse
        self.bot_user_id, self.bot_token = synapse.register(unique("rrt"), "bot-password")
        self.members = {
            entry[0]: Analyst(synapse.base_url, *synapse.register(unique(entry[0]), "pw"))
            for entry in people
        }
        self.alice, self.bob, self.carla = (self.members[p] for p in ("alice", "bob", "carla"))
        self.database = directory / "rrt.db"
        self.store_dir = directory / "nio"
        self.roster = Roster(
            orgs=[
                Organisation(id="cert", name="National CERT", kind="cert"),
                Organisation(id="police", name="Federal police cyber unit", kind="police"),
            ],
            people=[
                person(
                    person_id,
                    name,
                    org,
                    roles,
                    handles={"console": person_id, "matrix": self.members[person_id].user_id},
                    **extra,
                )
                for person_id, name, org, roles, extra in people
            ],
        )

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.database}"

    def connection(self, **overrides: Any) -> MatrixSettings:
        return MatrixSettings(
            homeserver=self.synapse.base_url,
            user_id=self.bot_user_id,
            access_token=self.bot_token,
            store_dir=self.store_dir,
            sync_timeout_ms=5_000,
            backoff_initial=0.05,
            backoff_max=0.5,
            connection_attempts=200,
            **overrides,
        )

    async def start_bot(
        self,
        clock: Clock,
        *,
        encrypt: bool = False,
        on_request: Callable[[str], None] | None = None,
        **connection: Any,
    ) -> tuple[Bot, MatrixAdapter]:
        """The bot as `rrt run` wires it, on this team's database and device; `on_request`
        hears each request the adapter makes to the homeserver."""
        settings = Settings(
            database_url=self.database_url, reports_dir=self.database.parent / "reports"
        )
        bot = build(settings, clock=clock, roster=self.roster)
        adapter = MatrixAdapter(
            self.connection(**connection),
            bot.store.kv,
            bot.dispatcher,
            accept_invite_from=invite_policy(self.roster, []),
            encrypt=encrypt,
            on_request=on_request,
        )
        bot.attach(adapter)
        await adapter.start()
        await bot.dispatcher.replay()
        return bot, adapter

    async def close(self) -> None:
        for member in self.members.values():
            await member.client.close()


RosterEntry = tuple[str, str, str, list[str], dict[str, Any]]

ROSTER: list[RosterEntry] = [
    ("alice", "Alice Martin", "cert", ["coordinator"], {}),
    ("bob", "Bob Peeters", "cert", ["analyst"], {}),
    ("carla", "Carla Dubois", "cert", ["analyst", "forensics"], {}),
    ("dirk", "Dirk Janssens", "police", ["police_liaison"], {"max_tlp": TLP.AMBER}),
]


# Someone for every other L2 role of the worked example, and a backup analyst; the operator
# contact stays unfilled, and so does the police liaison under TLP:AMBER.
L2_TEAM: list[RosterEntry] = [
    *ROSTER,
    ("erik", "Erik Maes", "cert", ["analyst"], {}),
    ("jan", "Jan Willems", "cert", ["forensics"], {}),
    ("fien", "Fien Claes", "cert", ["scribe"], {}),
    ("gert", "Gert Wouters", "cert", ["sector_liaison"], {}),
    ("ines", "Ines Peeters", "cert", ["comms"], {}),
]


@pytest.fixture
async def l2_team(synapse: SynapseServer, tmp_path: Path) -> AsyncIterator[Team]:
    created = Team(synapse, tmp_path, L2_TEAM)
    yield created
    await created.close()


@pytest.fixture
async def alice(team: Team, tmp_path: Path) -> AsyncIterator[EncryptedAnalyst]:
    """The coordinator's client that encrypts (her plain client, `team.alice`, shows what the
    server holds)."""
    plain = team.alice
    connected = await EncryptedAnalyst.connect(
        team.synapse.base_url, plain.user_id, plain.client.access_token, tmp_path / "alice-keys"
    )
    yield connected
    await connected.client.close()
