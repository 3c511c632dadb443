"""The bot in end-to-end encrypted rooms, against a real Synapse.

The coordinator reads and writes through a client that encrypts; her plain client (same
account, no keys) shows what the homeserver itself holds.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nio.crypto import decrypt_attachment

from bot.adapters.matrix import MatrixAdapter
from bot.bootstrap import Bot
from bot.core.clock import FakeClock
from bot.port import Outbound
from tests.adapters.matrix.conftest import Team
from tests.adapters.matrix.support import (
    Analyst,
    EncryptedAnalyst,
    RoomWatch,
    eventually,
    ok,
    option_number,
)
from tests.adapters.matrix.test_end_to_end import (
    TITLE,
    WAIT_SECONDS,
    WAR_ROOM_NAME,
    join_when_invited,
    lobby_with_bot,
)
from tests.fixtures.triage import WORKED_EXAMPLE

START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
ENCRYPTED = "m.room.encrypted"
REPORT = b"# INC-2026-0001\nTLP:AMBER"


async def raw_event(plain: Analyst, room_id: str, event_id: str) -> dict[str, Any]:
    """An event as the homeserver holds it, undecrypted."""
    found = [e for e in await plain.recent_events(room_id, limit=100) if e["event_id"] == event_id]
    assert found, event_id
    return found[0]


async def open_encrypted_war_room(team: Team, alice: EncryptedAnalyst) -> RoomWatch:
    lobby = await lobby_with_bot(team)
    await team.alice.say(lobby, f"!incident declare {TITLE}")
    war_room = await join_when_invited(alice, WAR_ROOM_NAME)
    encryption = await alice.state(war_room, "m.room.encryption")
    assert encryption["algorithm"] == "m.megolm.v1.aes-sha2"
    return RoomWatch(alice, war_room, team.bot_user_id, WAIT_SECONDS)


async def answer_by_reply(alice: EncryptedAnalyst, watch: RoomWatch, question_id: str) -> str:
    """Answers with an encrypted numbered reply; the id of that reply."""
    asked = await watch.question(question_id)
    number = option_number(question_id, WORKED_EXAMPLE[question_id])
    reply = await alice.reply(watch.room_id, asked["event_id"], str(number))
    await watch.message_with(f"{question_id} → {WORKED_EXAMPLE[question_id]} (answered by")
    return reply


async def answer_by_command(alice: EncryptedAnalyst, watch: RoomWatch, question_id: str) -> str:
    await watch.question(question_id)
    number = option_number(question_id, WORKED_EXAMPLE[question_id])
    said = await alice.say(watch.room_id, f"!incident answer {question_id} {number}")
    await watch.message_with(f"{question_id} → {WORKED_EXAMPLE[question_id]} (answered by")
    return said


async def headline_edit(alice: EncryptedAnalyst, watch: RoomWatch, headline_id: str) -> str:
    """The id of the bot's latest edit of the headline, decrypted."""

    async def latest() -> str | None:
        edits = [
            e
            for e in await alice.recent_events(watch.room_id, limit=100)
            if e["sender"] == watch.bot_user_id
            and e["content"].get("m.relates_to", {}).get("rel_type") == "m.replace"
            and e["content"]["m.relates_to"].get("event_id") == headline_id
        ]
        return edits[0]["event_id"] if edits else None

    found: str = await eventually(latest, "an edit of the headline", WAIT_SECONDS)
    return found


async def downloaded_attachment(alice: EncryptedAnalyst, event: dict[str, Any]) -> bytes:
    """The file an encrypted m.file event points at, downloaded and decrypted."""
    file = event["content"]["file"]
    stored = ok(await alice.client.download(file["url"])).body
    assert REPORT not in stored  # the homeserver holds ciphertext only
    plain: bytes = decrypt_attachment(
        stored, file["key"]["k"], file["hashes"]["sha256"], file["iv"]
    )
    return plain


async def stop(bot: Bot, adapter: MatrixAdapter) -> None:
    await adapter.stop()
    bot.close()


async def test_the_bot_speaks_and_listens_in_an_encrypted_war_room(
    team: Team, alice: EncryptedAnalyst
) -> None:
    clock = FakeClock(START)
    bot, adapter = await team.start_bot(clock, encrypt=True)
    try:
        watch = await open_encrypted_war_room(team, alice)
        headline = await watch.message_with(f"🚨 INC-2026-0001 · {TITLE}")
        first_question = await watch.question("Q1")
        assert "Reply with a number or react with it." in first_question["content"]["body"]
        for event_id in (headline["event_id"], first_question["event_id"]):
            raw = await raw_event(team.alice, watch.room_id, event_id)
            assert raw["type"] == ENCRYPTED
            assert raw["content"]["algorithm"] == "m.megolm.v1.aes-sha2"

        clock.advance(timedelta(minutes=1))
        reply = await answer_by_reply(alice, watch, "Q1")
        assert (await raw_event(team.alice, watch.room_id, reply))["type"] == ENCRYPTED
        edit = await headline_edit(alice, watch, headline["event_id"])
        assert (await raw_event(team.alice, watch.room_id, edit))["type"] == ENCRYPTED
        command = await answer_by_command(alice, watch, "Q2")
        assert (await raw_event(team.alice, watch.room_id, command))["type"] == ENCRYPTED

        await adapter.upload_file(watch.room_id, "r.md", REPORT, "text/markdown", "Report")
        attachment = await watch.message_with("Report")
        assert "url" not in attachment["content"]
        assert await downloaded_attachment(alice, attachment) == REPORT
    finally:
        await stop(bot, adapter)
    incident = bot.store.get("INC-2026-0001")
    assert incident is not None
    assert {q: a.option for q, a in incident.answers.items()} == {
        q: WORKED_EXAMPLE[q] for q in ("Q1", "Q2")
    }


async def test_a_restarted_bot_keeps_its_device_and_still_decrypts(
    team: Team, alice: EncryptedAnalyst
) -> None:
    clock = FakeClock(START)
    bot, adapter = await team.start_bot(clock, encrypt=True)
    try:
        watch = await open_encrypted_war_room(team, alice)
        await answer_by_reply(alice, watch, "Q1")
        await watch.question("Q2")  # asked before the bot stops
        device_before = bot.store.kv.get("matrix:device_id")
        keys_before = bot_identity_keys(alice, team.bot_user_id)
        assert keys_before
    finally:
        await stop(bot, adapter)

    bot, adapter = await team.start_bot(clock, encrypt=True)
    try:
        assert bot.store.kv.get("matrix:device_id") == device_before
        await answer_by_command(alice, watch, "Q2")
        await answer_by_reply(alice, watch, "Q3")
        alice.client.users_for_key_query.add(team.bot_user_id)  # ask the homeserver afresh
        ok(await alice.client.keys_query())
        assert bot_identity_keys(alice, team.bot_user_id) == keys_before
    finally:
        await stop(bot, adapter)


def bot_identity_keys(alice: EncryptedAnalyst, bot_user_id: str) -> list[tuple[str, str]]:
    """The bot's devices and their identity keys, as the coordinator's client knows them."""
    devices = alice.client.device_store.active_user_devices(bot_user_id)
    return sorted((device.id, device.curve25519) for device in devices)


async def test_an_undecryptable_message_is_held_and_the_bot_goes_on(
    team: Team, alice: EncryptedAnalyst, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "bot.adapters.matrix.encryption")
    clock = FakeClock(START)
    bot, adapter = await team.start_bot(clock, encrypt=True)
    try:
        watch = await open_encrypted_war_room(team, alice)
        await watch.question("Q1")
        # Sent as-is by the keyless client: a session nobody ever shared.
        garbage = {
            "algorithm": "m.megolm.v1.aes-sha2",
            "ciphertext": "AwgAEnACgAkLmt6qF84IK++J7UDH2Za1YVchHyprqTqsg",
            "device_id": "NOWHERE",
            "sender_key": "IlRMeOPX2e0MurIyfWEucYBRVOEEUMrOHqn/8mLqMjA",
            "session_id": "X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ",
        }
        ok(await team.alice.client.room_send(watch.room_id, ENCRYPTED, garbage))
        # The reply comes after it: handling it shows the bot went on.
        await answer_by_reply(alice, watch, "Q1")
    finally:
        await stop(bot, adapter)
    skipped = [r.getMessage() for r in caplog.records if "cannot decrypt" in r.getMessage()]
    assert len(skipped) == 1, skipped
    assert "X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ" in skipped[0]


async def test_direct_messages_are_encrypted_too(team: Team, alice: EncryptedAnalyst) -> None:
    bot, adapter = await team.start_bot(FakeClock(START), encrypt=True)
    try:
        sent = await adapter.send_direct(
            alice.user_id, Outbound("You are paged for INC-2026-0001.")
        )
        direct = await join_when_invited(alice, "")
        assert direct == sent.room_id
        page = await RoomWatch(alice, direct, team.bot_user_id, WAIT_SECONDS).message_with(
            "You are paged"
        )
        assert page["event_id"] == sent.message_id
        assert (await raw_event(team.alice, direct, sent.message_id))["type"] == ENCRYPTED
    finally:
        await stop(bot, adapter)
