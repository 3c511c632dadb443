"""The live headline of a war room and the room topic, rendered from the incident."""

from __future__ import annotations

from datetime import datetime, tzinfo

from bot.core.display_time import filing_time, local_time
from bot.core.incident import Incident
from bot.core.regclocks import next_deadline

EXERCISE_MARK = "EXERCISE"


def marked(incident: Incident, text: str) -> str:
    """Every message of an exercise says so (policy §8); marking twice changes nothing."""
    if not incident.is_exercise or text.startswith(f"[{EXERCISE_MARK}]"):
        return text
    return f"[{EXERCISE_MARK}] {text}"


def simulated(incident: Incident) -> str:
    """An exercise's regulatory clocks are simulated: nothing is really due."""
    return " (simulated)" if incident.is_exercise else ""


def when(moment: datetime, zone: tzinfo) -> str:
    return local_time(moment, zone)


def deadline(moment: datetime, zone: tzinfo) -> str:
    """A regulatory deadline: local time, then UTC (in which filings are made)."""
    return filing_time(moment, zone)


def level_text(incident: Incident) -> str:
    if incident.confirmed_level is not None:
        return f"{incident.confirmed_level.value} ({incident.confirmed_level.title})"
    if incident.proposed_level is not None:
        return f"{incident.proposed_level.value} proposed, awaiting confirmation"
    return "pending triage"


def severity_text(incident: Incident) -> str:
    if incident.score is None or incident.band is None:
        return "pending triage"
    so_far = " so far" if incident.proposed_level is None else ""  # scored questions still open
    return f"{incident.band} ({incident.score:.1f}){so_far}"


def team_text(incident: Incident) -> str | None:
    team = incident.team
    if team is None and not incident.proposals:
        return None
    roles = team.roles if team else []
    waiting = [p for p in incident.proposals if team is None or team.role(p.role) is None]
    filled = sum(min(len(r.accepted), r.needed) for r in roles)
    needed = sum(r.needed for r in roles) + sum(p.needed for p in waiting)
    paging = sum(len(r.pending) for r in roles)
    unfilled = [r.role for r in roles if not r.filled and not r.pending]
    text = f"Team {filled}/{needed} filled · {paging} being paged"
    if unfilled:
        text += " · unfilled: " + ", ".join(unfilled)
    if waiting:
        text += f" · {len(waiting)} role(s) awaiting approval"
    return text


def deadline_text(incident: Incident, zone: tzinfo) -> str | None:
    clock = next_deadline(incident.clocks)
    if clock is None:
        return None
    return f"Next deadline: {clock.title} due {deadline(clock.due, zone)}{simulated(incident)}"


def headline(incident: Incident, zone: tzinfo, extra_lines: tuple[str, ...] = ()) -> str:
    lines = [
        f"🚨 {incident.id} · {incident.title}",
        f"{incident.tlp.value} · Level {level_text(incident)} · Severity {severity_text(incident)}"
        f" · State {incident.state.value}",
        f"T0 {when(incident.t0, zone)} · declared {when(incident.declared_at, zone)}",
    ]
    if incident.police_liaison_required:
        lines.append("Police liaison required: legal investigation integrated from the start.")
    lines.extend(line for line in (team_text(incident), deadline_text(incident, zone)) if line)
    if incident.exercise_suspended_at is not None:
        suspended = when(incident.exercise_suspended_at, zone)
        lines.append(f"REAL WORLD: exercise suspended {suspended}.")
    lines.extend(extra_lines)
    return "\n".join(lines)


def topic(incident: Incident) -> str:
    level = incident.level.value if incident.level else "triage"
    severity = incident.band or "pending"
    return f"{incident.tlp.value} · {level} · {severity} · {incident.state.value}"
