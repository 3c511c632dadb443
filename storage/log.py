"""The append-only incident log, hash-chained so that any edit, insertion or deletion shows.

Entry n stores the hash of entry n-1 (`prev_hash`; the first entry stores `GENESIS_HASH`) and its
own `hash` = SHA-256 of prev_hash followed by the canonical JSON of (seq, at, incident_id, actor,
kind, data). The `log_head` row keeps the last seq and hash, so that removing entries from the
end is caught as well.

Whoever can write the database can also recompute every hash and the head. So the head is
signed as well, with a key outside the database (`storage/signing.py`): every append checks the
signature of the head it extends (refusing to extend one it did not sign) and signs the new one,
over (database id, signed_from, seq, hash). `verify` with the public key then catches a
recomputed chain, a tail cut with the head moved back, and an emptied log, unless the intruder
put back a head this key signed earlier: that is caught only by checking the log against a head
kept elsewhere (`rrt log head`, then `rrt log verify --head`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic_core import to_jsonable_python
from sqlalchemy import Connection, Engine, Row, insert, select, update

from bot.core.events import LogEvent, LogRecord
from bot.core.store import StorageLost
from storage.core_tables import IDENTITY_KEY, KEY_VALUES, LOG, LOG_HEAD
from storage.signing import LogSigner, LogVerifier
from storage.timestamps import from_db, to_utc

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

GENESIS_HASH = "0" * 64
HEAD_ID = 1
HEAD_FORMAT = "rrt-log-head/1"  # names the signed message's layout, and starts a printed head
_READ_BATCH = 1000
# What the chain walk reads of each log row, in this order.
_ENTRY_COLUMNS = ("seq", "at", "incident_id", "actor", "kind", "data", "prev_hash", "hash")
# json.dumps with these options, without it building a new encoder for every entry hashed.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode
_json_string = _CANONICAL  # a string's JSON form, as `_CANONICAL` writes it within an object

logger = logging.getLogger(__name__)


class LogHeadUntrusted(StorageLost):
    """The head the log would be extended from does not carry this key's valid signature."""


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int  # entries examined
    first_bad_seq: int | None = None
    problem: str = ""
    # Of an intact log verified with `replay=kinds`: per incident, the (kind, data) of its
    # entries of those kinds in log order, read in the same pass as the chain.
    replayed: Mapping[str, list[tuple[str, Any]]] = field(
        default_factory=dict, compare=False, repr=False
    )


@dataclass(frozen=True)
class SignedHead:
    """A head as `rrt log head` prints it, to be kept elsewhere and given back to `verify`.

    Parsed from a kept copy, only `seq` and `hash` are required; the rest, when given, is
    checked too.
    """

    seq: int
    hash: str
    database: str | None = None
    signed_from: int | None = None
    key: str | None = None  # the signing key's fingerprint
    signature: str | None = None

    def render(self) -> str:
        return (
            f"{HEAD_FORMAT} seq={self.seq} hash={self.hash} key={self.key} "
            f"db={self.database} from={self.signed_from} sig={self.signature}"
        )

    @classmethod
    def parse(cls, text: str) -> SignedHead:
        """From `render`'s output (or just `seq=N hash=H`); ValueError names what is wrong."""
        fields: dict[str, str] = {}
        for word in text.split():
            if word == HEAD_FORMAT:
                continue
            name, sep, value = word.partition("=")
            if not sep or name not in {"seq", "hash", "key", "db", "from", "sig"}:
                raise ValueError(f"unexpected {word!r} in the head (expected name=value)")
            fields[name] = value
        missing = [name for name in ("seq", "hash") if name not in fields]
        if missing:
            raise ValueError(f"the head lacks {' and '.join(missing)}")
        try:
            seq = int(fields["seq"])
            signed_from = int(fields["from"]) if "from" in fields else None
        except ValueError:
            raise ValueError("seq and from must be whole numbers") from None
        digest = fields["hash"].lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError("hash must be 64 hex digits")
        return cls(
            seq=seq,
            hash=digest,
            database=fields.get("db"),
            signed_from=signed_from,
            key=fields.get("key"),
            signature=fields.get("sig"),
        )


def head_message(database: str, signed_from: int, seq: int, digest: str) -> bytes:
    """What the head signature covers. The database id keeps a head signed for one database
    (with the same key) from passing in another."""
    return f"{HEAD_FORMAT}\n{database}\n{signed_from}\n{seq}\n{digest}".encode()


def entry_hash(
    prev_hash: str,
    seq: int,
    at: datetime,
    incident_id: str | None,
    actor: str,
    kind: str,
    data: Mapping[str, Any],
) -> str:
    return _digest(prev_hash, seq, _stamp(to_utc(at)), incident_id, actor, kind, data)


def _digest(
    prev_hash: str,
    seq: int,
    stamp: str,
    incident_id: str | None,
    actor: str,
    kind: str,
    data: Mapping[str, Any],
) -> str:
    canonical = _CANONICAL(
        {
            "seq": seq,
            "at": stamp,
            "incident_id": incident_id,
            "actor": actor,
            "kind": kind,
            "data": data,
        }
    )
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _stamp(moment: datetime) -> str:
    """A UTC timestamp as it is hashed."""
    return moment.isoformat(timespec="microseconds")


def _stored_stamp(moment: datetime | str) -> str | None:
    """`_stamp(from_db(moment))` for a timestamp read back, or None if it is not one. SQLite's
    come as text in UTC (`YYYY-MM-DD HH:MM:SS.ffffff`, read without parsing them: a walk of
    the log does it for every entry), PostgreSQL's as aware datetimes."""
    if isinstance(moment, str):
        if len(moment) == 26 and moment[10] == " " and moment[19] == ".":
            return f"{moment[:10]}T{moment[11:]}+00:00"
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return None
    if moment.tzinfo is None:
        return moment.isoformat(timespec="microseconds") + "+00:00"
    return _stamp(from_db(moment))


@dataclass(frozen=True)
class Tip:
    """The head as this transaction last checked or wrote it. The transaction holds the head
    (locked), so a later append in it extends this without reading or checking it again."""

    database: str
    signed_from: int
    seq: int
    hash: str


def append(
    session: Session,
    events: Sequence[LogEvent],
    signer: LogSigner,
    *,
    tip: Tip | None = None,
    database_seen: Callable[[str | None], None] | None = None,
) -> Tip | None:
    """Append events inside the caller's transaction, which serializes appends by locking the
    head (FOR UPDATE on PostgreSQL; SQLite transactions already hold the write lock).

    Returns the new head, which a later append in the same transaction may be given as `tip`;
    `database_seen` is given the database id read with the head, before anything is checked.
    Raises LogHeadUntrusted, writing nothing, when the head does not carry `signer`'s valid
    signature: extending it would sign whatever was done to the log meanwhile."""
    if not events:
        return tip
    connection = session.connection()
    if tip is None:
        tip = _checked_tip(connection, signer, database_seen)
    seq, prev_hash = tip.seq, tip.hash
    rows = []
    for event in events:
        seq += 1
        at = to_utc(event.at)
        # Stored and hashed in JSON form, so that what verify re-reads hashes the same.
        data = to_jsonable_python(event.data)
        digest = entry_hash(prev_hash, seq, at, event.incident_id, event.actor, event.kind, data)
        rows.append(
            {
                "seq": seq,
                "at": at,
                "incident_id": event.incident_id,
                "actor": event.actor,
                "kind": event.kind,
                "data": _canonical_json(data),
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash = digest
    connection.execute(_ADD_ENTRIES, rows)
    signature, signed_by = _sign(signer, tip.database, tip.signed_from, seq, prev_hash)
    moved = {"seq": seq, "hash": prev_hash, "signature": signature, "signed_by": signed_by}
    connection.execute(_MOVE_HEAD, moved)
    return Tip(tip.database, tip.signed_from, seq, prev_hash)


# Built once: they run for every append.
_HEAD_COLUMNS = ("seq", "hash", "signature", "signed_by", "signed_from")
_DATABASE_ID = select(KEY_VALUES.c.value).where(KEY_VALUES.c.key == IDENTITY_KEY)
# The head and, in the same statement, the database id its signature covers.
_HEAD_TO_EXTEND = (
    select(*[LOG_HEAD.c[name] for name in _HEAD_COLUMNS], _DATABASE_ID.scalar_subquery())
    .where(LOG_HEAD.c.id == HEAD_ID)
    .with_for_update(of=LOG_HEAD)
)
_MOVE_HEAD = update(LOG_HEAD).where(LOG_HEAD.c.id == HEAD_ID)
_ADD_ENTRIES = insert(LOG)


def _checked_tip(
    connection: Connection,
    signer: LogSigner,
    database_seen: Callable[[str | None], None] | None = None,
) -> Tip:
    """The head, locked, once its signature is found to be `signer`'s."""
    *fields, found = connection.execute(_HEAD_TO_EXTEND).one()
    head = _Head(*fields)
    database = str(found) if found is not None else None
    if database_seen is not None:
        database_seen(database)
    problem = (
        None
        if _own_head(database, head, signer)
        else _signature_problem(database, head, signer.public)
    )
    if problem is not None:
        raise LogHeadUntrusted(
            f"the incident log is not extended: {problem}. Check it with `rrt log verify`; "
            "once it is sound, sign its head again with `rrt log sign-head`"
        )
    assert database is not None
    assert head.signed_from is not None
    return Tip(database, head.signed_from, head.seq, head.hash)


def _own_head(database: str | None, head: _Head, signer: LogSigner) -> bool:
    """Whether the head is the one `signer` signed last, as it signed it."""
    if database is None or head.signature is None or head.signed_from is None:
        return False
    if head.signed_by != signer.fingerprint:
        return False
    try:
        signature = bytes.fromhex(head.signature)
    except ValueError:
        return False
    message = head_message(database, head.signed_from, head.seq, head.hash)
    return signer.signed_last(message, signature)


def records(session: Session, incident_id: str | None = None) -> list[LogRecord]:
    """The log in sequence order, for one incident or all."""
    query = select(*[LOG.c[name] for name in _ENTRY_COLUMNS]).order_by(LOG.c.seq)
    if incident_id is not None:
        query = query.where(LOG.c.incident_id == incident_id)
    return [_record(row) for row in session.connection().execute(query)]


def verify(
    engine: Engine,
    key: LogVerifier | None = None,
    kept: SignedHead | None = None,
    *,
    replay: Collection[str] = frozenset(),
) -> VerifyResult:
    """Walk the whole chain and name the first entry that does not fit; with `key`, check the
    head's signature too; with `kept`, check that the log extends that head, kept elsewhere.
    With `replay`, the result keeps the entries of those kinds (`VerifyResult.replayed`), so
    that checking snapshots against them does not read the log again.

    Without `key` the chain alone is checked, which whoever can write the database can forge.
    """
    with engine.connect() as connection:
        # Holding the head stops appends meanwhile, so rows and head are seen consistently.
        head = _read_head(connection, signed=key is not None, lock=True)
        walked = _walk(connection, head, kept.seq if kept is not None else None, replay)
        if not walked.result.ok:
            return walked.result
        assert head is not None
        checked = walked.result.checked
        database = _database_id(connection) if key is not None else None
        if key is not None:
            problem = _signature_problem(database, head, key)
            if problem is not None:
                return VerifyResult(False, checked, None, problem)
        if kept is not None:
            found = _kept_problem(kept, head, walked.kept_hash, database, key)
            if found is not None:
                return VerifyResult(False, checked, found[0], found[1])
        return walked.result


def signed_head(engine: Engine) -> SignedHead:
    """The current head with its signature, as stored (check it with `verify` first)."""
    with engine.connect() as connection:
        head = _read_head(connection, signed=True, lock=False)
        if head is None:
            raise LookupError("the log head record is missing")
        return SignedHead(
            seq=head.seq,
            hash=head.hash,
            database=_database_id(connection),
            signed_from=head.signed_from,
            key=head.signed_by,
            signature=head.signature,
        )


def sign_head_again(engine: Engine, signer: LogSigner) -> VerifyResult:
    """Sign the current head with `signer` once the chain itself is sound (after a lost key, a
    key change, or tampering that was looked into). Signing begins anew at this entry."""
    with engine.begin() as connection:
        head = _read_head(connection, signed=True, lock=True)
        walked = _walk(connection, head, None, frozenset())
        if not walked.result.ok:
            return walked.result
        assert head is not None
        database = _new_database_id(connection)
        signature, signed_by = _sign(signer, database, head.seq, head.seq, head.hash)
        connection.execute(
            update(LOG_HEAD)
            .where(LOG_HEAD.c.id == HEAD_ID)
            .values(signature=signature, signed_by=signed_by, signed_from=head.seq)
        )
        return walked.result


def sign_first_head(connection: Connection, signer: LogSigner, *, legacy: bool) -> None:
    """In the migration that brings in signatures: sign the head of a new database, or of one
    made by a release before signatures (`legacy`), where signing begins at its last entry.

    Any other unsigned head is left so: a database made with signatures whose head has none was
    tampered with (its entries removed and head reset, or made to look older than it is)."""
    columns = [LOG_HEAD.c[name] for name in ("seq", "hash", "signature")]
    head = connection.execute(select(*columns).where(LOG_HEAD.c.id == HEAD_ID)).first()
    if head is None or head.signature is not None:
        return
    empty = connection.execute(select(LOG.c.seq).limit(1)).first() is None
    if legacy:
        if head.seq > 0:
            logger.warning(
                "the incident log is signed from entry %s on: entries 1 to %s were written "
                "before this release, and are covered by the hash chain alone",
                head.seq,
                head.seq,
            )
    elif not (head.seq == 0 and head.hash == GENESIS_HASH and empty):
        logger.warning(
            "the incident log head is not signed although signatures came with the database: "
            "not signing it. Check the log with `rrt log verify`, then `rrt log sign-head`"
        )
        return
    database = _new_database_id(connection)
    signature, signed_by = _sign(signer, database, head.seq, head.seq, head.hash)
    connection.execute(
        update(LOG_HEAD)
        .where(LOG_HEAD.c.id == HEAD_ID)
        .values(signature=signature, signed_by=signed_by, signed_from=head.seq)
    )


@dataclass(frozen=True)
class _Head:
    seq: int
    hash: str
    signature: str | None = None
    signed_by: str | None = None
    signed_from: int | None = None


@dataclass(frozen=True)
class _Walked:
    result: VerifyResult
    kept_hash: str | None  # the hash of the entry at the kept head's seq, if asked


def _read_head(connection: Connection, *, signed: bool, lock: bool) -> _Head | None:
    # Only the columns needed: a database from before signatures has no signature columns.
    names = ["seq", "hash", *(["signature", "signed_by", "signed_from"] if signed else [])]
    query = select(*[LOG_HEAD.c[name] for name in names]).where(LOG_HEAD.c.id == HEAD_ID)
    if lock:
        query = query.with_for_update(read=True)
    row = connection.execute(query).first()
    if row is None:
        return None
    return _Head(*row)


def _walk(
    connection: Connection, head: _Head | None, kept_seq: int | None, replay: Collection[str]
) -> _Walked:
    expected_seq, checked = 1, 0
    prev_hash, hash_before_prev = GENESIS_HASH, None
    kept_hash = GENESIS_HASH if kept_seq == 0 else None
    replayed: defaultdict[str, list[tuple[str, Any]]] = defaultdict(list)
    for seq, at, incident_id, actor, kind, data, linked, digest in _rows(connection):
        checked += 1
        problem = None
        if seq != expected_seq or linked != prev_hash:  # else it sits where it should
            problem = _link_problem(seq, linked, expected_seq, prev_hash, hash_before_prev)
        if problem is None and not _hashes_to(
            digest, linked, seq, at, incident_id, actor, kind, data
        ):
            problem = seq, "hash mismatch (row edited)"
        if problem is not None:
            bad_seq, message = problem
            return _Walked(VerifyResult(False, checked, bad_seq, message), None)
        if seq == kept_seq:
            kept_hash = digest
        if incident_id is not None and kind in replay:
            replayed[incident_id].append((kind, json.loads(data)))
        expected_seq, prev_hash, hash_before_prev = seq + 1, digest, prev_hash
    result = _check_head(head, last_seq=expected_seq - 1, last_hash=prev_hash, checked=checked)
    if result.ok and replay:
        result = replace(result, replayed=replayed)
    return _Walked(result, kept_hash)


def stored_entry_hash(
    prev_hash: str,
    seq: int,
    stamp: str,
    incident_id: str | None,
    actor: str,
    kind: str,
    data: str,
) -> str:
    """`entry_hash` of an entry whose data is given as the canonical JSON it is stored in: the
    text hashed is put together around it, without parsing it."""
    # `_digest`'s canonical JSON, its keys in sorted order.
    canonical = (
        f'{{"actor":{_json_string(actor)},"at":"{stamp}","data":{data},'
        f'"incident_id":{"null" if incident_id is None else _json_string(incident_id)},'
        f'"kind":{_json_string(kind)},"seq":{seq}}}'
    )
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _hashes_to(
    digest: str,
    prev_hash: str,
    seq: int,
    at: datetime | str,
    incident_id: str | None,
    actor: str,
    kind: str,
    data: str,
) -> bool:
    """Whether a stored entry hashes to `digest`: as stored (data is stored in canonical form),
    else once its data is parsed and put in canonical form (which its hash may still match)."""
    stamp = _stored_stamp(at)
    if stamp is None:
        return False
    if stored_entry_hash(prev_hash, seq, stamp, incident_id, actor, kind, data) == digest:
        return True
    try:
        loaded = json.loads(data)
    except ValueError:
        return False
    return _digest(prev_hash, seq, stamp, incident_id, actor, kind, loaded) == digest


def _signature_problem(database: str | None, head: _Head, key: LogVerifier) -> str | None:
    """What is wrong with the head's signature under `key`, or None when it is valid."""
    if database is None:
        return "the database identity record, which the head signature covers, is missing"
    if head.signature is None or head.signed_from is None:
        if head.seq == 0:
            return (
                "the log is empty and its head is not signed: its entries were removed and "
                "the head reset (or the log was never signed)"
            )
        return "the log head is not signed: its signature was removed (or it was never signed)"
    if head.signed_by is not None and head.signed_by != key.fingerprint:
        return (
            f"the log head is signed by key {head.signed_by}, not by key {key.fingerprint} "
            f"({key.source}): the wrong public key, or the head was signed with another key"
        )
    try:
        signature = bytes.fromhex(head.signature)
    except ValueError:
        return "the log head signature is malformed"
    if key.verifies(head_message(database, head.signed_from, head.seq, head.hash), signature):
        return None
    if head.seq == 0:
        return (
            f"the log is empty but its head signature does not match (key {key.fingerprint}): "
            "its entries were removed and the head reset"
        )
    return (
        f"the log head signature does not match entry {head.seq} (key {key.fingerprint}, "
        f"{key.source}): the log was rewritten or cut short, and its head set without the key"
    )


def _kept_problem(
    kept: SignedHead,
    head: _Head,
    kept_hash: str | None,
    database: str | None,
    key: LogVerifier | None,
) -> tuple[int | None, str] | None:
    """What shows that the log does not extend the head kept elsewhere."""
    if kept.database is not None and database is not None and kept.database != database:
        return None, f"the kept head is of another database ({kept.database}, not {database})"
    if kept.signature is not None and key is not None:
        if kept.key is not None and kept.key != key.fingerprint:
            return None, (
                f"the kept head was signed by key {kept.key}, not by key {key.fingerprint} "
                f"({key.source})"
            )
        if kept.database is None or kept.signed_from is None:
            return None, "the kept head has a signature but lacks db= or from= to check it with"
        try:
            valid = key.verifies(
                head_message(kept.database, kept.signed_from, kept.seq, kept.hash),
                bytes.fromhex(kept.signature),
            )
        except ValueError:
            valid = False
        if not valid:
            return None, (
                f"the kept head's signature does not verify with key {key.fingerprint}: it was "
                "altered or copied wrongly"
            )
    if kept.seq > head.seq:
        return head.seq + 1, (
            f"the log ends at entry {head.seq}, but the kept head names entry {kept.seq}: "
            "entries were removed from the end and the head moved back"
        )
    if kept_hash != kept.hash:
        return kept.seq, (
            f"entry {kept.seq} is not the one in the kept head: the log was rewritten up to there"
        )
    if (
        kept.signed_from is not None
        and head.signed_from is not None
        and kept.signed_from != head.signed_from
    ):
        return head.signed_from, (
            f"signing of this log began anew at entry {head.signed_from} (at entry "
            f"{kept.signed_from} when the head was kept): entries after {kept.seq} may have been "
            "rewritten before that (if `rrt log sign-head` was not run then, the database was "
            "made to look older than it is)"
        )
    return None


def _sign(
    signer: LogSigner, database: str, signed_from: int, seq: int, digest: str
) -> tuple[str, str]:
    """(signature in hex, fingerprint of the key) for a head."""
    signature = signer.sign(head_message(database, signed_from, seq, digest))
    return signature.hex(), signer.fingerprint


def _database_id(connection: Connection) -> str | None:
    """The database's identity token (`storage.identity`), which head signatures cover."""
    found = connection.execute(_DATABASE_ID).scalar()
    return str(found) if found is not None else None


def _new_database_id(connection: Connection) -> str:
    """The identity token, made here when the head of a new database is signed before
    `DatabaseIdentity.of` runs (which then finds it)."""
    found = _database_id(connection)
    if found is not None:
        return found
    token = uuid.uuid4().hex
    connection.execute(insert(KEY_VALUES).values(key=IDENTITY_KEY, value=token))
    return token


def _rows(connection: Connection) -> Iterator[tuple[Any, ...]]:
    """Every log row in order, as plain tuples of `_ENTRY_COLUMNS`, streamed in batches: the
    log may be far larger than memory wants to hold. On SQLite they come from the driver as
    stored, timestamps as text."""
    if connection.dialect.name == "sqlite":
        cursor = connection.connection.cursor()
        try:
            cursor.execute(f"SELECT {', '.join(_ENTRY_COLUMNS)} FROM {LOG.name} ORDER BY seq")
            while batch := cursor.fetchmany(_READ_BATCH):
                yield from batch
        finally:
            cursor.close()
        return
    result = connection.execute(
        select(*(LOG.c[name] for name in _ENTRY_COLUMNS))
        .order_by(LOG.c.seq)
        .execution_options(yield_per=_READ_BATCH)
    )
    for batch in result.partitions():
        yield from batch


def _link_problem(
    seq: int, linked: str, expected_seq: int, prev_hash: str, hash_before_prev: str | None
) -> tuple[int, str] | None:
    """What is wrong with where an entry sits in the chain: its number and the hash it links to."""
    if seq > expected_seq:
        return expected_seq, "entry missing (row deleted)"
    if seq < expected_seq:
        return seq, "unexpected entry number (row inserted)"
    if linked != prev_hash:
        if linked == hash_before_prev:
            # This row still links to the one two back: the entry between them was slipped in.
            return seq - 1, "entry not in the original chain (row inserted)"
        return seq, "previous-hash mismatch (a row before it was deleted, moved or rewritten)"
    return None


def _check_head(head: _Head | None, last_seq: int, last_hash: str, checked: int) -> VerifyResult:
    if head is None:
        return VerifyResult(False, checked, None, "the log head record is missing")
    if head.seq > last_seq:
        return VerifyResult(
            False, checked, last_seq + 1, "entries missing at the end (rows deleted)"
        )
    if head.seq < last_seq:
        return VerifyResult(
            False, checked, head.seq + 1, "entry after the recorded end of the log (row inserted)"
        )
    if head.hash != last_hash:
        return VerifyResult(
            False, checked, last_seq, "last entry differs from the recorded end (row replaced)"
        )
    return VerifyResult(True, checked)


def _record(row: Row[Any]) -> LogRecord:
    return LogRecord(
        seq=row.seq,
        event=LogEvent(
            kind=row.kind,
            actor=row.actor,
            at=from_db(row.at),
            incident_id=row.incident_id,
            data=json.loads(row.data),
        ),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _canonical_json(value: Any) -> str:
    return _CANONICAL(value)
