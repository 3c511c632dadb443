"""The append-only incident log, hash-chained so that any edit, insertion or deletion shows.

Entry n stores the hash of entry n-1 (`prev_hash`; the first entry stores `GENESIS_HASH`) and its
own `hash` = SHA-256 of prev_hash followed by the canonical JSON of (seq, at, incident_id, actor,
kind, data). The `log_head` row keeps the last seq and hash, so that removing entries from the
end is caught as well.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.core.events import LogEvent, LogRecord
from storage.tables import LogHead, LogRow
from storage.timestamps import from_db, to_utc

GENESIS_HASH = "0" * 64
HEAD_ID = 1
_READ_BATCH = 1000


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int  # entries examined
    first_bad_seq: int | None = None
    problem: str = ""


def entry_hash(
    prev_hash: str,
    seq: int,
    at: datetime,
    incident_id: str | None,
    actor: str,
    kind: str,
    data: Mapping[str, Any],
) -> str:
    canonical = _canonical_json(
        {
            "seq": seq,
            "at": to_utc(at).isoformat(timespec="microseconds"),
            "incident_id": incident_id,
            "actor": actor,
            "kind": kind,
            "data": data,
        }
    )
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def append(session: Session, events: Sequence[LogEvent]) -> list[LogRecord]:
    """Append events inside the caller's transaction, which serializes appends by locking the
    head (FOR UPDATE on PostgreSQL; SQLite transactions already hold the write lock)."""
    if not events:
        return []
    head = session.exec(select(LogHead).where(LogHead.id == HEAD_ID).with_for_update()).one()
    seq, prev_hash = head.seq, head.hash
    appended = []
    for event in events:
        seq += 1
        at = to_utc(event.at)
        # Stored and hashed in JSON form, so that what verify re-reads hashes the same.
        data = to_jsonable_python(event.data)
        digest = entry_hash(prev_hash, seq, at, event.incident_id, event.actor, event.kind, data)
        row = LogRow(
            seq=seq,
            at=at,
            incident_id=event.incident_id,
            actor=event.actor,
            kind=event.kind,
            data=_canonical_json(data),
            prev_hash=prev_hash,
            hash=digest,
        )
        session.add(row)
        appended.append(_record(row))
        prev_hash = digest
    head.seq, head.hash = seq, prev_hash
    session.add(head)
    session.flush()
    return appended


def records(session: Session, incident_id: str | None = None) -> list[LogRecord]:
    """The log in sequence order, for one incident or all."""
    query = select(LogRow).order_by(col(LogRow.seq))
    if incident_id is not None:
        query = query.where(LogRow.incident_id == incident_id)
    return [_record(row) for row in session.exec(query)]


def verify(engine: Engine) -> VerifyResult:
    """Walk the whole chain and name the first entry that does not fit."""
    with Session(engine) as session:
        # Holding the head stops appends meanwhile, so rows and head are seen consistently.
        head = session.exec(
            select(LogHead).where(LogHead.id == HEAD_ID).with_for_update(read=True)
        ).first()
        rows = session.exec(
            select(LogRow).order_by(col(LogRow.seq)).execution_options(yield_per=_READ_BATCH)
        )
        expected_seq, checked = 1, 0
        prev_hash, hash_before_prev = GENESIS_HASH, None
        for row in rows:
            checked += 1
            problem = _row_problem(row, expected_seq, prev_hash, hash_before_prev)
            if problem is not None:
                bad_seq, message = problem
                return VerifyResult(False, checked, bad_seq, message)
            expected_seq, prev_hash, hash_before_prev = row.seq + 1, row.hash, prev_hash
        return _check_head(head, last_seq=expected_seq - 1, last_hash=prev_hash, checked=checked)


def _row_problem(
    row: LogRow, expected_seq: int, prev_hash: str, hash_before_prev: str | None
) -> tuple[int, str] | None:
    if row.seq > expected_seq:
        return expected_seq, "entry missing (row deleted)"
    if row.seq < expected_seq:
        return row.seq, "unexpected entry number (row inserted)"
    if row.prev_hash != prev_hash:
        if row.prev_hash == hash_before_prev:
            # This row still links to the one two back: the entry between them was slipped in.
            return row.seq - 1, "entry not in the original chain (row inserted)"
        return row.seq, "previous-hash mismatch (a row before it was deleted, moved or rewritten)"
    digest = entry_hash(
        row.prev_hash,
        row.seq,
        from_db(row.at),
        row.incident_id,
        row.actor,
        row.kind,
        json.loads(row.data),
    )
    if digest != row.hash:
        return row.seq, "hash mismatch (row edited)"
    return None


def _check_head(head: LogHead | None, last_seq: int, last_hash: str, checked: int) -> VerifyResult:
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


def _record(row: LogRow) -> LogRecord:
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
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
