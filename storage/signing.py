"""The key that signs the head of the incident log, kept in a file outside the database.

The log's hash chain shows an edit only to whoever cannot recompute it; anyone who can write the
database can. So the head (last seq and hash) is also signed with an Ed25519 key whose private
half lives in a file (mode 0600) created at first start, by default beside the SQLite database
(`<db dir>/rrt-log.key`) or at `var/rrt-log.key` for PostgreSQL; `RRT_LOG_KEY_FILE` names
another. The public half is written beside it (`rrt-log.key.pub`), so that `rrt log verify` can
run where the private key is not.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import threading
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.engine import URL, make_url

KEY_FILE_NAME = "rrt-log.key"
POSTGRES_KEY_FILE = Path("var") / KEY_FILE_NAME

log = logging.getLogger(__name__)


class KeyFileError(Exception):
    """A key file is unreadable, not an Ed25519 key, or does not match its other half."""


def public_key_path(key_file: Path) -> Path:
    """Where the public half of `key_file` is written: `<key_file>.pub`."""
    return key_file.with_name(key_file.name + ".pub")


def default_key_file(url: str | URL) -> Path | None:
    """The key file for a database: beside a SQLite file, `var/` for PostgreSQL; None in memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            return None
        return Path(str(parsed.database)).parent / KEY_FILE_NAME
    return POSTGRES_KEY_FILE


def key_file_for(url: str | URL, configured: Path | None = None) -> Path | None:
    """The configured key file (`RRT_LOG_KEY_FILE`), else the default one for `url`."""
    return configured if configured is not None else default_key_file(url)


def fingerprint(key: Ed25519PublicKey) -> str:
    """A short name for a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    return hashlib.sha256(key.public_bytes_raw()).hexdigest()[:16]


@dataclass(frozen=True)
class LogVerifier:
    """The public key that checks head signatures, and where it came from (for messages)."""

    key: Ed25519PublicKey
    source: str

    @cached_property
    def fingerprint(self) -> str:
        return fingerprint(self.key)

    def verifies(self, message: bytes, signature: bytes) -> bool:
        try:
            self.key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    @classmethod
    def load(cls, path: Path) -> LogVerifier:
        """A public key file (PEM); the private key file is accepted too."""
        try:
            data = path.read_bytes()
        except OSError as error:
            raise KeyFileError(f"cannot read the key file {path}: {error.strerror}") from None
        if b"PRIVATE KEY" in data:
            return cls(_parse_private(data, path).public_key(), str(path))
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError:
            raise KeyFileError(f"{path} is not a PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFileError(f"{path} is not an Ed25519 public key")
        return cls(key, str(path))


class LogSigner:
    """The private key that signs the log head. From a file, it is read (or created) at its first
    use, so that commands which only read the log never create a key."""

    def __init__(self, path: Path | None = None, key: Ed25519PrivateKey | None = None) -> None:
        if path is None and key is None:
            raise ValueError("a LogSigner needs a key file or a key")
        self.path = path
        self._key = key
        self._lock = threading.Lock()
        self._last_signed: tuple[bytes, bytes] | None = None

    @classmethod
    def generate(cls) -> LogSigner:
        """A key that lives in memory only (for an in-memory database, or tests)."""
        return cls(key=Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, path: Path) -> LogSigner:
        """The key in `path`, read at its first use, and created then (mode 0600, with
        `<path>.pub`) if there is none yet."""
        return cls(path=path)

    @classmethod
    def for_database(cls, url: str | URL, key_file: Path | None = None) -> LogSigner:
        """The signer for a database: `key_file`, else the default key file for `url`."""
        path = key_file_for(url, key_file)
        return cls.generate() if path is None else cls.load_or_create(path)

    @property
    def key(self) -> Ed25519PrivateKey:
        with self._lock:
            if self._key is None:
                assert self.path is not None
                self._key = _load_or_create(self.path)
            return self._key

    # Each log append verifies the head and signs the next: worked out once per key.
    @cached_property
    def public(self) -> LogVerifier:
        return LogVerifier(self.key.public_key(), str(self.path) if self.path else "in memory")

    @cached_property
    def fingerprint(self) -> str:
        return fingerprint(self.key.public_key())

    def sign(self, message: bytes) -> bytes:
        signature = self.key.sign(message)
        self._last_signed = (message, signature)
        return signature

    def signed_last(self, message: bytes, signature: bytes) -> bool:
        """Whether this is the last message it signed, with that signature: such a head is
        this key's without verifying it again (the next append mostly finds its own head)."""
        return self._last_signed == (message, signature)


def _load_or_create(path: Path) -> Ed25519PrivateKey:
    pub = public_key_path(path)
    if not path.exists():
        if pub.exists():
            raise KeyFileError(
                f"the public key {pub} exists but its private key {path} does not: restore the "
                "key file (the log head is signed with it), or move the .pub away to start a "
                "new key"
            )
        try:
            _create(path)
        except OSError as error:
            raise KeyFileError(
                f"cannot create the log signing key {path}: {error.strerror} (RRT_LOG_KEY_FILE "
                "names another place)"
            ) from None
    key = _read_private(path)
    try:
        _write_public(path, key.public_key())
    except OSError as error:
        raise KeyFileError(f"cannot write the public key beside {path}: {error.strerror}") from None
    return key


def _create(path: Path) -> None:
    """Write a new key to `path` atomically; if another process got there first, keep its key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # whatever the umask
        os.write(descriptor, pem)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    try:
        os.link(temporary, path)  # never overwrites: a key another process made is kept
        log.warning("created the log signing key %s (keep a copy: it signs the log head)", path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    _sync_directory(path.parent)


def _read_private(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode
    except OSError as error:
        raise KeyFileError(f"cannot read the log signing key {path}: {error.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the log signing key %s is readable by others (mode %o)", path, mode & 0o777)
    return _parse_private(data, path)


def _parse_private(data: bytes, path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise KeyFileError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 private key")
    return key


def _write_public(path: Path, key: Ed25519PublicKey) -> None:
    pub = public_key_path(path)
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if pub.exists():
        if LogVerifier.load(pub).fingerprint != fingerprint(key):
            raise KeyFileError(
                f"the public key {pub} is not the public half of {path}: restore the right "
                "pair, or move the .pub away to write it anew"
            )
        return
    temporary = pub.with_name(f".{pub.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_bytes(pem)
    os.replace(temporary, pub)  # the same content whoever writes it


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
