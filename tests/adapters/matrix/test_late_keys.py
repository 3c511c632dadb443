"""Messages whose room key reaches the bot late, or never, in an encrypted war room.

The coordinator's client here encrypts a command with a session of its own and gives the bot
its key only later, as a client that shares keys late does.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from nio import ToDeviceMessage
from nio.crypto import OutboundGroupSession

from bot.adapters.matrix.undecrypted import LIMIT, HeldEvents
from bot.core.clock import FakeClock
from tests.adapters.matrix.conftest import Team
from tests.adapters.matrix.support import (
    WAIT_SECONDS,
    EncryptedAnalyst,
    RoomWatch,
    eventually,
    ok,
    option_number,
)
from tests.adapters.matrix.test_encryption import ENCRYPTED, open_encrypted_war_room, stop
from tests.fixtures.memory import MemoryKeyValue
from tests.fixtures.triage import WORKED_EXAMPLE

START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
MEGOLM = "m.megolm.v1.aes-sha2"


class WithheldKey:
    """A megolm session of the coordinator's that nobody has the key of until `give`."""

    def __init__(self, alice: EncryptedAnalyst, room_id: str) -> None:
        self.alice = alice
        self.room_id = room_id
        self.session = OutboundGroupSession()
        self.first_key = self.session.session_key  # before any message: index 0
        self.session.shared = True  # to no one: nio encrypts only with a session it shared

    def encrypted(self, body: str) -> dict[str, Any]:
        olm = self.alice.client.olm
        assert olm is not None
        plaintext = {
            "type": "m.room.message",
            "content": {"msgtype": "m.text", "body": body},
            "room_id": self.room_id,
        }
        return {
            "algorithm": MEGOLM,
            "sender_key": olm.account.identity_keys["curve25519"],
            "ciphertext": self.session.encrypt(json.dumps(plaintext)),
            "session_id": self.session.id,
            "device_id": self.alice.client.device_id,
        }

    async def give(self, user_id: str) -> None:
        """Sends the session's key to every device of `user_id`, as a room key."""
        client = self.alice.client
        olm = client.olm
        assert olm is not None
        client.users_for_key_query.add(user_id)
        ok(await client.keys_query())
        missing = olm.get_missing_sessions([user_id])
        if missing:
            ok(await client.keys_claim(missing))
        content = {
            "algorithm": MEGOLM,
            "room_id": self.room_id,
            "session_id": self.session.id,
            "session_key": self.first_key,
        }
        devices = olm.device_store.active_user_devices(user_id)
        for device in devices:
            channel = olm.session_store.get(device.curve25519)
            assert channel is not None
            encrypted = olm._olm_encrypt(channel, device, "m.room_key", content)
            message = ToDeviceMessage("m.room.encrypted", user_id, device.id, encrypted)
            ok(await client.to_device(message))


async def test_a_command_whose_key_arrives_late_is_handled_once_it_does(
    team: Team, alice: EncryptedAnalyst, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bot.adapters.matrix.encryption")
    bot, adapter = await team.start_bot(FakeClock(START), encrypt=True)
    try:
        watch, withheld, sent = await held_command(team, alice, caplog)
        await withheld.give(team.bot_user_id)

        await watch.message_with(f"Q1 → {WORKED_EXAMPLE['Q1']} (answered by")
    finally:
        await stop(bot, adapter)
    assert any(
        "after its key arrived" in r.getMessage() and sent in r.getMessage() for r in caplog.records
    )
    incident = bot.store.get("INC-2026-0001")
    assert incident is not None
    assert incident.answers["Q1"].option == WORKED_EXAMPLE["Q1"]


async def test_a_held_command_outlives_a_restart_of_the_bot(
    team: Team, alice: EncryptedAnalyst, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "bot.adapters.matrix.encryption")
    clock = FakeClock(START)
    bot, adapter = await team.start_bot(clock, encrypt=True)
    try:
        watch, withheld, _ = await held_command(team, alice, caplog)
    finally:
        await stop(bot, adapter)

    bot, adapter = await team.start_bot(clock, encrypt=True)
    try:
        await withheld.give(team.bot_user_id)
        await watch.message_with(f"Q1 → {WORKED_EXAMPLE['Q1']} (answered by")
    finally:
        await stop(bot, adapter)
    incident = bot.store.get("INC-2026-0001")
    assert incident is not None
    assert incident.answers["Q1"].option == WORKED_EXAMPLE["Q1"]


async def held_command(
    team: Team, alice: EncryptedAnalyst, caplog: pytest.LogCaptureFixture
) -> tuple[RoomWatch, WithheldKey, str]:
    """Alice answers Q1 in the encrypted war room, her key withheld from the bot, which holds
    the command; returns the room, the withheld key and the command's event id."""
    watch = await open_encrypted_war_room(team, alice)
    await watch.question("Q1")
    withheld = WithheldKey(alice, watch.room_id)
    number = option_number("Q1", WORKED_EXAMPLE["Q1"])
    command = withheld.encrypted(f"!incident answer Q1 {number}")
    sent = ok(await team.alice.client.room_send(watch.room_id, ENCRYPTED, command)).event_id

    async def held() -> bool | None:
        logged = [r.getMessage() for r in caplog.records]
        return True if any("held until" in m and sent in m for m in logged) else None

    await eventually(held, "the bot to hold the command", WAIT_SECONDS)
    return watch, withheld, sent


async def test_the_sender_is_asked_again_when_the_key_never_arrives(
    team: Team, alice: EncryptedAnalyst
) -> None:
    bot, adapter = await team.start_bot(FakeClock(START), encrypt=True, undecryptable_timeout=1.0)
    try:
        watch = await open_encrypted_war_room(team, alice)
        await watch.question("Q1")
        never = WithheldKey(alice, watch.room_id)
        for body in ("!incident status", "!incident timeline"):
            command = never.encrypted(body)
            ok(await team.alice.client.room_send(watch.room_id, ENCRYPTED, command))

        notice = await watch.message_with("I could not read your message")
        assert notice["content"]["body"].startswith(f"{alice.user_id}: ")
        assert "Please send it again." in notice["content"]["body"]
        messages = await watch.messages()
        assert len([m for m in messages if "could not read" in m["content"]["body"]]) == 1
    finally:
        await stop(bot, adapter)


def test_held_events_are_kept_once_bounded_and_survive_a_restart() -> None:
    store = MemoryKeyValue()
    held = HeldEvents(store)
    event = {"event_id": "$a", "sender": "@alice:rrt.test", "content": {"session_id": "s"}}

    assert held.hold("!room", event, 1.0)
    assert not held.hold("!room", event, 2.0)
    for number in range(LIMIT):
        held.hold("!room", {"event_id": f"$n{number}", "content": {}}, 3.0)

    again = HeldEvents(store)
    assert len(again) == LIMIT
    assert "$a" not in {e.event_id for e in again.all()}  # the oldest went first
    again.release({"$n0"})
    assert "$n0" not in {e.event_id for e in HeldEvents(store).all()}
