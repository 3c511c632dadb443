"""The annual evaluation (policy §8): figures per year, real and exercise apart, per level.

Everything is computed from (incident, log) pairs; nothing here renders or reads storage.
TLP:RED incidents count in every figure, but their titles are never carried out of here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.core.events import LogRecord
from bot.core.incident import Incident
from bot.core.tlp import TLP
from bot.reporting.checkins import summarise_checkins
from bot.reporting.evaluation_stats import Spread, spread
from bot.reporting.metrics import accepted_pages, compute

LEVELS = ("L1", "L2", "L3")
UNSET = "unset"  # declared, but no level proposed yet
ALL = "all"
NOT_IN_ROSTER = "not in roster"

Case = tuple[Incident, Sequence[LogRecord]]


@dataclass(frozen=True, slots=True)
class Ratio:
    done: int
    total: int

    @property
    def share(self) -> float | None:
        return self.done / self.total if self.total else None

    def __add__(self, other: Ratio) -> Ratio:
        return Ratio(self.done + other.done, self.total + other.total)


@dataclass(frozen=True, slots=True)
class Facts:
    """What one incident contributes to the figures."""

    level: str
    month: int
    time_to_triage: timedelta | None
    time_to_team: timedelta | None  # None when not assembled
    team_not_assembled: bool  # a role the team needed was never filled
    ack_latencies: list[tuple[str, timedelta]]  # (organisation, page → acceptance)
    checkins: Ratio  # answered / requested
    reports: Ratio  # filed on time / due
    open_lessons: int


@dataclass(frozen=True, slots=True)
class Figures:
    incidents: int
    time_to_triage: Spread
    time_to_team: Spread  # of the incidents whose team was assembled
    team_not_assembled: int  # incidents left out of time_to_team: a role was never filled
    ack_latency_by_org: dict[str, Spread]
    checkins: Ratio
    reports_on_time: Ratio
    open_lessons: int


@dataclass(frozen=True, slots=True)
class Listed:
    id: str
    month: int
    level: str
    tlp: TLP
    title: str | None  # None for TLP:RED


@dataclass(frozen=True, slots=True)
class Section:
    exercise: bool
    per_month: dict[str, list[int]]  # level -> incidents declared in each month, Jan..Dec
    by_level: dict[str, Figures]  # L1..L3, `unset` when any, then `all`
    incidents: list[Listed]


@dataclass(frozen=True, slots=True)
class Evaluation:
    year: int
    as_of: datetime  # clocks due by then and still unfiled count as late
    real: Section
    exercise: Section
    tlp: TLP  # the most restricted label among the titles shown

    @property
    def sections(self) -> tuple[Section, Section]:
        return (self.real, self.exercise)


def person_ack_latencies(records: Sequence[LogRecord]) -> list[tuple[str, timedelta]]:
    """(person, time from page to acceptance) for every accepted page."""
    return [(person, latency) for person, _role, latency in accepted_pages(records)]


def checkin_adherence(records: Sequence[LogRecord]) -> Ratio:
    """A request is answered by a check-in before the grace ends (`checkin_missed`) and before
    the next request; check-ins nobody asked for are not counted."""
    summary = summarise_checkins(records)
    return Ratio(summary.answered, summary.requested)


def _due(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def reports_on_time(records: Sequence[LogRecord], as_of: datetime) -> Ratio:
    """Regulatory reports filed at or before their due time, out of those filed or overdue at
    `as_of`; a dropped clock asks for no report."""
    due: dict[str, datetime | None] = {}
    dropped: set[str] = set()
    filed: dict[str, datetime] = {}
    for record in records:
        event = record.event
        clock = event.data.get("clock")
        if not isinstance(clock, str):
            continue
        if event.kind in ("clock_started", "clock_retimed"):
            due[clock] = _due(event.data.get("due"))
            dropped.discard(clock)
        elif event.kind == "clock_dropped":
            dropped.add(clock)
        elif event.kind == "clock_filed":
            filed.setdefault(clock, event.at)
    on_time = total = 0
    for clock, deadline in due.items():
        if clock in dropped or deadline is None:
            continue
        if clock in filed:
            total += 1
            on_time += filed[clock] <= deadline
        elif deadline <= as_of:
            total += 1
    return Ratio(on_time, total)


def open_lessons(records: Sequence[LogRecord]) -> int:
    """Lessons whose latest entry (`lesson`, then `lesson_done`) is not done; a lesson is known
    by its id, else its text."""
    done: dict[str, bool] = {}
    for record in records:
        event = record.event
        if event.kind not in ("lesson", "lesson_done"):
            continue
        key = event.data.get("id", event.data.get("text"))
        done[str(key)] = bool(event.data.get("done", False))
    return sum(not finished for finished in done.values())


def level_of(incident: Incident) -> str:
    return incident.level.value if incident.level else UNSET


def facts(
    incident: Incident, records: Sequence[LogRecord], orgs: Mapping[str, str], as_of: datetime
) -> Facts:
    metrics = compute(records)
    return Facts(
        level=level_of(incident),
        month=incident.declared_at.astimezone(UTC).month,
        time_to_triage=metrics.time_to_triage,
        time_to_team=metrics.time_to_team,
        team_not_assembled=bool(metrics.never_filled),
        ack_latencies=[
            (orgs.get(person, NOT_IN_ROSTER), latency)
            for person, latency in person_ack_latencies(records)
        ],
        checkins=checkin_adherence(records),
        reports=reports_on_time(records, as_of),
        open_lessons=open_lessons(records),
    )


def figures(group: Sequence[Facts]) -> Figures:
    by_org: dict[str, list[timedelta]] = defaultdict(list)
    for item in group:
        for org, latency in item.ack_latencies:
            by_org[org].append(latency)
    return Figures(
        incidents=len(group),
        time_to_triage=spread(f.time_to_triage for f in group if f.time_to_triage is not None),
        time_to_team=spread(f.time_to_team for f in group if f.time_to_team is not None),
        team_not_assembled=sum(f.team_not_assembled for f in group),
        ack_latency_by_org={org: spread(values) for org, values in sorted(by_org.items())},
        checkins=sum((f.checkins for f in group), Ratio(0, 0)),
        reports_on_time=sum((f.reports for f in group), Ratio(0, 0)),
        open_lessons=sum(f.open_lessons for f in group),
    )


def listed(incident: Incident) -> Listed:
    return Listed(
        id=incident.id,
        month=incident.declared_at.astimezone(UTC).month,
        level=level_of(incident),
        tlp=incident.tlp,
        title=None if incident.tlp is TLP.RED else incident.title,
    )


def section(
    cases: Sequence[Case], orgs: Mapping[str, str], as_of: datetime, *, exercise: bool
) -> Section:
    mine = sorted(
        (case for case in cases if case[0].is_exercise is exercise), key=lambda c: c[0].id
    )
    found = [facts(incident, records, orgs, as_of) for incident, records in mine]
    levels = [*LEVELS, *([UNSET] if any(f.level == UNSET for f in found) else [])]
    per_month = {level: [0] * 12 for level in levels}
    for item in found:
        per_month[item.level][item.month - 1] += 1
    by_level = {level: figures([f for f in found if f.level == level]) for level in levels}
    by_level[ALL] = figures(found)
    return Section(
        exercise=exercise,
        per_month=per_month,
        by_level=by_level,
        incidents=[listed(incident) for incident, _ in mine],
    )


def document_tlp(incidents: Iterable[Listed]) -> TLP:
    shown = [item.tlp for item in incidents if item.title is not None]
    return max(shown, key=lambda label: label.rank, default=TLP.CLEAR)


def evaluate(
    year: int, cases: Iterable[Case], orgs: Mapping[str, str], as_of: datetime
) -> Evaluation:
    """The evaluation of `year` from every incident's log; `orgs` maps person id to
    organisation. Incidents declared in other years are left out."""
    of_year = [case for case in cases if case[0].declared_at.astimezone(UTC).year == year]
    real = section(of_year, orgs, as_of, exercise=False)
    drill = section(of_year, orgs, as_of, exercise=True)
    return Evaluation(
        year=year,
        as_of=as_of,
        real=real,
        exercise=drill,
        tlp=document_tlp([*real.incidents, *drill.incidents]),
    )
