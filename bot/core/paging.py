"""Paging and escalation (policy §4), as data in and decisions out.

Every function takes the paging state and returns a new state plus the decisions the runtime
must carry out (send a page, alert the war room, ...); the input state is never changed. Acks
are per person and per role.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.core.durations import Duration
from bot.core.levels import Level
from bot.core.team import RoleAssignment


class PagingRule(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key must not pass unnoticed

    ack_timeout: Duration
    parallel: bool  # page every role at once, or one role after the other
    escalate_to_duty_contact: bool  # after the last backup, the organisation's duty contact
    alert_unfilled: bool  # tell the war room when a cycle ends with the role unfilled
    max_cycles: int = Field(default=3, ge=1)


class PageStatus(StrEnum):
    PAGED = "paged"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"  # withdrawn: the role filled, the person released, or closing


class Page(BaseModel):
    person_id: str
    role: str
    paged_at: datetime
    deadline: datetime
    cycle: int
    duty_contact: bool = False
    status: PageStatus = PageStatus.PAGED
    answered_at: datetime | None = None


class PagePerson(BaseModel):
    kind: Literal["page"] = "page"
    page: Page


class CancelPage(BaseModel):
    kind: Literal["cancel"] = "cancel"
    page: Page
    reason: Literal["filled", "closed"] = "filled"


class RoleFilled(BaseModel):
    kind: Literal["filled"] = "filled"
    role: str
    people: list[str]


class AlertUnfilled(BaseModel):
    kind: Literal["unfilled"] = "unfilled"
    role: str
    missing: int
    cycle: int


class Exhausted(BaseModel):
    """Paging for the role stopped after the last cycle; the war room is told."""

    kind: Literal["exhausted"] = "exhausted"
    role: str
    missing: int


class NotNeeded(BaseModel):
    """An answer that came too late: the role is already filled."""

    kind: Literal["not_needed"] = "not_needed"
    role: str
    person_id: str


Decision = Annotated[
    PagePerson | CancelPage | RoleFilled | AlertUnfilled | Exhausted | NotNeeded,
    Field(discriminator="kind"),
]


class RolePaging(BaseModel):
    role: str
    needed: int = Field(ge=1)
    candidates: list[str]  # picks first, then backups, in rank order
    duty_contacts: list[str] = Field(default_factory=list)
    pages: list[Page] = Field(default_factory=list)
    started: bool = False
    cycle: int = 1
    cursor: int = 0  # next candidate to page in this cycle
    contact_cursor: int = 0
    exhausted: bool = False

    @property
    def accepted(self) -> list[str]:
        return [p.person_id for p in self.pages if p.status is PageStatus.ACCEPTED]

    @property
    def pending(self) -> list[Page]:
        return [p for p in self.pages if p.status is PageStatus.PAGED]

    @property
    def held(self) -> int:
        """Places taken: accepted, or with a page out."""
        return len(self.accepted) + len(self.pending)

    @property
    def open_slots(self) -> int:
        return self.needed - self.held

    @property
    def filled(self) -> bool:
        return len(self.accepted) >= self.needed

    @property
    def settled(self) -> bool:
        return self.filled or self.exhausted

    @classmethod
    def of(cls, assignment: RoleAssignment) -> RolePaging:
        """Page a role as team assembly proposed it: picks, then backups, then duty contacts."""
        ranked = [c.person_id for c in assignment.picks + assignment.backups]
        return cls(
            role=assignment.role,
            needed=assignment.needed,
            candidates=ranked,
            duty_contacts=assignment.duty_contacts,
        )

    def declined(self, person_id: str) -> bool:
        return any(p.person_id == person_id and p.status is PageStatus.DECLINED for p in self.pages)


class TeamPaging(BaseModel):
    level: Level
    roles: list[RolePaging] = Field(default_factory=list)

    def role(self, role: str) -> RolePaging | None:
        return next((r for r in self.roles if r.role == role), None)

    def busy(self) -> set[str]:
        """People accepted for, or being paged for, any role."""
        return {
            p.person_id
            for r in self.roles
            for p in r.pages
            if p.status in (PageStatus.PAGED, PageStatus.ACCEPTED)
        }

    def pending(self) -> list[Page]:
        return [page for r in self.roles for page in r.pending]

    def next_deadline(self) -> datetime | None:
        return min((page.deadline for page in self.pending()), default=None)

    def due(self, now: datetime) -> list[Page]:
        """Open pages whose ack deadline has passed: each needs `timeout`."""
        return [page for page in self.pending() if page.deadline <= now]


def _pageable(state: RolePaging, person_id: str, busy: Collection[str]) -> bool:
    return person_id not in busy and not state.declined(person_id)


def _page(
    state: RolePaging, person_id: str, rule: PagingRule, now: datetime, duty: bool
) -> PagePerson:
    page = Page(
        person_id=person_id,
        role=state.role,
        paged_at=now,
        deadline=now + rule.ack_timeout,
        cycle=state.cycle,
        duty_contact=duty,
    )
    state.pages.append(page)
    return PagePerson(page=page)


def _reserved(team: TeamPaging, state: RolePaging, busy: Collection[str]) -> set[str]:
    """People another unfilled role of the team counts on: those it will page next for its
    open slots (its picks, before it starts), and its only candidate left."""
    kept: set[str] = set()
    for other in team.roles:
        if other is state or other.settled:
            continue
        callable_ = [p for p in dict.fromkeys(other.candidates) if _pageable(other, p, busy)]
        kept.update(callable_[: max(other.open_slots, 0)] if len(callable_) > 1 else callable_)
    return kept


def _next_in_cycle(
    team: TeamPaging, state: RolePaging, rule: PagingRule, busy: Collection[str]
) -> tuple[str, bool] | None:
    """The next person to page in this cycle: backups, then duty contacts, in rank order.

    A coordinator does not want the only police liaison taken as a forensics backup: someone
    another unfilled role counts on is passed over, and paged only in the last cycle (or when
    nobody else is left for this role), after everyone else.
    """
    kept = _reserved(team, state, busy)
    while state.cursor < len(state.candidates):
        person_id = state.candidates[state.cursor]
        state.cursor += 1
        if person_id not in kept and _pageable(state, person_id, busy):
            return person_id, False
    while rule.escalate_to_duty_contact and state.contact_cursor < len(state.duty_contacts):
        person_id = state.duty_contacts[state.contact_cursor]
        state.contact_cursor += 1
        if person_id not in kept and _pageable(state, person_id, busy):
            return person_id, True
    if state.cycle < rule.max_cycles and _anyone_left(state, rule, {*busy, *kept}):
        return None  # the next cycle has someone else to call
    paged_now = {p.person_id for p in state.pages if p.cycle == state.cycle}
    contacts = state.duty_contacts if rule.escalate_to_duty_contact else []
    for person_id in [*state.candidates, *contacts]:
        if person_id in kept and person_id not in paged_now and _pageable(state, person_id, busy):
            return person_id, person_id not in state.candidates
    return None


def _anyone_left(state: RolePaging, rule: PagingRule, busy: Collection[str]) -> bool:
    contacts = state.duty_contacts if rule.escalate_to_duty_contact else []
    return any(_pageable(state, p, busy) for p in [*state.candidates, *contacts])


def _refill(
    team: TeamPaging, state: RolePaging, rule: PagingRule, now: datetime, busy: set[str]
) -> list[Decision]:
    """Page until every open slot has a page out, moving through backups, duty contacts, cycles."""
    decisions: list[Decision] = []
    while not state.exhausted and state.open_slots > 0:
        chosen = _next_in_cycle(team, state, rule, busy)
        if chosen is not None:
            busy.add(chosen[0])
            decisions.append(_page(state, chosen[0], rule, now, chosen[1]))
            continue
        if state.pending:
            break  # the cycle ends only when its last page is answered
        missing = state.needed - len(state.accepted)
        if state.cycle >= rule.max_cycles or not _anyone_left(state, rule, busy):
            state.exhausted = True
            decisions.append(Exhausted(role=state.role, missing=missing))
            break
        if rule.alert_unfilled:
            decisions.append(AlertUnfilled(role=state.role, missing=missing, cycle=state.cycle))
        state.cycle += 1
        state.cursor = state.contact_cursor = 0
    return decisions


def next_up(team: TeamPaging, role: str, rule: PagingRule, now: datetime) -> list[str]:
    """Who paging calls for the role's open slots when its turn comes: what it would page
    now, worked out on a copy, so that someone another role counts on is not named."""
    trial = team.model_copy(deep=True)
    state = trial.role(role)
    if state is None:
        return []
    decisions = _refill(trial, state, rule, now, trial.busy())
    return [d.page.person_id for d in decisions if isinstance(d, PagePerson)]


def _advance(team: TeamPaging, rule: PagingRule, now: datetime) -> list[Decision]:
    """Start the roles whose turn it is: all at once, or the first unsettled one."""
    decisions: list[Decision] = []
    for state in team.roles:
        if not state.started:
            if not rule.parallel and any(r.started and not r.settled for r in team.roles):
                break
            state.started = True
            decisions.extend(_refill(team, state, rule, now, team.busy()))
        if not rule.parallel and not state.settled:
            break
    return decisions


def start(
    team: TeamPaging, roles: list[RolePaging], rule: PagingRule, now: datetime
) -> tuple[TeamPaging, list[Decision]]:
    """Add roles to page (at assembly, or when a higher level adds missing ones) and page."""
    updated = team.model_copy(deep=True)
    updated.roles.extend(role.model_copy(deep=True) for role in roles)
    return updated, _advance(updated, rule, now)


def _close(team: TeamPaging, role: str, person_id: str) -> tuple[RolePaging, Page] | None:
    state = team.role(role)
    if state is None:
        return None
    page = next((p for p in reversed(state.pages) if p.person_id == person_id), None)
    return (state, page) if page is not None else None


def answer(
    team: TeamPaging, rule: PagingRule, *, role: str, person_id: str, accepted: bool, now: datetime
) -> tuple[TeamPaging, list[Decision]]:
    """A paged person accepts or declines; a late acceptance still counts while a slot is open."""
    updated = team.model_copy(deep=True)
    found = _close(updated, role, person_id)
    if found is None:
        return team, []
    state, page = found
    decisions: list[Decision] = []
    if page.status is not PageStatus.PAGED:
        if not accepted or page.status is PageStatus.ACCEPTED:
            return team, []
        if state.filled:
            return team, [NotNeeded(role=role, person_id=person_id)]
    page.status = PageStatus.ACCEPTED if accepted else PageStatus.DECLINED
    page.answered_at = now
    if state.filled:
        for other in state.pending:
            other.status = PageStatus.CANCELLED
            other.answered_at = now
            decisions.append(CancelPage(page=other))
        state.exhausted = False
        decisions.append(RoleFilled(role=role, people=state.accepted))
        return updated, [*decisions, *_advance(updated, rule, now)]
    was_settled = state.settled
    if not state.exhausted:
        decisions.extend(_refill(updated, state, rule, now, updated.busy()))
    if state.settled and not was_settled:
        decisions.extend(_advance(updated, rule, now))
    return updated, decisions


def timeout(
    team: TeamPaging, rule: PagingRule, *, role: str, person_id: str, now: datetime
) -> tuple[TeamPaging, list[Decision]]:
    """The ack deadline passed; a stale timer (already answered, or early) changes nothing."""
    found = _close(team, role, person_id)
    if found is None or found[1].status is not PageStatus.PAGED or found[1].deadline > now:
        return team, []
    updated = team.model_copy(deep=True)
    state, page = _close(updated, role, person_id) or found  # always found again in the copy
    page.status = PageStatus.TIMED_OUT
    page.answered_at = now
    decisions = _refill(updated, state, rule, now, updated.busy())
    if state.settled:
        decisions.extend(_advance(updated, rule, now))
    return updated, decisions


def withdraw_all(team: TeamPaging, now: datetime) -> tuple[TeamPaging, list[Decision]]:
    """The incident is closed: every open page is withdrawn (its person is told)."""
    updated = team.model_copy(deep=True)
    decisions: list[Decision] = []
    for state in updated.roles:
        for page in state.pending:
            page.status = PageStatus.CANCELLED
            page.answered_at = now
            decisions.append(CancelPage(page=page, reason="closed"))
    return updated, decisions
