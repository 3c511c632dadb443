"""Cross-signing: the bot's account publishes master, self-signing and user-signing keys and
signs its own device with the self-signing key.

Clients show an unsigned device with a red shield, and a client that excludes insecure
devices neither reads its messages nor shares room keys with it. The private keys are kept
in the Matrix store directory (mode 0600) beside the device keys, so a restart reuses them;
they are uploaded only when the homeserver holds none or others.

The first upload needs no user-interactive auth (MSC3967). Replacing keys the homeserver
already holds does: the bot answers with its password (`MatrixSettings.password`); with only
an access token it logs what is missing and keeps the homeserver's keys.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nio import AsyncClient

from bot.adapters.matrix.calls import MatrixCalls
from bot.adapters.matrix.keyfiles import read_private, write_private
from bot.port import PlatformError

log = logging.getLogger(__name__)

KEY_FILE = "cross-signing.json"
USAGES = ("master", "self_signing", "user_signing")
UNAUTHORIZED = 401


def unpadded_base64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def decode_base64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """The spec's canonical JSON of an object, without its `signatures` and `unsigned`."""
    signed = {k: v for k, v in value.items() if k not in ("signatures", "unsigned")}
    return json.dumps(signed, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def public_key(private: Ed25519PrivateKey) -> str:
    return unpadded_base64(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def sign(value: Mapping[str, Any], user_id: str, private: Ed25519PrivateKey) -> dict[str, Any]:
    """`value` with `private`'s signature added under `user_id`."""
    signature = unpadded_base64(private.sign(canonical_json(value)))
    signed = dict(value)
    signatures = {user: dict(keys) for user, keys in value.get("signatures", {}).items()}
    signatures.setdefault(user_id, {})[f"ed25519:{public_key(private)}"] = signature
    signed["signatures"] = signatures
    return signed


def signed_by(value: Mapping[str, Any], user_id: str, key: str) -> bool:
    """Whether `value` carries a valid signature of the ed25519 public `key` under `user_id`."""
    signature = value.get("signatures", {}).get(user_id, {}).get(f"ed25519:{key}")
    if not isinstance(signature, str):
        return False
    try:
        verifier = Ed25519PublicKey.from_public_bytes(decode_base64(key))
        verifier.verify(decode_base64(signature), canonical_json(value))
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class CrossSigningKeys:
    user_id: str
    master: Ed25519PrivateKey
    self_signing: Ed25519PrivateKey
    user_signing: Ed25519PrivateKey

    @classmethod
    def generate(cls, user_id: str) -> CrossSigningKeys:
        return cls(user_id, *(Ed25519PrivateKey.generate() for _ in USAGES))

    def _private(self, usage: str) -> Ed25519PrivateKey:
        return {
            "master": self.master,
            "self_signing": self.self_signing,
            "user_signing": self.user_signing,
        }[usage]

    def public(self, usage: str) -> str:
        return public_key(self._private(usage))

    def key_object(self, usage: str) -> dict[str, Any]:
        """The key as uploaded: the master key bare, the others signed by the master key."""
        key = self.public(usage)
        value: dict[str, Any] = {
            "user_id": self.user_id,
            "usage": [usage],
            "keys": {f"ed25519:{key}": key},
        }
        return value if usage == "master" else sign(value, self.user_id, self.master)

    def upload_body(self) -> dict[str, Any]:
        return {f"{usage}_key": self.key_object(usage) for usage in USAGES}

    def save(self, path: Path) -> None:
        seeds = {
            usage: unpadded_base64(self._private(usage).private_bytes_raw()) for usage in USAGES
        }
        write_private(path, json.dumps({"user_id": self.user_id, **seeds}))

    @classmethod
    def load(cls, path: Path, user_id: str) -> CrossSigningKeys | None:
        """The keys kept in `path` for `user_id`, or None when there are none yet."""
        text = read_private(path)
        if text is None:
            return None
        stored = json.loads(text)
        if stored.get("user_id") != user_id:
            raise PlatformError(
                "cross_signing", f"{path} holds the cross-signing keys of another account"
            )
        return cls(
            user_id,
            *(Ed25519PrivateKey.from_private_bytes(decode_base64(stored[u])) for u in USAGES),
        )

    @classmethod
    def load_or_create(cls, path: Path, user_id: str) -> CrossSigningKeys:
        keys = cls.load(path, user_id)
        if keys is None:
            keys = cls.generate(user_id)
            keys.save(path)
        return keys


def _published_key(query: Mapping[str, Any], usage: str, user_id: str) -> str | None:
    found = query.get(f"{usage}_keys", {}).get(user_id, {}).get("keys", {})
    keys = [key for key in found.values() if isinstance(key, str)]
    return keys[0] if len(keys) == 1 else None


class CrossSigning:
    """Publishes the account's cross-signing keys and signs the bot's device, once."""

    def __init__(
        self, client: AsyncClient, calls: MatrixCalls, store_dir: Path, password: str | None
    ) -> None:
        self._client = client
        self._calls = calls
        self._path = store_dir / KEY_FILE
        self._password = password

    async def ensure(self) -> None:
        user_id, device_id = self._client.user_id, self._client.device_id
        keys = CrossSigningKeys.load_or_create(self._path, user_id)
        query = await self._query(user_id)
        published = {usage: _published_key(query, usage, user_id) for usage in USAGES}
        current = published == {usage: keys.public(usage) for usage in USAGES}
        if not current and not await self._upload(keys, replacing=bool(published["master"])):
            return
        device = query.get("device_keys", {}).get(user_id, {}).get(device_id)
        if device is None:
            raise PlatformError("cross_signing", f"device {device_id} has no published keys")
        if not signed_by(device, user_id, keys.public("self_signing")):
            await self._sign_device(device, keys)

    async def _json(self, what: str, path: str, body: Mapping[str, Any]) -> tuple[int, Any]:
        client = self._client

        async def request() -> tuple[int, Any]:
            response = await client.send(
                "POST",
                path,
                json.dumps(body),
                headers={
                    "Authorization": f"Bearer {client.access_token}",
                    "Content-Type": "application/json",
                },
            )
            return response.status, await response.json()

        status, answer = await self._calls(what, request)
        return int(status), answer

    async def _checked(self, what: str, path: str, body: Mapping[str, Any]) -> Any:
        status, answer = await self._json(what, path, body)
        if status != 200:
            raise PlatformError(str(answer.get("errcode", status)), f"{what}: {answer}")
        return answer

    async def _query(self, user_id: str) -> Any:
        return await self._checked(
            "keys query", "/_matrix/client/v3/keys/query", {"device_keys": {user_id: []}}
        )

    async def _upload(self, keys: CrossSigningKeys, *, replacing: bool) -> bool:
        """Uploads the keys, answering the password stage if asked; whether they are published."""
        path = "/_matrix/client/v3/keys/device_signing/upload"
        body = keys.upload_body()
        status, answer = await self._json("upload cross-signing keys", path, body)
        if status == UNAUTHORIZED and "flows" in answer:
            if not self._password:
                log.error(
                    "cross-signing keys not published: the homeserver %s, and asks for the "
                    "account's password (set the Matrix password; or remove the keys in a "
                    "client so the bot's first upload needs none); the bot's device stays "
                    "unsigned",
                    "already holds others" if replacing else "refuses the first upload",
                )
                return False
            auth = {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": keys.user_id},
                "password": self._password,
                "session": answer.get("session"),
            }
            status, answer = await self._json(
                "upload cross-signing keys", path, {**body, "auth": auth}
            )
        if status != 200:
            raise PlatformError(
                str(answer.get("errcode", status)), f"upload cross-signing keys: {answer}"
            )
        log.info("cross-signing keys published (master %s)", keys.public("master"))
        return True

    async def _sign_device(self, device: Mapping[str, Any], keys: CrossSigningKeys) -> None:
        user_id, device_id = keys.user_id, device["device_id"]
        signed = sign(
            {k: v for k, v in device.items() if k != "unsigned"}, user_id, keys.self_signing
        )
        answer = await self._checked(
            "upload device signature",
            "/_matrix/client/v3/keys/signatures/upload",
            {user_id: {device_id: signed}},
        )
        if answer.get("failures"):
            raise PlatformError("cross_signing", f"device signature refused: {answer['failures']}")
        log.info("device %s signed with the self-signing key", device_id)
