"""Checking every stored incident snapshot against what its log says."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.core.events import LogRecord
from bot.core.incident import Incident
from bot.core.projection import project, stored
from storage import log
from storage.tables import IncidentRow


def snapshot_differences(engine: Engine) -> list[str]:
    """One line per incident whose snapshot disagrees with its log, naming what differs."""
    found = []
    with Session(engine) as session:
        by_incident: dict[str | None, list[LogRecord]] = defaultdict(list)
        for record in log.records(session):  # one pass over the log, not one per incident
            by_incident[record.event.incident_id].append(record)
        for row in session.exec(select(IncidentRow).order_by(col(IncidentRow.id))):
            incident = Incident.model_validate_json(row.snapshot)
            says = project(by_incident[row.id])
            differs = stored(incident).differences(says)
            if differs:
                found.append(
                    f"{row.id}: the stored snapshot differs from its log ("
                    + "; ".join(differs)
                    + ", snapshot ≠ log)"
                )
    return found
