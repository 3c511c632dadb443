"""A seeded year of incidents for the evaluation tests, built directly as Incidents and logs.

Each case states its facts in minutes after declaration, so the expected figures in
test_evaluation.py can be worked out by hand from this file alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.events import LogEvent, LogRecord
from bot.core.incident import Incident
from bot.core.levels import Level
from bot.core.tlp import TLP
from bot.reporting.evaluation import Case

ORGS = {"ann": "cert", "ben": "cert", "cis": "police", "dan": "ministry"}  # "zed" is unknown
AS_OF = datetime(2026, 4, 1, tzinfo=UTC)


@dataclass
class Log:
    start: datetime
    records: list[LogRecord] = field(default_factory=list)

    def add(self, minutes: float, kind: str, actor: str = "bot", **data: Any) -> Log:
        at = self.start + timedelta(minutes=minutes)
        event = LogEvent(kind=kind, actor=actor, at=at, data=data)
        seq = len(self.records) + 1
        self.records.append(LogRecord(seq=seq, event=event, prev_hash="0" * 64, hash=f"{seq:064x}"))
        return self

    def page(self, person: str, minutes: float, *, accepted_after: float | None) -> Log:
        self.add(minutes, "paged", person=person, role="analyst")
        if accepted_after is not None:
            self.add(
                minutes + accepted_after, "page_accepted", person, person=person, role="analyst"
            )
        return self

    def clock(self, name: str, due_hours: float, filed_hours: float | None = None) -> Log:
        due = self.start + timedelta(hours=due_hours)
        self.add(1, "clock_started", clock=name, due=due.isoformat())
        if filed_hours is not None:
            self.add(
                filed_hours * 60, "clock_filed", "ann", clock=name, on_time=filed_hours <= due_hours
            )
        return self


def incident(
    number: int,
    declared: datetime,
    *,
    level: Level | None,
    confirmed: bool = True,
    tlp: TLP = TLP.AMBER,
    exercise: bool = False,
    title: str | None = None,
) -> Incident:
    return Incident(
        id=f"INC-{declared.year}-{number:04d}",
        title=title or f"Incident {number}",
        org="cert",
        declared_by="ann",
        declared_at=declared,
        t0=declared,
        tlp=tlp,
        is_exercise=exercise,
        confirmed_level=level if confirmed else None,
        proposed_level=level,
    )


def timed(start: datetime, triage: float | None, team: float | None) -> Log:
    """A log with the declaration, the confirmed level at `triage` and the last role at `team`."""
    log = Log(start).add(0, "declared", "ann")
    if triage is not None:
        log.add(triage, "level_confirmed", "ann")
    if team is not None:
        log.add(team, "role_filled", role="analyst")
    return log


def day(month: int, day_of_month: int, year: int = 2026) -> datetime:
    return datetime(year, month, day_of_month, 9, 0, tzinfo=UTC)


def sorted_records(log: Log) -> list[LogRecord]:
    """Records in time order, as the store returns them."""
    ordered = sorted(log.records, key=lambda record: record.event.at)
    return [record.model_copy(update={"seq": seq}) for seq, record in enumerate(ordered, 1)]


def seeded_cases() -> list[Case]:
    cases: list[tuple[Incident, Log]] = []

    def real(n: int, when: datetime, level: Level | None, log: Log, **kw: Any) -> None:
        cases.append((incident(n, when, level=level, **kw), log))

    # Real incidents of 2026.
    r1 = timed(day(1, 5), 10, 20).page("ann", 1, accepted_after=4)
    r1.add(120, "checkin_requested").add(125, "checkin", "ann")
    real(1, day(1, 5), Level.L1, r1)

    r2 = (
        timed(day(1, 20), 30, 60).page("ann", 1, accepted_after=2).page("cis", 1, accepted_after=10)
    )
    r2.add(120, "checkin_requested").add(130, "checkin", "ann")
    r2.add(240, "checkin_requested").add(270, "checkin_missed")
    r2.clock("nis2_early_warning", due_hours=24, filed_hours=23)
    real(2, day(1, 20), Level.L2, r2)

    r3 = timed(day(2, 3), 20, 40).page("ben", 2, accepted_after=6)
    r3.clock("gdpr_breach", due_hours=72, filed_hours=80)
    real(3, day(2, 3), Level.L1, r3)

    r4 = (
        timed(day(3, 10), 50, 90).page("ann", 1, accepted_after=8).page("dan", 2, accepted_after=20)
    )
    r4.clock("nis2_early_warning", due_hours=24, filed_hours=24)  # filed at the due time: on time
    r4.clock("dora_initial", due_hours=4).add(30, "clock_dropped", clock="dora_initial")
    r4.clock("gdpr_breach", due_hours=48)  # unfiled, overdue by AS_OF: late
    r4.clock("nis2_final", due_hours=24 * 30)  # unfiled, due after AS_OF: not yet counted
    real(4, day(3, 10), Level.L2, r4)

    r5 = timed(day(3, 15), 5, 15).page("cis", 1, accepted_after=3)
    r5.add(
        600, "lesson", "ann", id="a", text="Rotate keys", owner="ann", due="2026-04-01", done=False
    )
    r5.add(
        601, "lesson", "ann", id="b", text="Patch VPN", owner="ben", due="2026-04-01", done=False
    )
    r5.add(602, "lesson", "ann", id="c", text="Call list", owner="ben", due="2026-04-01", done=True)
    real(5, day(3, 15), Level.L3, r5, tlp=TLP.RED, title="Operation Nightjar")

    r6 = timed(day(4, 2), 15, 35).page("zed", 1, accepted_after=7)
    r6.page("ann", 1, accepted_after=None).add(
        5, "page_declined", "ann", person="ann", role="analyst"
    )
    r6.page("ben", 1, accepted_after=None).add(16, "page_timed_out", person="ben", role="analyst")
    real(6, day(4, 2), Level.L3, r6)

    real(7, day(6, 8), Level.L1, Log(day(6, 8)).add(0, "declared", "ann"), confirmed=False)
    real(8, day(6, 20), None, Log(day(6, 20)).add(0, "declared", "ann"))

    # Other years: left out.
    real(9, day(12, 30, 2025), Level.L3, timed(day(12, 30, 2025), 1, 2))
    real(1, day(1, 2, 2027), Level.L3, timed(day(1, 2, 2027), 1, 2))

    # Exercises of 2026.
    e1 = timed(day(2, 10), 12, 24).page("ann", 1, accepted_after=5)
    e1.add(
        300, "lesson", "ann", id="x", text="Drill more", owner="ann", due="2026-05-01", done=False
    )
    e1.add(400, "lesson_done", "ann", id="x", text="Drill more", owner="ann", done=True)
    e1.add(401, "lesson", "ann", text="Shorter pages", owner="cis", due="2026-05-01")
    real(10, day(2, 10), Level.L1, e1, exercise=True)

    e2 = timed(day(5, 4), 40, 80).page("cis", 1, accepted_after=9)
    e2.add(120, "checkin_requested").add(150, "checkin_missed").add(155, "checkin", "ann")
    e2.clock("nis2_early_warning", due_hours=24, filed_hours=10)
    real(11, day(5, 4), Level.L2, e2, exercise=True)

    e3 = timed(day(5, 18), 20, 30)
    real(12, day(5, 18), Level.L2, e3, exercise=True, tlp=TLP.AMBER_STRICT, title="Drill Kestrel")

    e4 = timed(day(9, 1), 25, 50)
    real(13, day(9, 1), Level.L3, e4, exercise=True, tlp=TLP.RED, title="Drill Osprey")
    return [(inc, sorted_records(log)) for inc, log in cases]
