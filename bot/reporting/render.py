"""Render the incident report as Markdown and as a self-contained HTML page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.events import LogRecord
from bot.core.incident import Incident
from bot.reporting.metrics import Metrics, compute
from bot.reporting.templating import ENV

TLP_COLOURS = {  # FIRST TLP 2.0 colours: text on black
    "TLP:RED": "#FF2B2B",
    "TLP:AMBER+STRICT": "#FFC000",
    "TLP:AMBER": "#FFC000",
    "TLP:GREEN": "#33FF00",
    "TLP:CLEAR": "#FFFFFF",
}


@dataclass(frozen=True, slots=True)
class Report:
    filename_stem: str
    markdown: str
    html: str


def _team(
    records: Sequence[LogRecord], names: Mapping[str, tuple[str, str]]
) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        event = record.event
        person, role = event.data.get("person"), event.data.get("role")
        if not isinstance(person, str) or not isinstance(role, str):
            continue
        name, org = names.get(person, (person, ""))
        row = rows.setdefault(
            (person, role),
            {"role": role, "person": name, "org": org, "paged": None, "acked": None, "state": ""},
        )
        if event.kind == "paged":
            row["paged"], row["state"] = event.at, "paged"
        elif event.kind == "page_accepted":
            row["acked"], row["state"] = event.at, "accepted"
        elif event.kind in ("page_declined", "page_timed_out", "released"):
            row["state"] = event.kind.removeprefix("page_").replace("_", " ")
    return list(rows.values())


def _lessons(
    records: Sequence[LogRecord], names: Mapping[str, tuple[str, str]]
) -> list[dict[str, Any]]:
    """Each lesson once, as last recorded: `lesson_done` marks it done."""
    rows: dict[str, dict[str, Any]] = {}
    for record in _of_kind(records, "lesson", "lesson_done"):
        data = record.event.data
        owner = data.get("owner")
        rows[str(data.get("id", data.get("text")))] = {
            "number": data.get("number", len(rows) + 1),
            "text": data.get("text", ""),
            "owner": names.get(owner, (owner, ""))[0] if isinstance(owner, str) else "—",
            "due": data.get("due") or "—",
            "state": "done" if record.event.kind == "lesson_done" or data.get("done") else "open",
        }
    return list(rows.values())


def _of_kind(records: Sequence[LogRecord], *kinds: str) -> list[LogRecord]:
    return [r for r in records if r.event.kind in kinds]


def context(
    incident: Incident, records: Sequence[LogRecord], names: Mapping[str, tuple[str, str]]
) -> dict[str, Any]:
    metrics: Metrics = compute(records)
    return {
        "incident": incident,
        "tlp": incident.tlp.value,
        "tlp_colour": TLP_COLOURS[incident.tlp.value],
        "exercise": incident.is_exercise,
        "levels": _of_kind(records, "level_proposed", "level_confirmed", "level_set"),
        "team": _team(records, names),
        "clocks": _of_kind(records, "clock_started", "clock_filed", "clock_reminder"),
        "checkins": _of_kind(records, "checkin_requested", "checkin", "checkin_missed"),
        "lessons": _lessons(records, names),
        "timeline": list(records),
        "metrics": metrics,
        "names": {pid: name for pid, (name, _org) in names.items()},
    }


def render(
    incident: Incident, records: Sequence[LogRecord], names: Mapping[str, tuple[str, str]]
) -> Report:
    values = context(incident, records, names)
    stem = f"{incident.id}-report" + ("-EXERCISE" if incident.is_exercise else "")
    return Report(
        filename_stem=stem,
        markdown=ENV.get_template("report.md.j2").render(values),
        html=ENV.get_template("report.html.j2").render(values),
    )
