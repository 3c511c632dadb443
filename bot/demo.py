"""`rrt demo`: a ransomware incident at a hospital, played through the real handlers.

It runs on the console platform with a simulated clock and leaves its SQLite database behind,
so that `rrt log verify` can check the record.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot, build
from bot.core.clock import FakeClock
from config.settings import Settings

START = datetime(2026, 11, 30, 8, 10, tzinfo=UTC)  # a Monday morning in Brussels

COORDINATOR = "anna-peeters"
ANALYSTS = ("sofie-janssens", "thomas-wouters")

# (analyst index, question, how it is answered, option) — three ways to answer a prompt.
TRIAGE = [
    (0, "Q1", "click", "Malicious code"),
    (1, "Q2", "say", "answer Q2 2026-11-30T07:45"),
    (0, "Q3", "react", "4️⃣"),
    (1, "Q4", "reply", "5"),
    (0, "Q5", "click", "Critical-system data or core credentials"),
    (1, "Q6", "click", "Directory / management"),
    (0, "Q7", "reply", "4"),
    (1, "Q8", "click", "Criminal or hacktivist"),
    (0, "Q9", "click", "One organisation"),
    (1, "Q10", "click", "No"),
    (0, "Q11", "click", "Extended"),
    (1, "Q12", "click", "Possible"),
    (0, "Q13", "click", "National media"),
    (1, "Q14a", "click", "Yes"),
    (0, "Q14b", "click", "Yes"),
    (1, "Q14c", "click", "No"),
    (0, "Q14d", "click", "No"),
]

# How the paged people answer, in the order they are paged; everyone after accepts.
ANSWERS = ["decline", "accept", "accept", "timeout"]
TICK = timedelta(minutes=5)


async def wait(bot: Bot, clock: FakeClock, span: timedelta) -> None:
    """Let time pass, firing each timer when it falls due (not later: it would say so)."""
    end = clock.now() + span
    while clock.now() < end:
        due = bot.store.next_due_at()
        step = min(TICK, end - clock.now())
        if due is not None and clock.now() < due < clock.now() + step:
            step = due - clock.now()
        clock.advance(step)
        await bot.scheduler.fire_due()


async def answer_page(console: ConsolePlatform, person_id: str, label: str) -> None:
    room = console.direct_room(person_id)
    assert room is not None, f"{person_id} was never paged"
    page = next(m for m in reversed(room.messages) if m.buttons)
    await console.click(person_id, page.id, label)


async def answer_pages(bot: Bot, console: ConsolePlatform, clock: FakeClock, incident: str) -> None:
    """Work through the pages as they come: one decline, one timeout, the rest accept."""
    script = list(ANSWERS)
    for _ in range(40):
        current = bot.store.get(incident)
        pending = current.team.pending() if current and current.team else []
        if not pending:
            return
        page = pending[0]
        action = script.pop(0) if script else "accept"
        clock.advance(timedelta(minutes=2))
        if action == "timeout":
            await wait(bot, clock, page.deadline - clock.now())
        else:
            await answer_page(console, page.person_id, action.title())


def _fresh(db: Path) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)


async def run_demo(settings: Settings, db: Path) -> str:
    """Play the incident and return its transcript."""
    _fresh(db)
    clock = FakeClock(START)
    bot = build(settings.model_copy(update={"database_url": f"sqlite:///{db}"}), clock=clock)
    bot.services.reports_dir = None  # the demo leaves only its log; the report is posted in chat
    console = ConsolePlatform(on_inbound=bot.dispatcher)
    bot.attach(console)
    try:
        await console.say(
            COORDINATOR, console.lobby, "declare Ransomware at Riverside Hospital Group"
        )
        room = console.room_by_name("inc-").id
        incident = bot.store.open_incidents()[0].id
        clock.advance(timedelta(minutes=1))
        await answer_page(console, COORDINATOR, "Accept")
        for who, _question, how, what in TRIAGE:
            clock.advance(timedelta(minutes=2))
            analyst = ANALYSTS[who]
            prompt = next(m for m in reversed(console.rooms[room].messages) if m.buttons)
            if how == "click":
                await console.click(analyst, prompt.id, what)
            elif how == "react":
                await console.react(analyst, prompt.id, what)
            elif how == "reply":
                await console.say(analyst, room, what, reply_to=prompt.id)
            else:
                await console.say(analyst, room, what)
        clock.advance(timedelta(minutes=3))
        await console.say(COORDINATOR, room, "confirm")
        # Under TLP:AMBER only the owning organisation sees the incident until it names others.
        await console.say(COORDINATOR, room, "share fccu health-authority riverside-hospitals")
        await answer_pages(bot, console, clock, incident)
        await console.say(COORDINATOR, room, "team")
        await console.say(ANALYSTS[0], room, "note Encryptor found on 40 servers; backups intact.")
        await wait(bot, clock, timedelta(hours=2) - (clock.now() - START) + timedelta(minutes=40))
        await console.say(
            COORDINATOR,
            room,
            "update Conditions: 40 servers encrypted, spread stopped. "
            "Actions: restoring from backups. Needs: a second forensic analyst.",
        )
        await wait(bot, clock, timedelta(hours=3))  # the next check-in goes unanswered
        await console.say(COORDINATOR, room, "filed nis2_early_warning")
        await console.say(COORDINATOR, room, "clocks")
        await console.say(COORDINATOR, room, "contain")
        clock.advance(timedelta(days=1))
        # Within 72 hours of T0; the NIS2 final report is then due a month later.
        await console.say(COORDINATOR, room, "filed nis2_notification")
        await console.say(COORDINATOR, room, "filed gdpr_breach")
        clock.advance(timedelta(days=1))
        await console.say(COORDINATOR, room, "resolve")
        clock.advance(timedelta(days=1))
        await console.say(COORDINATOR, room, "timeline")
        await console.say(COORDINATOR, room, "close")  # lists the final report, still to file
        prompt = next(m for m in reversed(console.rooms[room].messages) if m.buttons)
        await console.click(COORDINATOR, prompt.id, "Close anyway")
    finally:
        bot.close()
    return console.text()
