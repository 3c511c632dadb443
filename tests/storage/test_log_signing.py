"""The signed log head: what an intruder who can write the database (but has not the key) does
to the log is caught by `rrt log verify`, which names it."""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session, col, select

from bot.core.clock import FakeClock
from bot.core.events import LogEvent
from bot.core.incident import Incident, WarRoom
from bot.core.store import StoredEffect
from storage.db import database_url_for_path, make_engine
from storage.log import (
    GENESIS_HASH,
    LogHeadUntrusted,
    SignedHead,
    entry_hash,
    sign_head_again,
    signed_head,
    verify,
)
from storage.migrations import HEAD_SIGNATURE_VERSION, MIGRATIONS, current_version, migrate
from storage.signing import (
    KeyFileError,
    LogSigner,
    LogVerifier,
    default_key_file,
    public_key_path,
)
from storage.sql_store import SqlStore, open_store
from storage.tables import LogRow
from storage.timestamps import from_db
from storage.verify_cli import head_report, sign_head_report, verify_report
from tests.storage.conftest import START

ENTRIES = 5


def event(n: int) -> LogEvent:
    return LogEvent(
        kind="note",
        actor=f"person-{n}",
        at=START + timedelta(minutes=n),
        incident_id="INC-2026-0001",
        data={"n": n},
    )


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "rrt-log.key"


@pytest.fixture
def signer(key_file: Path) -> LogSigner:
    return LogSigner.load_or_create(key_file)


@pytest.fixture
def store(store_url: str, clock: FakeClock, signer: LogSigner) -> Iterator[SqlStore]:
    opened = open_store(store_url, clock, signer)
    opened.append([event(n) for n in range(1, ENTRIES + 1)])
    yield opened
    opened.close()


def report(store: SqlStore, key_file: Path, head: str | None = None) -> tuple[bool, str]:
    return verify_report(
        store_url_of(store), public_key=public_key_path(key_file), key_file=None, head=head
    )


def store_url_of(store: SqlStore) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def run_sql(engine: Engine, *statements: str, **params: Any) -> None:
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), params)


def rechain(engine: Engine) -> None:
    """What an intruder without the key can do: recompute every hash and move the head."""
    with Session(engine) as session:
        rows = list(session.exec(select(LogRow).order_by(col(LogRow.seq))))
    prev, updates = GENESIS_HASH, []
    for row in rows:
        digest = entry_hash(
            prev,
            row.seq,
            from_db(row.at),
            row.incident_id,
            row.actor,
            row.kind,
            json.loads(row.data),
        )
        updates.append({"seq": row.seq, "prev": prev, "hash": digest})
        prev = digest
    with engine.begin() as connection:
        for values in updates:
            connection.execute(
                text("UPDATE log SET prev_hash = :prev, hash = :hash WHERE seq = :seq"), values
            )
        connection.execute(
            text("UPDATE log_head SET seq = :seq, hash = :hash"),
            {"seq": rows[-1].seq if rows else 0, "hash": prev},
        )


def fingerprint_of(key_file: Path) -> str:
    return LogVerifier.load(public_key_path(key_file)).fingerprint


# The key file


def test_the_key_file_is_made_at_first_start_readable_by_its_owner_only(tmp_path: Path) -> None:
    url = database_url_for_path(tmp_path / "var" / "rrt.db")
    store = open_store(url)
    store.close()

    key_file = tmp_path / "var" / "rrt-log.key"
    assert default_key_file(url) == key_file
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    public = public_key_path(key_file)
    assert public.name == "rrt-log.key.pub"
    assert b"PRIVATE" not in public.read_bytes()
    assert LogVerifier.load(public).fingerprint == LogVerifier.load(key_file).fingerprint


def test_the_key_is_kept_across_starts(store: SqlStore, key_file: Path) -> None:
    before = key_file.read_bytes()

    LogSigner.load_or_create(key_file).sign(b"x")

    assert key_file.read_bytes() == before


def test_processes_starting_together_share_one_key(key_file: Path) -> None:
    prints: list[str] = []

    def start() -> None:
        prints.append(LogSigner.load_or_create(key_file).fingerprint)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(prints)) == 1
    assert prints[0] == fingerprint_of(key_file)
    assert sorted(path.name for path in key_file.parent.iterdir()) == [
        "rrt-log.key",
        "rrt-log.key.pub",
    ]


def test_a_public_key_without_its_private_key_is_not_replaced(key_file: Path) -> None:
    LogSigner.load_or_create(key_file).sign(b"x")
    key_file.unlink()

    with pytest.raises(KeyFileError, match="exists but its private key"):
        LogSigner.load_or_create(key_file).sign(b"x")


def test_a_public_key_of_another_pair_is_refused(key_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    LogSigner.load_or_create(other).sign(b"x")
    LogSigner.load_or_create(key_file).sign(b"x")
    public_key_path(key_file).write_bytes(public_key_path(other).read_bytes())

    with pytest.raises(KeyFileError, match="is not the public half"):
        LogSigner.load_or_create(key_file).sign(b"x")


def test_reading_the_log_makes_no_key(store_url: str, tmp_path: Path) -> None:
    signer = LogSigner.generate()
    open_store(store_url, signer=signer).close()
    unused = tmp_path / "unused" / "rrt-log.key"

    reader = open_store(store_url, signer=LogSigner.load_or_create(unused))
    reader.log()
    reader.close()

    assert not unused.exists()


# A clean log


def test_a_clean_log_verifies_with_its_signature(store: SqlStore, key_file: Path) -> None:
    assert report(store, key_file) == (
        True,
        f"log OK: {ENTRIES} entries, head signed by key {fingerprint_of(key_file)}",
    )


def test_a_new_log_has_a_signed_empty_head(store_url: str, key_file: Path) -> None:
    fresh = open_store(store_url, signer=LogSigner.load_or_create(key_file))

    assert report(fresh, key_file)[0]
    head = signed_head(fresh.engine)
    assert (head.seq, head.hash, head.signed_from) == (0, GENESIS_HASH, 0)
    assert head.signature is not None
    fresh.close()


def test_every_append_signs_the_new_head(store: SqlStore, signer: LogSigner) -> None:
    store.append([event(ENTRIES + 1)])

    assert verify(store.engine, signer.public).ok
    head = signed_head(store.engine)
    assert (head.seq, head.key) == (ENTRIES + 1, signer.fingerprint)


def test_a_war_room_opening_is_signed_too(store: SqlStore, key_file: Path) -> None:
    """`delivered` logs a war room through its own path into `log.append`."""
    incident = Incident(
        id="INC-2026-0001",
        title="Phishing wave",
        org="cert",
        declared_by="alice",
        declared_at=START,
        t0=START,
        state_since=START,
        rooms={"console": WarRoom(platform="console", room_id="ref-1")},
    )
    declared = LogEvent(
        kind="declared", actor="alice", at=START, incident_id=incident.id, data={"tlp": "TLP:AMBER"}
    )
    store.save(incident, [declared])
    effect = StoredEffect(
        id=0,
        key="k",
        lane="INC-2026-0001",
        platform="console",
        kind="create_room",
        payload="{}",
        origin=None,
    )

    store.delivered(effect, "room-1", {"ref-1": "room-1"})

    assert store.log()[-1].event.kind == "war_room_opened"
    assert report(store, key_file)[0]


# What an intruder without the key does


def test_an_edited_entry_with_every_hash_recomputed_is_caught(
    store: SqlStore, key_file: Path
) -> None:
    run_sql(store.engine, "UPDATE log SET actor = 'mallory' WHERE seq = 2")
    rechain(store.engine)
    assert verify(store.engine).ok  # the chain alone no longer shows it

    ok, message = report(store, key_file)

    assert not ok
    assert message == (
        f"log TAMPERED: the log head signature does not match entry {ENTRIES} (key "
        f"{fingerprint_of(key_file)}, {public_key_path(key_file)}): the log was rewritten or "
        "cut short, and its head set without the key"
    )


def test_a_cut_tail_with_the_head_moved_back_is_caught(store: SqlStore, key_file: Path) -> None:
    run_sql(store.engine, "DELETE FROM log WHERE seq > 3")
    rechain(store.engine)

    ok, message = report(store, key_file)

    assert not ok
    assert "log TAMPERED: the log head signature does not match entry 3" in message
    assert "cut short" in message


def test_an_emptied_log_is_caught(store: SqlStore, key_file: Path) -> None:
    run_sql(store.engine, "DELETE FROM log")
    rechain(store.engine)

    assert report(store, key_file) == (
        False,
        f"log TAMPERED: the log is empty but its head signature does not match (key "
        f"{fingerprint_of(key_file)}): its entries were removed and the head reset",
    )


def test_an_emptied_log_with_its_signature_removed_is_caught(
    store: SqlStore, key_file: Path
) -> None:
    run_sql(store.engine, "DELETE FROM log")
    rechain(store.engine)
    run_sql(store.engine, "UPDATE log_head SET signature = NULL, signed_by = NULL")

    ok, message = report(store, key_file)

    assert not ok
    assert message.startswith("log TAMPERED: the log is empty and its head is not signed")


def test_a_removed_signature_is_caught(store: SqlStore, key_file: Path) -> None:
    run_sql(store.engine, "UPDATE log_head SET signature = NULL")

    ok, message = report(store, key_file)

    assert not ok
    assert "the log head is not signed" in message


def test_the_head_of_another_database_signed_with_the_same_key_is_caught(
    store: SqlStore, signer: LogSigner, key_file: Path, tmp_path: Path
) -> None:
    """Ed25519 signs deterministically: without the database id in it, every empty head signed
    with one key would carry the same signature, ready to be copied into an emptied log."""
    other = open_store(database_url_for_path(tmp_path / "other.db"), signer=signer)
    empty = signed_head(other.engine)
    other.close()
    run_sql(store.engine, "DELETE FROM log")
    run_sql(
        store.engine,
        "UPDATE log_head SET seq = 0, hash = :hash, signature = :sig",
        hash=GENESIS_HASH,
        sig=empty.signature,
    )

    ok, message = report(store, key_file)

    assert not ok
    assert "the log is empty but its head signature does not match" in message


def test_verifying_with_another_public_key_fails_naming_both_keys(
    store: SqlStore, key_file: Path, tmp_path: Path
) -> None:
    other = tmp_path / "elsewhere" / "rrt-log.key"
    LogSigner.load_or_create(other).sign(b"x")

    ok, message = report(store, other)

    assert not ok
    assert message == (
        f"log TAMPERED: the log head is signed by key {fingerprint_of(key_file)}, not by key "
        f"{fingerprint_of(other)} ({public_key_path(other)}): the wrong public key, or the "
        "head was signed with another key"
    )


def test_a_head_signed_by_an_intruders_key_is_caught(
    store: SqlStore, key_file: Path, tmp_path: Path
) -> None:
    """The `signed_by` hint is the intruder's to write: the signature itself decides."""
    run_sql(store.engine, "UPDATE log SET actor = 'mallory' WHERE seq = 2")
    rechain(store.engine)
    intruder = LogSigner.generate()
    sign_head_again(store.engine, intruder)
    run_sql(store.engine, "UPDATE log_head SET signed_by = :by", by=fingerprint_of(key_file))

    ok, message = report(store, key_file)

    assert not ok
    assert "the log head signature does not match" in message


def test_a_broken_chain_is_named_before_the_signature(store: SqlStore, key_file: Path) -> None:
    run_sql(store.engine, "UPDATE log SET kind = 'erased' WHERE seq = 3")

    assert report(store, key_file) == (
        False,
        "log TAMPERED at entry 3: hash mismatch (row edited)",
    )


def test_without_a_public_key_the_signature_is_not_taken_as_checked(
    store: SqlStore, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "rrt-log.key"

    ok, message = verify_report(store_url_of(store), key_file=missing)

    assert not ok
    assert message == (
        f"cannot check the log head signature: no public key at {public_key_path(missing)}: "
        "pass it with --key (or set RRT_LOG_KEY_FILE)"
    )


# The bot does not extend a head it did not sign


def test_the_bot_does_not_sign_over_a_forged_head(store: SqlStore, key_file: Path) -> None:
    run_sql(store.engine, "DELETE FROM log WHERE seq > 3")
    rechain(store.engine)

    with pytest.raises(LogHeadUntrusted, match="signature does not match entry 3"):
        store.append([event(9)])

    assert [record.seq for record in store.log()] == [1, 2, 3]
    assert not report(store, key_file)[0]


def test_a_process_with_another_key_does_not_extend_the_log(
    store: SqlStore, store_url: str, signer: LogSigner
) -> None:
    other = open_store(store_url, signer=LogSigner.generate())

    with pytest.raises(LogHeadUntrusted, match=f"signed by key {signer.fingerprint}"):
        other.append([event(9)])
    other.close()

    assert len(store.log()) == ENTRIES


# A head kept elsewhere


def test_a_cut_tail_behind_an_older_signed_head_needs_the_kept_head(
    store: SqlStore, key_file: Path
) -> None:
    """An intruder who saved the signed head at entry 3 can cut the log back to it: the
    signature is valid, so only a head kept elsewhere shows the cut."""
    with store.engine.connect() as connection:
        saved = connection.execute(text("SELECT * FROM log_head")).mappings().one()
    store.append([event(6), event(7)])
    ok, kept = head_report(store_url_of(store), public_key_path(key_file))
    assert ok
    run_sql(store.engine, f"DELETE FROM log WHERE seq > {saved['seq']}")
    run_sql(
        store.engine,
        "UPDATE log_head SET seq = :seq, hash = :hash, signature = :signature",
        **{name: saved[name] for name in ("seq", "hash", "signature")},
    )

    assert report(store, key_file)[0]  # not caught without the kept head: a known limit
    assert report(store, key_file, head=kept) == (
        False,
        f"log TAMPERED at entry {ENTRIES + 1}: the log ends at entry {ENTRIES}, but the kept "
        f"head names entry {ENTRIES + 2}: entries were removed from the end and the head "
        "moved back",
    )


def test_the_log_extends_a_head_kept_earlier(store: SqlStore, key_file: Path) -> None:
    ok, kept = head_report(store_url_of(store), public_key_path(key_file))
    assert ok
    assert kept.startswith(f"rrt-log-head/1 seq={ENTRIES} hash=")
    store.append([event(6)])

    ok, message = report(store, key_file, head=kept)

    assert ok
    assert message.endswith(f"; it extends the kept head at entry {ENTRIES}")


def test_a_rewrite_up_to_the_kept_head_is_caught_even_when_signed_again(
    store: SqlStore, signer: LogSigner, key_file: Path
) -> None:
    """Signed again with the key (an intruder who had it, or a careless `sign-head`), the log
    verifies; the kept head still names the entry that changed."""
    kept = head_report(store_url_of(store), public_key_path(key_file))[1]
    run_sql(store.engine, "UPDATE log SET actor = 'mallory' WHERE seq = 2")
    rechain(store.engine)
    sign_head_again(store.engine, signer)
    assert report(store, key_file)[0]

    assert report(store, key_file, head=kept) == (
        False,
        f"log TAMPERED at entry {ENTRIES}: entry {ENTRIES} is not the one in the kept head: "
        "the log was rewritten up to there",
    )


def test_a_minimal_kept_head_is_enough(store: SqlStore, key_file: Path) -> None:
    with store.engine.connect() as connection:
        digest = connection.execute(text("SELECT hash FROM log WHERE seq = 2")).scalar_one()

    assert report(store, key_file, head=f"seq=2 hash={digest}")[0]
    assert not report(store, key_file, head=f"seq=2 hash={'f' * 64}")[0]


def test_a_kept_head_with_an_altered_signature_is_refused(store: SqlStore, key_file: Path) -> None:
    kept = SignedHead.parse(head_report(store_url_of(store), public_key_path(key_file))[1])
    assert kept.signature is not None
    altered = SignedHead(
        kept.seq - 1, kept.hash, kept.database, kept.signed_from, kept.key, kept.signature
    )

    ok, message = report(store, key_file, head=altered.render())

    assert not ok
    assert "the kept head's signature does not verify" in message


def test_a_kept_head_of_another_database_is_refused(
    store: SqlStore, signer: LogSigner, key_file: Path, tmp_path: Path
) -> None:
    url = database_url_for_path(tmp_path / "other.db")
    open_store(url, signer=signer).close()
    kept = head_report(url, public_key_path(key_file))[1]

    ok, message = report(store, key_file, head=kept)

    assert not ok
    assert "the kept head is of another database" in message


def test_an_unreadable_kept_head_is_named(store: SqlStore, key_file: Path) -> None:
    assert report(store, key_file, head="seq=two") == (
        False,
        "cannot read the kept head: the head lacks hash",
    )
    assert report(store, key_file, head="rrt seq=1") == (
        False,
        "cannot read the kept head: unexpected 'rrt' in the head (expected name=value)",
    )


def test_the_head_is_printed_only_when_the_log_verifies(store: SqlStore, key_file: Path) -> None:
    run_sql(store.engine, "DELETE FROM log WHERE seq > 3")
    rechain(store.engine)

    ok, message = head_report(store_url_of(store), public_key_path(key_file))

    assert not ok
    assert message.startswith("log TAMPERED: the log head signature does not match")


# Signing again, and databases from before signatures


def test_sign_head_refuses_a_broken_chain(store: SqlStore, key_file: Path) -> None:
    run_sql(store.engine, "UPDATE log SET kind = 'erased' WHERE seq = 3")

    assert sign_head_report(store_url_of(store), key_file) == (
        False,
        "not signing: log TAMPERED at entry 3: hash mismatch (row edited)",
    )


def test_after_a_lost_key_the_head_is_signed_again_with_a_new_one(
    store: SqlStore, key_file: Path
) -> None:
    old = fingerprint_of(key_file)
    key_file.unlink()
    public_key_path(key_file).unlink()

    ok, message = sign_head_report(store_url_of(store), key_file)

    assert ok
    new = fingerprint_of(key_file)
    assert new != old
    assert message.startswith(f"log head signed at entry {ENTRIES} with key {new}")
    assert report(store, key_file) == (
        True,
        f"log OK: {ENTRIES} entries, head signed by key {new} (signed from entry {ENTRIES}; "
        "those before are chained only)",
    )


def make_old_database(url: str, entries: int) -> None:
    """A database as the release before signed heads left it: schema version 3."""
    engine = make_engine(url)
    migrate(engine, MIGRATIONS[:3])
    if "signature" in {c["name"] for c in _columns(engine, "log_head")}:
        for name in ("signature", "signed_by", "signed_from"):
            run_sql(engine, f"ALTER TABLE log_head DROP COLUMN {name}")
    prev = GENESIS_HASH
    for n in range(1, entries + 1):
        at = START + timedelta(minutes=n)
        digest = entry_hash(prev, n, at, None, "a", "note", {})
        run_sql(
            engine,
            "INSERT INTO log (seq, at, incident_id, actor, kind, data, prev_hash, hash) "
            "VALUES (:seq, :at, NULL, 'a', 'note', '{}', :prev, :hash)",
            seq=n,
            at=at.strftime("%Y-%m-%d %H:%M:%S.%f") if engine.dialect.name == "sqlite" else at,
            prev=prev,
            hash=digest,
        )
        prev = digest
    run_sql(engine, "UPDATE log_head SET seq = :seq, hash = :hash", seq=entries, hash=prev)
    engine.dispose()


def _columns(engine: Engine, table: str) -> list[dict[str, Any]]:
    return [dict(column) for column in inspect(engine).get_columns(table)]


def test_a_database_from_before_signatures_is_signed_at_its_upgrade(
    store_url: str, key_file: Path
) -> None:
    make_old_database(store_url, 3)
    assert verify_report(store_url, public_key_path(key_file)) == (
        False,
        "log NOT SIGNED: its 3 entries chain up, but the database predates signed heads; open "
        "it once with this release (start the bot) to sign its head",
    )

    store = open_store(store_url, signer=LogSigner.load_or_create(key_file))
    store.append([event(4)])

    assert current_version(store.engine) == len(MIGRATIONS)
    assert report(store, key_file) == (
        True,
        f"log OK: 4 entries, head signed by key {fingerprint_of(key_file)} (signed from entry "
        "3; those before are chained only)",
    )
    store.close()


def test_a_forged_log_made_to_look_older_is_not_signed_at_start(
    store: SqlStore, store_url: str, signer: LogSigner, key_file: Path
) -> None:
    """Forgetting the signing migration does not get a rewritten log signed: its head columns
    show it was made with signatures."""
    store.close()
    engine = make_engine(store_url)
    run_sql(engine, "UPDATE log SET actor = 'mallory' WHERE seq = 2")
    rechain(engine)
    run_sql(
        engine,
        "UPDATE log_head SET signature = NULL, signed_by = NULL, signed_from = NULL",
        f"DELETE FROM schema_version WHERE version >= {HEAD_SIGNATURE_VERSION}",
    )
    engine.dispose()

    reopened = open_store(store_url, signer=signer)

    assert current_version(reopened.engine) == len(MIGRATIONS)
    ok, message = report(reopened, key_file)
    assert not ok
    assert "the log head is not signed" in message
    with pytest.raises(LogHeadUntrusted):
        reopened.append([event(9)])
    reopened.close()


def test_migrating_without_a_signer_leaves_the_head_unsigned_and_the_log_closed(
    store_url: str,
) -> None:
    engine = make_engine(store_url)
    migrate(engine)
    engine.dispose()
    store = open_store(store_url, signer=LogSigner.generate())

    with pytest.raises(LogHeadUntrusted, match="not signed"):
        store.append([event(1)])
    store.close()


def test_a_key_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    (tmp_path / "not-a-directory").write_text("")
    signer = LogSigner.load_or_create(tmp_path / "not-a-directory" / "rrt-log.key")

    with pytest.raises(KeyFileError, match="cannot create the log signing key"):
        signer.sign(b"x")
