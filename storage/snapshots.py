"""Checking every stored incident snapshot against what its log says."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, select

from bot.core.incident import Incident
from bot.core.projection import replay, stored
from storage.core_tables import INCIDENTS


def snapshot_differences(
    engine: Engine, replayed: Mapping[str, list[tuple[str, Any]]]
) -> list[str]:
    """One line per incident whose snapshot disagrees with its log, naming what differs.

    `replayed` holds each incident's entries of the kinds the projection replays, in log order
    (`VerifyResult.replayed` of `verify(..., replay=KINDS)`, which read them from the log)."""
    found = []
    snapshots = select(INCIDENTS.c.id, INCIDENTS.c.snapshot).order_by(INCIDENTS.c.id)
    with engine.connect() as connection:
        for incident_id, snapshot in connection.execute(snapshots):
            says = replay(replayed.get(incident_id, []))
            differs = stored(Incident.model_validate_json(snapshot)).differences(says)
            if differs:
                found.append(
                    f"{incident_id}: the stored snapshot differs from its log ("
                    + "; ".join(differs)
                    + ", snapshot ≠ log)"
                )
    return found
