"""One line of plain language per log event, for the timeline and the report."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo

from bot.core.display_time import filing_time, local_time
from bot.core.events import LogEvent


def _when(value: object, zone: tzinfo, shown: Callable[[datetime, tzinfo], str]) -> str:
    """An ISO time from event data, as the rest of the record shows times."""
    try:
        return shown(datetime.fromisoformat(str(value)), zone)
    except ValueError:
        return str(value)


def describe_event(event: LogEvent, names: Mapping[str, str], zone: tzinfo) -> str:
    who = names.get(event.actor, event.actor)
    data = event.data
    subject = names.get(str(data.get("person", "")), str(data.get("person", "")))
    match event.kind:
        case "declared":
            return f"{who} declared “{data.get('title')}” ({data.get('tlp')})"
        case "answered":
            return f"{who} answered {data.get('question')} → {data.get('option')}"
        case "level_proposed":
            return f"triage proposed {data.get('level')}: {data.get('explanation')}"
        case "level_confirmed":
            return f"{who} confirmed {data.get('level')}"
        case "level_set":
            return f"{who} set the level to {data.get('level')} ({data.get('reason')})"
        case "tlp_changed":
            return f"{who} changed TLP {data.get('from_tlp')} → {data.get('to_tlp')}"
        case "state_changed":
            return f"{who} moved the incident to {data.get('to_state')}"
        case "note":
            return f"{who}: {data.get('text')}"
        case "paged" | "page_accepted" | "page_declined" | "page_timed_out":
            verb = event.kind.removeprefix("page_").replace("_", " ")
            return f"{subject} {verb} as {data.get('role')}"
        case "role_filled" | "role_unfilled" | "paging_exhausted":
            what = {
                "role_filled": "filled",
                "role_unfilled": "still unfilled",
                "paging_exhausted": "unfilled; paging stopped",
            }[event.kind]
            return f"role {data.get('role')} {what}"
        case "team_assembled":
            return f"team picked for {data.get('level')}; paging started"
        case "clock_started" | "clock_retimed":
            verb = "started" if event.kind == "clock_started" else "re-timed"
            return (
                f"clock {data.get('clock')} {verb}, due {_when(data.get('due'), zone, filing_time)}"
            )
        case "clock_filed":
            timing = "on time" if data.get("on_time") else "late"
            return f"{who} filed {data.get('clock')} ({timing})"
        case "clock_reminder":
            state = "overdue" if data.get("overdue") else "reminder"
            return f"clock {data.get('clock')}: {state}"
        case "checkin":
            return f"{who} check-in: {data.get('text')}"
        case "checkin_requested" | "checkin_missed":
            due = _when(data.get("due"), zone, local_time)
            return f"check-in {event.kind.removeprefix('checkin_')} (due {due})"
        case "lesson":
            return f"{who} recorded lesson {data.get('number')}: {data.get('text')}"
        case "lesson_done":
            return f"{who} marked lesson {data.get('number')} done"
        case "lesson_reminded":
            return f"{subject} reminded of lesson {data.get('number')}"
        case "exercise_suspended":
            return f"{who} suspended the exercise: REAL WORLD"
        case "report_written":
            paths = data.get("paths") or []
            return "report saved" if paths else f"report not saved ({data.get('where')})"
        case _:
            return f"{who}: {event.kind.replace('_', ' ')}"
