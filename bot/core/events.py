"""Incident log events: what happened, who did it, when. The log is their hash-chained record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class LogEvent(BaseModel):
    """One event to append to the incident log (storage adds sequence and hashes)."""

    model_config = ConfigDict(frozen=True)

    kind: str  # e.g. "declared", "answered", "level_proposed", "state_changed", "note"
    actor: str  # roster person id, or "bot"
    at: datetime  # UTC, from the injected clock
    incident_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class LogRecord(BaseModel):
    """An event as stored: with its sequence number and the hash chain."""

    model_config = ConfigDict(frozen=True)

    seq: int
    event: LogEvent
    prev_hash: str
    hash: str
