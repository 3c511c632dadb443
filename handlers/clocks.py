"""Regulatory clocks (policy §6): started by the Q14 answers from T0, reminded, filed."""

from __future__ import annotations

from datetime import datetime, tzinfo

from bot.core.commands import Filed, Simple
from bot.core.events import LogEvent
from bot.core.incident import Incident
from bot.core.regclocks import Clock, Duty, DutyAnswer, DutyAnswers, file, reconcile
from bot.core.store import Timer
from handlers.context import Context, Refusal, Services
from handlers.headline import deadline, simulated, when
from handlers.team_flow import bot_event
from handlers.timer_sync import sync_timers
from handlers.warroom import announce, refresh

DUTY_QUESTIONS = {
    "Q14a": Duty.NIS2_SIGNIFICANT,
    "Q14b": Duty.PERSONAL_DATA_BREACH,
    "Q14c": Duty.DORA_FINANCIAL_ENTITY,
    "Q14d": Duty.TRUST_SERVICE_PROVIDER,
}
_ANSWERS: dict[str, DutyAnswer] = {"yes": "yes", "no": "no", "unknown": "unknown"}


def duty_answers(incident: Incident) -> DutyAnswers:
    found: DutyAnswers = {}
    for question, duty in DUTY_QUESTIONS.items():
        answer = incident.answers.get(question)
        if answer is not None and answer.option in _ANSWERS:
            found[duty] = _ANSWERS[answer.option]
    return found


def reconcile_clocks(services: Services, incident: Incident, actor: str) -> list[LogEvent]:
    """Start, re-time or drop clocks after a Q14 answer or a new T0."""
    answers = duty_answers(incident)
    if not answers:
        return []
    now = services.clock.now()
    before = {clock.id: clock for clock in incident.clocks}
    incident.clocks = reconcile(
        services.rules.regulatory, incident.clocks, answers, t0=incident.t0, now=now
    )
    events = []
    for clock in incident.clocks:
        old = before.get(clock.id)
        if old is None:
            kind = "clock_started"
        elif old.running and clock.dropped_at is not None:
            kind = "clock_dropped"
        elif old.due != clock.due or (not old.running and clock.running):
            kind = "clock_retimed"
        else:
            continue
        events.append(
            LogEvent(
                kind=kind,
                actor=actor,
                at=now,
                incident_id=incident.id,
                data={"clock": clock.id, "due": clock.due.isoformat()},
            )
        )
    return events


def _find(incident: Incident, name: str) -> Clock | None:
    wanted = name.strip().lower().replace("-", "_")
    for clock in incident.clocks:
        if wanted in (clock.id, clock.title.lower().replace(" ", "_")):
            return clock
    prefixed = [c for c in incident.clocks if c.id.startswith(wanted)]
    return prefixed[0] if len(prefixed) == 1 else None


async def remind(services: Services, incident: Incident, timer: Timer, note: str) -> None:
    clock_id, _, tag = timer.key.partition("/")
    clock = next((c for c in incident.clocks if c.id == clock_id), None)
    if clock is None or not clock.running:
        return
    overdue = tag == "overdue"
    event = bot_event(services, incident, "clock_reminder", clock=clock.id, overdue=overdue)
    services.store.save(incident, [event])
    at = deadline(clock.due, services.display_zone)
    then = f"was due {at}" if overdue else f"due in {tag}, at {at}"
    state = "is overdue" if overdue else "reminder"
    title = clock.title + simulated(incident)
    text = f"⏰ {title} {state} ({then}). When filed, say `filed {clock.id}`."
    await announce(services, incident, text + note)


async def filed(ctx: Context, command: Filed) -> None:
    """filed <clock>

    Record that a regulatory report was filed; stops its clock and starts the next one.
    """
    incident = ctx.require_incident()
    clock = _find(incident, command.clock)
    if clock is None:
        names = ", ".join(c.id for c in incident.clocks) or "none running"
        raise Refusal(f"No clock `{command.clock[:40]}`. Clocks: {names}.")
    if clock.filed_at is not None:
        at = when(clock.filed_at, ctx.services.display_zone)
        raise Refusal(f"{clock.title} was already filed at {at}.")
    if not clock.running:
        raise Refusal(f"{clock.title} is not running: its duty was answered `no`.")
    present = {c.id for c in incident.clocks}
    incident.clocks = file(
        ctx.services.rules.regulatory, incident.clocks, clock.id, ctx.now, duty_answers(incident)
    )
    on_time = ctx.now <= clock.due
    events = [ctx.event("clock_filed", clock=clock.id, on_time=on_time)]
    said = f"{clock.title} filed by {ctx.person.name} ({'on time' if on_time else 'late'})."
    for started in incident.clocks:
        if started.id not in present:
            events.append(ctx.event("clock_started", clock=started.id, due=started.due.isoformat()))
            said += f" {started.title} now due {deadline(started.due, ctx.services.display_zone)}."
    ctx.services.store.save(incident, events)
    sync_timers(ctx.services, incident)
    await ctx.reply(said)
    await refresh(ctx.services, incident)


def clock_line(clock: Clock, zone: tzinfo, now: datetime) -> str:
    if clock.filed_at is not None:
        state = f"filed {when(clock.filed_at, zone)} ({'on time' if clock.on_time else 'late'})"
    elif clock.dropped_at is not None:
        state = "not required"
    else:
        state = "overdue — not filed" if clock.due <= now else "running"
    return f"{clock.title} (`{clock.id}`) · due {deadline(clock.due, zone)} · {state}"


async def clocks(ctx: Context, command: Simple) -> None:
    """clocks

    List the regulatory clocks: due, filed, on time.
    """
    incident = ctx.require_incident()
    if not incident.clocks:
        await ctx.reply("No regulatory clock runs (they start from the Q14 answers).")
        return
    lines = [clock_line(clock, ctx.services.display_zone, ctx.now) for clock in incident.clocks]
    heading = f"Regulatory clocks of {incident.id}{simulated(incident)}:"
    await ctx.reply(heading + "\n" + "\n".join(lines))


async def announce_started(services: Services, incident: Incident, events: list[LogEvent]) -> None:
    started = [e.data["clock"] for e in events if e.kind == "clock_started"]
    clocks_ = [c for c in incident.clocks if c.id in started]
    if clocks_:
        now = services.clock.now()
        lines = [
            f"• {c.title}: due {deadline(c.due, services.display_zone)}"
            f"{' — already overdue' if c.due <= now else ''}"
            for c in clocks_
        ]
        heading = f"Regulatory clocks started{simulated(incident)}:"
        await announce(services, incident, heading + "\n" + "\n".join(lines))
