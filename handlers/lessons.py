"""`lesson` and `lessons`: lessons learned with an owner and a due date, reminded when due."""

from __future__ import annotations

from bot.core.commands import AddLesson, LessonDone, Simple
from bot.core.incident import Incident
from bot.core.lessons import Lesson, find, next_number
from bot.core.roster import Person
from bot.core.store import Timer
from handlers.context import Context, Refusal, Services
from handlers.direct import direct
from handlers.team_flow import bot_event, why_not_cleared
from handlers.timer_sync import sync_timers


def lesson_line(services: Services, lesson: Lesson) -> str:
    owner = services.name(lesson.owner) if lesson.owner else "no owner"
    due = f"due {lesson.due.isoformat()}" if lesson.due else "no due date"
    return f"{lesson.number}. {lesson.text} · {owner} · {due} · {lesson.state}"


def _owner(ctx: Context, incident: Incident, name: str) -> Person:
    roster = ctx.services.roster
    platform = ctx.inbound.platform
    person = (
        roster.by_name(name)
        or roster.by_handle(platform, name)
        or roster.by_handle(platform, f"@{name}")
    )
    if person is None:
        raise Refusal(f"No one on the roster is called `{name[:40]}` (use an id or full name).")
    refusal = why_not_cleared(ctx.services, incident, person)
    if refusal is not None:  # the owner is reminded of the lesson, and must be let in to read it
        raise Refusal(f"{refusal} A lesson's owner must be able to see it: name someone who can.")
    return person


def _event_data(lesson: Lesson) -> dict[str, object]:
    """What the log keeps of a lesson; `id` and `done` are what the annual evaluation counts."""
    return {
        "id": str(lesson.number),
        "number": lesson.number,
        "text": lesson.text,
        "owner": lesson.owner,
        "due": lesson.due.isoformat() if lesson.due else None,
        "done": not lesson.is_open,
    }


async def lesson(ctx: Context, command: AddLesson | LessonDone) -> None:
    """lesson <text> [owner @person] [due YYYY-MM-DD]

    Record a lesson learned; `lesson done <n>` marks lesson n done.
    An open lesson's owner is reminded by direct message on its due day, also after closing.
    """
    incident = ctx.require_incident()
    if isinstance(command, LessonDone):
        await _done(ctx, incident, command.number)
        return
    owner = _owner(ctx, incident, command.owner) if command.owner else None
    added = Lesson(
        number=next_number(incident.lessons),
        text=command.text,
        added_by=ctx.person.id,
        added_at=ctx.now,
        owner=owner.id if owner else None,
        due=command.due,
    )
    incident.lessons.append(added)
    ctx.services.store.save(incident, [ctx.event("lesson", **_event_data(added))])
    sync_timers(ctx.services, incident)
    await ctx.reply(f"Lesson recorded:\n{lesson_line(ctx.services, added)}")


async def _done(ctx: Context, incident: Incident, number: int) -> None:
    found = find(incident.lessons, number)
    if found is None:
        raise Refusal(f"There is no lesson {number}. See `lessons`.")
    if not found.is_open:
        raise Refusal(f"Lesson {number} is already done.")
    found.done_at, found.done_by = ctx.now, ctx.person.id
    ctx.services.store.save(incident, [ctx.event("lesson_done", **_event_data(found))])
    sync_timers(ctx.services, incident)  # no reminder for a lesson that is done
    await ctx.reply(f"Lesson {number} done, by {ctx.person.name}.")


async def lessons(ctx: Context, command: Simple) -> None:
    """lessons

    List the lessons learned: owner, due date, open or done.
    """
    incident = ctx.require_incident()
    if not incident.lessons:
        await ctx.reply("No lessons learned yet. Add one with `lesson <text>`.")
        return
    lines = [lesson_line(ctx.services, found) for found in incident.lessons]
    await ctx.reply(f"Lessons learned of {incident.id}:\n" + "\n".join(lines))


async def remind_lesson(services: Services, incident: Incident, timer: Timer, note: str) -> None:
    found = find(incident.lessons, int(timer.key))
    if found is None or found.owner is None or found.remind_at != timer.due_at:
        return  # done, or re-planned meanwhile
    text = (
        f"⏰ Lesson {found.number} of {incident.label} is due today: {found.text}\n"
        f"When it is done, say `lesson done {found.number}` in the war room.{note}"
    )
    delivered = await direct(services, incident, found.owner, text)
    event = bot_event(
        services,
        incident,
        "lesson_reminded",
        number=found.number,
        person=found.owner,
        delivered=delivered,
    )
    services.store.append([event])
