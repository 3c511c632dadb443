"""Checking every stored incident snapshot against what its log says."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from sqlalchemy import Engine, select

from bot.core.incident import Incident
from bot.core.projection import KINDS, replay, stored
from storage.tables import IncidentRow, LogRow, table_of

_READ_BATCH = 1000


def snapshot_differences(engine: Engine) -> list[str]:
    """One line per incident whose snapshot disagrees with its log, naming what differs."""
    log = table_of(LogRow)
    incidents = table_of(IncidentRow)
    # One pass over the log, reading only the entries the projection replays.
    entries = (
        select(log.c.incident_id, log.c.kind, log.c.data)
        .where(log.c.incident_id.is_not(None), log.c.kind.in_(sorted(KINDS)))
        .order_by(log.c.seq)
        .execution_options(yield_per=_READ_BATCH)
    )
    found = []
    with engine.connect() as connection:
        by_incident: dict[str, list[tuple[str, Any]]] = defaultdict(list)
        for incident_id, kind, data in connection.execute(entries):
            by_incident[incident_id].append((kind, json.loads(data)))
        snapshots = select(incidents.c.id, incidents.c.snapshot).order_by(incidents.c.id)
        for incident_id, snapshot in connection.execute(snapshots):
            says = replay(by_incident[incident_id])
            differs = stored(Incident.model_validate_json(snapshot)).differences(says)
            if differs:
                found.append(
                    f"{incident_id}: the stored snapshot differs from its log ("
                    + "; ".join(differs)
                    + ", snapshot ≠ log)"
                )
    return found
