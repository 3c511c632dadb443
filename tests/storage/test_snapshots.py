"""`rrt log verify` rebuilds each incident from its log and names a snapshot edited behind it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from bot.core.events import LogEvent
from bot.core.incident import Answer, Incident
from bot.core.tlp import TLP
from storage.db import database_url_for_path
from storage.sql_store import open_store
from storage.verify_cli import verify_report
from tests.storage.conftest import START

INC = "INC-2026-0001"


def recorded(tmp_path: Path) -> str:
    url = database_url_for_path(tmp_path / "rrt.db")
    store = open_store(url)
    incident = Incident(
        id=INC,
        title="Minister's mailbox",
        org="cert",
        declared_by="alice",
        declared_at=START,
        t0=START,
        state_since=START,
    )
    store.save(incident, [event("declared", tlp="TLP:AMBER")])
    incident.tlp = TLP.RED
    incident.answers["Q3"] = Answer(question="Q3", option="essential", author="bob", at=START)
    store.save(
        incident,
        [
            event("tlp_changed", from_tlp="TLP:AMBER", to_tlp="TLP:RED"),
            event("answered", question="Q3", option="essential"),
        ],
    )
    store.close()
    return url


def event(kind: str, **data: object) -> LogEvent:
    return LogEvent(kind=kind, actor="alice", at=START, incident_id=INC, data=data)


def test_snapshots_that_match_their_log_verify(tmp_path: Path) -> None:
    ok, message = verify_report(recorded(tmp_path))
    assert ok, message


def test_a_label_lowered_in_the_snapshot_alone_is_named(tmp_path: Path) -> None:
    url = recorded(tmp_path)
    store = open_store(url)
    with store.engine.begin() as connection:
        connection.execute(
            text("UPDATE incidents SET snapshot = replace(snapshot, 'TLP:RED', 'TLP:CLEAR')")
        )
    store.close()

    ok, message = verify_report(url)
    assert not ok
    assert message == (
        "snapshot TAMPERED: INC-2026-0001: the stored snapshot differs from its log "
        "(tlp: TLP:CLEAR ≠ TLP:RED, snapshot ≠ log)"
    )
