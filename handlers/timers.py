"""Firing a due timer by its kind (the runtime claims it, in the same unit of work)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.core.incident import Incident
from bot.core.paging import timeout
from bot.core.store import LATE_AFTER, Timer, TimerKey
from handlers.checkins import checkin_missed, request_checkin
from handlers.clocks import remind
from handlers.context import Services
from handlers.lessons import remind_lesson
from handlers.team_flow import bot_event, carry_out, paging_rule
from handlers.timer_sync import (
    ACK,
    AFTER_CLOSING,
    CHECKIN,
    CHECKIN_GRACE,
    CLOCK,
    LESSON,
    changes,
)
from handlers.warroom import announce

LATE_NOTE = " (late: the bot was offline)"

Fire = Callable[[Services, Incident, Timer, str], Awaitable[None]]


async def ack_timed_out(services: Services, incident: Incident, timer: Timer, note: str) -> None:
    role, person_id, _paged_at = timer.key.split("/", 2)
    if incident.team is None:
        return
    now = services.clock.now()
    team, decisions = timeout(
        incident.team, paging_rule(services, incident), role=role, person_id=person_id, now=now
    )
    if team is incident.team:
        return  # answered meanwhile
    incident.team = team
    event = bot_event(
        services, incident, "page_timed_out", person=person_id, role=role, late=bool(note)
    )
    await announce(
        services,
        incident,
        f"No answer from {services.name(person_id)} as {role} in time; paging on.{note}",
    )
    await carry_out(services, incident, decisions, [event])


FIRES: dict[str, Fire] = {
    ACK: ack_timed_out,
    CHECKIN: request_checkin,
    CHECKIN_GRACE: checkin_missed,
    CLOCK: remind,
    LESSON: remind_lesson,
}


async def fire(services: Services, timer: Timer, now: datetime) -> None:
    """Carry out a claimed timer, inside its unit of work."""
    incident = services.store.get(timer.incident_id)
    if incident is None or not (incident.is_open or timer.kind in AFTER_CLOSING):
        return
    late = now - timer.due_at > LATE_AFTER
    await FIRES[timer.kind](services, incident, timer, LATE_NOTE if late else "")


def rebuild(services: Services) -> None:
    """At start: make the timers table match every open incident (the snapshots are the truth).

    One read of the pending timers and one write of what changed, however many incidents."""
    pending: dict[str, list[Timer]] = defaultdict(list)
    for timer in services.timers.all_pending_timers():
        pending[timer.incident_id].append(timer)
    cancel: list[TimerKey] = []
    schedule: list[tuple[TimerKey, datetime]] = []
    for incident in services.store.open_incidents():
        stale, missing = changes(services, incident, pending[incident.id])
        cancel.extend(TimerKey(incident.id, kind, key) for kind, key in stale)
        schedule.extend((TimerKey(incident.id, t.kind, t.key), t.due_at) for t in missing)
    services.timers.change_timers(cancel, schedule)
    if services.on_timers_changed is not None:
        services.on_timers_changed()
