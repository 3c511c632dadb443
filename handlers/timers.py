"""Firing due timers: each is claimed once, then handled by its kind."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.core.incident import Incident
from bot.core.paging import timeout
from bot.core.store import LATE_AFTER, Timer, TimerAlreadyFired
from handlers.checkins import checkin_missed, request_checkin
from handlers.clocks import remind
from handlers.context import Services, log
from handlers.lessons import remind_lesson
from handlers.team_flow import bot_event, carry_out, paging_rule
from handlers.timer_sync import (
    ACK,
    AFTER_CLOSING,
    CHECKIN,
    CHECKIN_GRACE,
    CLOCK,
    LESSON,
    sync_timers,
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


async def fire_due(services: Services, now: datetime | None = None) -> list[Timer]:
    """Fire every timer due by `now`, each exactly once; returns those this call fired.

    A timer is marked fired by the first write of its effect, in the same transaction: a
    crash before that write leaves it pending, and it fires after the restart, marked late.
    """
    moment = now or services.clock.now()
    fired: list[Timer] = []
    for timer in services.timers.due(moment):
        late = moment - timer.due_at > LATE_AFTER
        incident = services.store.get(timer.incident_id)
        with services.timers.claiming(timer, moment) as claim:
            if incident is not None and (incident.is_open or timer.kind in AFTER_CLOSING):
                try:
                    await FIRES[timer.kind](services, incident, timer, LATE_NOTE if late else "")
                except TimerAlreadyFired:
                    pass  # another process fired it; nothing of ours was written
                except Exception:
                    log.exception(
                        "%s: timer %s %s failed", timer.incident_id, timer.kind, timer.key
                    )
        if claim.won:
            fired.append(timer)
    return fired


def rebuild(services: Services) -> None:
    """At start: make the timers table match every open incident (the snapshots are the truth)."""
    for incident in services.store.open_incidents():
        sync_timers(services, incident)
