"""Which timers an incident needs now, kept in step with the timers table.

The incident snapshot decides: every open page has an ack deadline, a running check-in plan a
due time and a grace end, every running clock its reminders (also after closing: a report is
due until filed), every open lesson with an owner and a due date its reminder (also after
closing). A suspended exercise keeps only the lessons.
Syncing after each save adds the missing rows and drops the pending ones that no longer apply;
a fired row is never added again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.core.cadence import grace_ends, next_due
from bot.core.durations import format_duration
from bot.core.incident import Incident
from bot.core.lifecycle import State
from bot.core.regclocks import reminders
from bot.core.store import Timer
from handlers.context import Services

ACK = "ack"
CHECKIN = "checkin"
CHECKIN_GRACE = "checkin_grace"
CLOCK = "clock"
LESSON = "lesson"
# Lessons learned are mostly due after closing, and regulatory reports often are (policy §7).
AFTER_CLOSING = (LESSON, CLOCK)
CHECKIN_STATES = (State.RESPONSE, State.CONTAINED)


@dataclass(frozen=True, slots=True)
class Wanted:
    kind: str
    key: str
    due_at: datetime


def ack_key(role: str, person_id: str, paged_at: datetime) -> str:
    return f"{role}/{person_id}/{paged_at.isoformat()}"


def wanted(services: Services, incident: Incident) -> set[Wanted]:
    found = {
        Wanted(LESSON, str(lesson.number), lesson.remind_at)
        for lesson in incident.lessons
        if lesson.remind_at is not None
    }
    if incident.exercise_suspended_at is not None:
        return found
    for clock in incident.clocks:
        if clock.running:
            for reminder in reminders(clock, services.rules.regulatory.remind_before):
                before = reminder.before
                tag = "overdue" if reminder.overdue or before is None else format_duration(before)
                found.add(Wanted(CLOCK, f"{clock.id}/{tag}", reminder.at))
    if not incident.is_open:
        return found
    if incident.team is not None:
        for page in incident.team.pending():
            key = ack_key(page.role, page.person_id, page.paged_at)
            found.add(Wanted(ACK, key, page.deadline))
    plan = incident.checkins
    if plan is not None and incident.state in CHECKIN_STATES:
        rule = services.rules.cadence[plan.level]
        found.add(Wanted(CHECKIN, "slot", next_due(plan, rule)))
        found.add(Wanted(CHECKIN_GRACE, "slot", grace_ends(plan, rule)))
    return found


def changes(
    services: Services, incident: Incident, pending: Iterable[Timer]
) -> tuple[list[tuple[str, str]], list[Wanted]]:
    """What syncing the incident does to its `pending` timers: the (kind, key) pairs to cancel,
    and the timers to schedule, in the order to schedule them."""
    now = services.clock.now()
    wanted_now = wanted(services, incident)
    pending_now = {Wanted(t.kind, t.key, t.due_at) for t in pending}
    stale = {(w.kind, w.key) for w in pending_now - wanted_now}
    # A cancel drops every pending timer of its kind and key, wanted ones too.
    kept = {w for w in pending_now if (w.kind, w.key) not in stale}
    # In a fixed order: timers due together then fire in the same order in every process.
    missing = sorted(wanted_now - kept, key=lambda w: (w.due_at, w.kind, w.key))
    # A reminder already past when its clock starts is not sent late; the start says so.
    return sorted(stale), [w for w in missing if not (w.kind == CLOCK and w.due_at <= now)]


def sync_timers(services: Services, incident: Incident) -> None:
    """Make the pending timers of the incident match what its snapshot needs."""
    timers = services.timers
    stale, missing = changes(services, incident, timers.pending_timers(incident.id))
    for kind, key in stale:
        timers.cancel(incident.id, kind, key)
    for timer in missing:
        timers.schedule(incident.id, timer.kind, timer.key, timer.due_at)
    if services.on_timers_changed is not None:
        services.on_timers_changed()
