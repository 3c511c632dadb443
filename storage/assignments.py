"""Who is busy in which open incident, kept in the `assignments` table with the snapshots."""

from __future__ import annotations

from collections.abc import Set

from sqlalchemy import Connection, delete, insert

from bot.core.incident import Incident
from storage.tables import AssignmentRow, table_of


def busy(incident: Incident) -> frozenset[str]:
    """The people an incident keeps busy: paged for or holding a role while it is open."""
    if not incident.is_open or incident.team is None:
        return frozenset()
    return frozenset(incident.team.busy())


def write(
    connection: Connection, incident_id: str, people: Set[str], before: Set[str] | None = None
) -> None:
    """Make the incident's rows name `people`; `before`, when known, is what they name now."""
    if before is not None and before == people:
        return
    table = table_of(AssignmentRow)
    if before is None or before - people:
        connection.execute(delete(table).where(table.c.incident_id == incident_id))
        before = frozenset()
    added = [
        {"incident_id": incident_id, "person_id": person} for person in sorted(people - before)
    ]
    if added:
        connection.execute(insert(table), added)
