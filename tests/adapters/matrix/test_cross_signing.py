"""The bot's account cross-signs its device, against a real Synapse.

What the homeserver publishes is checked as any client would: the signatures are verified
here with `cryptography` over the spec's canonical JSON, not with the bot's own code.
"""

from __future__ import annotations

import base64
import json
import logging
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bot.adapters.matrix import MatrixAdapter
from bot.adapters.matrix.cross_signing import (
    KEY_FILE,
    CrossSigningKeys,
    canonical_json,
    sign,
    signed_by,
)
from bot.port import PlatformError
from tests.adapters.matrix.conftest import MatrixWorld
from tests.adapters.matrix.support import Analyst

BOT_PASSWORD = "bot-password"  # as the fixtures register the bot


def unbase64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def verifies(value: dict[str, Any], user_id: str, key: str, key_id: str | None = None) -> bool:
    """Whether `value` carries a valid ed25519 signature by `key` (named `ed25519:<key_id>`,
    the key itself unless told), checked independently."""
    signature = value.get("signatures", {}).get(user_id, {}).get(f"ed25519:{key_id or key}")
    if signature is None:
        return False
    unsigned = {k: v for k, v in value.items() if k not in ("signatures", "unsigned")}
    message = json.dumps(unsigned, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    try:
        Ed25519PublicKey.from_public_bytes(unbase64(key)).verify(
            unbase64(signature), message.encode()
        )
    except InvalidSignature:
        return False
    return True


def only_key(key_object: dict[str, Any]) -> str:
    (key,) = key_object["keys"].values()
    assert isinstance(key, str)
    return key


async def published(analyst: Analyst, user_id: str) -> dict[str, Any]:
    """/keys/query for `user_id`, asked by another member of the homeserver."""
    response = await analyst.client.send(
        "POST",
        "/_matrix/client/v3/keys/query",
        json.dumps({"device_keys": {user_id: []}}),
        headers={"Authorization": f"Bearer {analyst.client.access_token}"},
    )
    assert response.status == 200
    answer: dict[str, Any] = await response.json()
    return answer


def encrypted_adapter(world: MatrixWorld, **overrides: Any) -> MatrixAdapter:
    adapter = MatrixAdapter(
        world.settings(**overrides),
        world.store,
        world.inbox,
        accept_invite_from=lambda _: True,
        encrypt=True,
    )
    world.adapters.append(adapter)
    return adapter


async def assert_cross_signed(world: MatrixWorld, device_id: str) -> str:
    """Checks master → self-signing → device as another user sees them, and the user-signing
    key as only the account itself does; the master key."""
    user_id = world.bot_user_id
    query = await published(world.analysts[0], user_id)
    master = only_key(query["master_keys"][user_id])
    self_signing = query["self_signing_keys"][user_id]
    assert query["master_keys"][user_id]["usage"] == ["master"]
    assert self_signing["usage"] == ["self_signing"]
    assert verifies(self_signing, user_id, master)
    itself = Analyst(world.synapse.base_url, user_id, world.bot_token)
    own = await published(itself, user_id)
    await itself.client.close()
    user_signing = own["user_signing_keys"][user_id]
    assert user_signing["usage"] == ["user_signing"]
    assert verifies(user_signing, user_id, master)
    device = query["device_keys"][user_id][device_id]
    assert verifies(device, user_id, only_key(self_signing))
    assert verifies(device, user_id, device["keys"][f"ed25519:{device_id}"], device_id)
    return master


def test_canonical_json_sorts_keys_drops_signatures_and_keeps_unicode() -> None:
    value = {"b": "2", "a": "日本語", "signatures": {"x": {}}, "unsigned": {"age": 1}}

    assert canonical_json(value) == '{"a":"日本語","b":"2"}'.encode()


def test_a_signature_verifies_and_a_changed_object_does_not() -> None:
    keys = CrossSigningKeys.generate("@rrt:rrt.test")
    signed = sign({"user_id": "@rrt:rrt.test", "n": 1}, "@rrt:rrt.test", keys.self_signing)

    assert verifies(signed, "@rrt:rrt.test", keys.public("self_signing"))
    assert signed_by(signed, "@rrt:rrt.test", keys.public("self_signing"))
    assert not signed_by({**signed, "n": 2}, "@rrt:rrt.test", keys.public("self_signing"))
    assert not signed_by(signed, "@rrt:rrt.test", keys.public("master"))


def test_the_keys_are_kept_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    created = CrossSigningKeys.load_or_create(path, "@rrt:rrt.test")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = CrossSigningKeys.load_or_create(path, "@rrt:rrt.test")
    assert [again.public(u) for u in ("master", "self_signing", "user_signing")] == [
        created.public(u) for u in ("master", "self_signing", "user_signing")
    ]
    with pytest.raises(PlatformError, match="another account"):
        CrossSigningKeys.load(path, "@other:rrt.test")


async def test_the_bot_publishes_cross_signing_keys_and_signs_its_device(
    world: MatrixWorld,
) -> None:
    adapter = encrypted_adapter(world)  # an access token only: the first upload needs no UIA
    await adapter.start()
    device_id = world.store.get("matrix:device_id")
    assert device_id

    master = await assert_cross_signed(world, device_id)
    kept = CrossSigningKeys.load(world.store_dir / KEY_FILE, world.bot_user_id)
    assert kept is not None
    assert kept.public("master") == master
    assert stat.S_IMODE((world.store_dir / KEY_FILE).stat().st_mode) == 0o600


async def test_a_restart_reuses_the_keys_and_uploads_nothing(
    world: MatrixWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bot.adapters.matrix.cross_signing")
    first = encrypted_adapter(world)
    await first.start()
    before = await published(world.analysts[0], world.bot_user_id)
    await first.stop()
    caplog.clear()

    second = encrypted_adapter(world)
    await second.start()

    after = await published(world.analysts[0], world.bot_user_id)
    for usage in ("master_keys", "self_signing_keys", "user_signing_keys"):
        assert after[usage] == before[usage]
    assert not [r for r in caplog.records if "published" in r.getMessage()]
    assert not [r for r in caplog.records if "signed with" in r.getMessage()]


async def test_other_keys_on_the_server_are_replaced_with_the_password(world: MatrixWorld) -> None:
    first = encrypted_adapter(world)
    await first.start()
    old_master = only_key(
        (await published(world.analysts[0], world.bot_user_id))["master_keys"][world.bot_user_id]
    )
    await first.stop()
    (world.store_dir / KEY_FILE).unlink()  # the keys are lost: the bot makes new ones

    second = encrypted_adapter(world, password=BOT_PASSWORD)
    await second.start()

    device_id = world.store.get("matrix:device_id")
    assert device_id
    master = await assert_cross_signed(world, device_id)
    assert master != old_master


async def test_without_a_password_the_servers_keys_stay_and_the_bot_says_why(
    world: MatrixWorld, caplog: pytest.LogCaptureFixture
) -> None:
    first = encrypted_adapter(world)
    await first.start()
    before = await published(world.analysts[0], world.bot_user_id)
    await first.stop()
    (world.store_dir / KEY_FILE).unlink()

    caplog.set_level(logging.ERROR, "bot.adapters.matrix.cross_signing")
    second = encrypted_adapter(world)
    await second.start()  # the bot runs on, its device signed by the old keys

    after = await published(world.analysts[0], world.bot_user_id)
    assert after["master_keys"] == before["master_keys"]
    refused = [r.getMessage() for r in caplog.records if "not published" in r.getMessage()]
    assert refused
    assert "password" in refused[0]
