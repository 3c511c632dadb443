"""A member invited into an encrypted war room later reads its history, unless it is TLP:RED.

Two encrypting clients on a real Synapse: the coordinator, in from the start, and an analyst
the bot invites after the triage has begun.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.clock import FakeClock
from bot.port import RoomAccess
from tests.adapters.matrix.conftest import Team
from tests.adapters.matrix.support import EncryptedAnalyst, RoomWatch
from tests.adapters.matrix.test_encryption import raw_event, stop
from tests.adapters.matrix.test_end_to_end import (
    TITLE,
    WAIT_SECONDS,
    WAR_ROOM_NAME,
    join_when_invited,
    lobby_with_bot,
)

START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


async def encrypting(team: Team, who: str, directory: Path) -> EncryptedAnalyst:
    plain = team.members[who]
    return await EncryptedAnalyst.connect(
        team.synapse.base_url, plain.user_id, plain.client.access_token, directory / who
    )


@pytest.fixture
async def bob(team: Team, tmp_path: Path) -> AsyncIterator[EncryptedAnalyst]:
    connected = await encrypting(team, "bob", tmp_path)
    yield connected
    await connected.client.close()


async def declared(team: Team, alice: EncryptedAnalyst, label: str | None = None) -> RoomWatch:
    lobby = await lobby_with_bot(team)
    option = f"--tlp {label} " if label else ""
    await team.alice.say(lobby, f"!incident declare {option}{TITLE}")
    war_room = await join_when_invited(alice, WAR_ROOM_NAME)
    return RoomWatch(alice, war_room, team.bot_user_id, WAIT_SECONDS)


async def holds_key_of(team: Team, member: EncryptedAnalyst, room_id: str, event_id: str) -> bool:
    """Whether the member's client holds the room key an event of the bot was encrypted with."""
    await member.catch_up()
    content = (await raw_event(team.alice, room_id, event_id))["content"]
    olm = member.client.olm
    assert olm is not None
    found = olm.inbound_group_store.get(room_id, content["sender_key"], content["session_id"])
    return found is not None


async def test_an_analyst_invited_later_reads_the_triage_of_an_amber_room(
    team: Team, alice: EncryptedAnalyst, bob: EncryptedAnalyst
) -> None:
    bot, adapter = await team.start_bot(FakeClock(START), encrypt=True)
    try:
        watch = await declared(team, alice)
        headline = await watch.message_with(f"🚨 INC-2026-0001 · {TITLE}")
        question = await watch.question("Q1")

        await adapter.invite(watch.room_id, bob.user_id)
        await join_when_invited(bob, WAR_ROOM_NAME)

        seen = RoomWatch(bob, watch.room_id, team.bot_user_id, WAIT_SECONDS)
        assert (await seen.message_with("🚨 INC-2026-0001"))["event_id"] == headline["event_id"]
        assert (await seen.question("Q1"))["event_id"] == question["event_id"]
    finally:
        await stop(bot, adapter)


async def test_an_analyst_invited_into_a_red_room_gets_no_earlier_key(
    team: Team, alice: EncryptedAnalyst, bob: EncryptedAnalyst
) -> None:
    bot, adapter = await team.start_bot(FakeClock(START), encrypt=True)
    try:
        watch = await declared(team, alice, "red")
        headline = await watch.message_with(f"🚨 INC-2026-0001 · {TITLE}")

        await adapter.invite(watch.room_id, bob.user_id)
        await join_when_invited(bob, WAR_ROOM_NAME)

        assert not await holds_key_of(team, bob, watch.room_id, headline["event_id"])
        assert await holds_key_of(team, alice, watch.room_id, headline["event_id"])
    finally:
        await stop(bot, adapter)


async def test_a_room_raised_to_red_gives_a_newcomer_none_of_what_came_before(
    team: Team, alice: EncryptedAnalyst, bob: EncryptedAnalyst
) -> None:
    bot, adapter = await team.start_bot(FakeClock(START), encrypt=True)
    try:
        watch = await declared(team, alice)
        headline = await watch.message_with(f"🚨 INC-2026-0001 · {TITLE}")

        await adapter.set_access(watch.room_id, RoomAccess.for_label("TLP:RED"))
        await adapter.invite(watch.room_id, bob.user_id)
        await join_when_invited(bob, WAR_ROOM_NAME)

        assert not await holds_key_of(team, bob, watch.room_id, headline["event_id"])
    finally:
        await stop(bot, adapter)
