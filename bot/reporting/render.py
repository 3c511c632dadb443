"""Render the incident report as Markdown and as a self-contained HTML page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from bot.core.display_time import local_time
from bot.core.events import LogRecord
from bot.core.incident import Incident
from bot.core.regclocks import Clock
from bot.core.tlp import TLP
from bot.reporting.checkins import CHECKIN_KINDS, summarise_checkins
from bot.reporting.metrics import Metrics, compute, duration
from bot.reporting.templating import environment

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


@dataclass(frozen=True, slots=True)
class Stamp:
    """When the report was made and from which log head, so a printed copy can be checked
    against the signed log; and the zone its times are shown in."""

    made_at: datetime
    log_entry: int
    log_hash: str
    zone: tzinfo = UTC


def _team(
    records: Sequence[LogRecord], names: Mapping[str, tuple[str, str]], orgs: Mapping[str, str]
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
            {
                "role": role,
                "person": name,
                "org": orgs.get(org, org),
                "paged": None,
                "acked": None,
                "state": "",
            },
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


def clock_row(clock: Clock, stamp: Stamp) -> dict[str, Any]:
    """An unfiled notice past its due time is marked late, not left blank."""
    if clock.filed_at is not None:
        filed, on_time = local_time(clock.filed_at, stamp.zone), "yes" if clock.on_time else "no"
    elif clock.dropped_at is not None:
        filed, on_time = "dropped", "—"
    elif clock.due <= stamp.made_at:
        filed, on_time = "overdue — not filed", "no"
    else:
        filed, on_time = "not filed", "—"
    return {"title": clock.title, "due": clock.due, "filed": filed, "on_time": on_time}


def shared_with(incident: Incident, orgs: Mapping[str, str]) -> str | None:
    """The organisations named on the incident, which TLP:AMBER admits besides the owner."""
    if incident.tlp is not TLP.AMBER and not incident.named_orgs:
        return None
    named = ", ".join(orgs.get(org, org) for org in incident.named_orgs)
    text = named or "no other organisation"
    if incident.tlp is not TLP.AMBER:
        text += f" (not admitted under {incident.tlp.value})"
    return text


def team_time(metrics: Metrics) -> str:
    """Only a team whose every role was filled was assembled; otherwise say which were not."""
    if metrics.never_filled:
        return f"not assembled (roles never filled: {', '.join(metrics.never_filled)})"
    return duration(metrics.time_to_team)


def context(
    incident: Incident,
    records: Sequence[LogRecord],
    names: Mapping[str, tuple[str, str]],
    orgs: Mapping[str, str],
    stamp: Stamp,
) -> dict[str, Any]:
    metrics: Metrics = compute(records)
    return {
        "incident": incident,
        "tlp": incident.tlp.value,
        "tlp_colour": TLP_COLOURS[incident.tlp.value],
        "exercise": incident.is_exercise,
        "organisation": orgs.get(incident.org, incident.org),
        "shared_with": shared_with(incident, orgs),
        "levels": _of_kind(records, "level_proposed", "level_confirmed", "level_set"),
        "team": _team(records, names, orgs),
        "clocks": _of_kind(records, "clock_started", "clock_filed", "clock_reminder"),
        "clock_rows": [clock_row(clock, stamp) for clock in incident.clocks],
        "checkins": summarise_checkins(records),
        "lessons": _lessons(records, names),
        # Check-ins are summarised in their own section; listing each again would bury the rest.
        "timeline": [r for r in records if r.event.kind not in CHECKIN_KINDS],
        "metrics": metrics,
        "team_time": team_time(metrics),
        "names": {pid: name for pid, (name, _org) in names.items()},
        "zone": stamp.zone,
        "stamp": stamp,
    }


def render(
    incident: Incident,
    records: Sequence[LogRecord],
    names: Mapping[str, tuple[str, str]],
    orgs: Mapping[str, str],
    stamp: Stamp,
) -> Report:
    """`names`: person id → (name, organisation id); `orgs`: organisation id → name."""
    values = context(incident, records, names, orgs, stamp)
    stem = f"{incident.id}-report" + ("-EXERCISE" if incident.is_exercise else "")
    return Report(
        filename_stem=stem,
        markdown=environment().get_template("report.md.j2").render(values),
        html=environment().get_template("report.html.j2").render(values),
    )
