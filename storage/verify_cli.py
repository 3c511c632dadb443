"""`rrt log verify`, `rrt log head` and `rrt log sign-head`: check the incident log's hash chain
and its signed head, print the head to keep elsewhere, sign it again; each says so in one line.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from bot.core.projection import KINDS
from storage.core_tables import HEAD_SIGNATURE_VERSION, current_version
from storage.db import make_engine
from storage.log import SignedHead, VerifyResult, sign_head_again, signed_head, verify
from storage.signing import KeyFileError, LogSigner, LogVerifier, key_file_for, public_key_path
from storage.snapshots import snapshot_differences

NEVER_INITIALISED = "no incident log here: the database was never initialised"


def verify_report(
    url: str,
    public_key: Path | None = None,
    key_file: Path | None = None,
    head: str | None = None,
) -> tuple[bool, str]:
    """(intact, message), e.g. "log OK: 42 entries, head signed by key …" or
    "log TAMPERED at entry 17: ...".

    The head signature is checked with `public_key`, else the `.pub` beside `key_file` (the
    configured `RRT_LOG_KEY_FILE`) or beside the default key file for `url`. `head`, a head
    printed by `rrt log head` earlier, must be one the log still extends."""
    try:
        kept = SignedHead.parse(head) if head is not None else None
    except ValueError as error:
        return False, f"cannot read the kept head: {error}"
    engine = make_engine(url)
    try:
        checked = _checked(engine, url, public_key, key_file, kept, replay=KINDS)
        if not isinstance(checked, tuple):
            return False, checked
        result, key = checked
        if not result.ok:
            return False, _tampered(result)
        differing = snapshot_differences(engine, result.replayed)
        if differing:
            return False, "snapshot TAMPERED: " + "\n".join(differing)
        now = signed_head(engine)
    finally:
        engine.dispose()
    noun = "entry" if result.checked == 1 else "entries"
    message = f"log OK: {result.checked} {noun}, head signed by key {key.fingerprint}"
    if now.signed_from:
        message += f" (signed from entry {now.signed_from}; those before are chained only)"
    if kept is not None:
        message += f"; it extends the kept head at entry {kept.seq}"
    return True, message


def head_report(
    url: str, public_key: Path | None = None, key_file: Path | None = None
) -> tuple[bool, str]:
    """(intact, the signed head to keep elsewhere), once the log verifies; else what is wrong."""
    engine = make_engine(url)
    try:
        checked = _checked(engine, url, public_key, key_file, None)
        if not isinstance(checked, tuple):
            return False, checked
        result, _key = checked
        if not result.ok:
            return False, _tampered(result)
        return True, signed_head(engine).render()
    finally:
        engine.dispose()


def sign_head_report(url: str, key_file: Path | None = None) -> tuple[bool, str]:
    """Sign the head with the private key (`key_file`, else the default one for `url`), once
    the chain itself is sound. For a lost or changed key, or after tampering was looked into:
    signing then begins anew at the current entry."""
    # Only signing migrates (a head is signed at the current schema): checks stay light.
    from storage.migrations import migrate

    engine = make_engine(url)
    try:
        if current_version(engine) == 0:
            return False, NEVER_INITIALISED
        try:
            signer = LogSigner.for_database(url, key_file)
            migrate(engine, signer=signer)
            result = sign_head_again(engine, signer)
        except KeyFileError as error:
            return False, f"cannot sign the log head: {error}"
        if not result.ok:
            return False, f"not signing: {_tampered(result)}"
        where = signer.path or "a key in memory"
        now = signed_head(engine)
        return True, (
            f"log head signed at entry {now.seq} with key {signer.fingerprint} ({where}); keep "
            f"this head elsewhere:\n{now.render()}"
        )
    finally:
        engine.dispose()


def _checked(
    engine: Engine,
    url: str,
    public_key: Path | None,
    key_file: Path | None,
    kept: SignedHead | None,
    replay: frozenset[str] = frozenset(),
) -> tuple[VerifyResult, LogVerifier] | str:
    """The result of verifying chain and signature (keeping the entries of the `replay`
    kinds), or the one-line reason it could not be."""
    version = current_version(engine)
    if version == 0:
        return NEVER_INITIALISED
    if version < HEAD_SIGNATURE_VERSION:
        chain = verify(engine)
        if not chain.ok:
            return _tampered(chain)
        return (
            f"log NOT SIGNED: its {chain.checked} entries chain up, but the database predates "
            "signed heads; open it once with this release (start the bot) to sign its head"
        )
    try:
        key = _verifier(url, public_key, key_file)
    except KeyFileError as error:
        chain = verify(engine)  # a broken chain is worth telling even without the key
        if not chain.ok:
            return _tampered(chain)
        return f"cannot check the log head signature: {error}"
    return verify(engine, key, kept, replay=replay), key


def _verifier(url: str, public_key: Path | None, key_file: Path | None) -> LogVerifier:
    if public_key is not None:
        return LogVerifier.load(public_key)
    private = key_file_for(url, key_file)
    if private is None:
        raise KeyFileError("a database in memory has no key file; pass the public key")
    pub = public_key_path(private)
    if pub.exists():
        return LogVerifier.load(pub)
    if private.exists():
        return LogVerifier.load(private)
    raise KeyFileError(f"no public key at {pub}: pass it with --key (or set RRT_LOG_KEY_FILE)")


def _tampered(result: VerifyResult) -> str:
    where = f" at entry {result.first_bad_seq}" if result.first_bad_seq is not None else ""
    return f"log TAMPERED{where}: {result.problem}"
