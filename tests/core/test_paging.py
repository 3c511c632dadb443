from datetime import timedelta

from bot.core.clock import FakeClock
from bot.core.levels import Level
from bot.core.paging import (
    AlertUnfilled,
    CancelPage,
    Decision,
    Exhausted,
    NotNeeded,
    PagePerson,
    PageStatus,
    PagingRule,
    RoleFilled,
    RolePaging,
    TeamPaging,
    answer,
    next_up,
    start,
    timeout,
    withdraw_all,
)
from bot.core.team import Candidate, RoleAssignment
from tests.fixtures.rosters import MONDAY_10H, policy

RULES = policy().paging
L1, L2, L3 = RULES[Level.L1], RULES[Level.L2], RULES[Level.L3]


def paged(decisions: list[Decision]) -> list[str]:
    return [d.page.person_id for d in decisions if isinstance(d, PagePerson)]


def candidate(person_id: str) -> Candidate:
    return Candidate(
        person_id=person_id,
        role="analyst",
        on_call=True,
        skills=[],
        languages=[],
        active_assignments=0,
        needs_approval=False,
        reason="on call now; 0 active incidents",
    )


def role(
    name: str, candidates: list[str], needed: int = 1, contacts: tuple[str, ...] = ()
) -> RolePaging:
    return RolePaging(role=name, needed=needed, candidates=candidates, duty_contacts=list(contacts))


class Pager:
    """Drives the paging functions the way the runtime does, on a fake clock."""

    def __init__(self, rule: PagingRule, level: Level = Level.L2) -> None:
        self.rule = rule
        self.clock = FakeClock(MONDAY_10H)
        self.state = TeamPaging(level=level)

    def start(self, *roles: RolePaging) -> list[Decision]:
        self.state, decisions = start(self.state, list(roles), self.rule, self.clock.now())
        return decisions

    def answer(self, who: str, accepted: bool, role: str = "analyst") -> list[Decision]:
        self.state, decisions = answer(
            self.state, self.rule, role=role, person_id=who, accepted=accepted, now=self.clock.now()
        )
        return decisions

    def expire(self) -> list[Decision]:
        """Let time run to the next ack deadline and time out what is due."""
        deadline = self.state.next_deadline()
        assert deadline is not None
        self.clock.set(deadline)
        decisions: list[Decision] = []
        for page in self.state.due(self.clock.now()):
            self.state, more = timeout(
                self.state,
                self.rule,
                role=page.role,
                person_id=page.person_id,
                now=self.clock.now(),
            )
            decisions += more
        return decisions


def test_picks_are_paged_with_the_level_ack_deadline() -> None:
    pager = Pager(L2)
    decisions = pager.start(role("analyst", ["ann", "bob", "cas"], needed=2))
    assert paged(decisions) == ["ann", "bob"]
    first = decisions[0]
    assert isinstance(first, PagePerson)
    assert first.page.deadline == MONDAY_10H + timedelta(minutes=15)
    assert first.page.cycle == 1


def test_a_decline_or_timeout_pages_the_next_backup() -> None:
    pager = Pager(L2)
    pager.start(role("analyst", ["ann", "bob", "cas"]))
    assert paged(pager.answer("ann", accepted=False)) == ["bob"]
    pager.clock.advance(timedelta(minutes=5))
    assert paged(pager.expire()) == ["cas"]
    assert pager.clock.now() == MONDAY_10H + timedelta(minutes=15)


def test_an_acceptance_fills_the_role() -> None:
    pager = Pager(L2)
    pager.start(role("analyst", ["ann", "bob"]))
    decisions = pager.answer("ann", accepted=True)
    assert decisions == [RoleFilled(role="analyst", people=["ann"])]
    assert pager.state.pending() == []
    assert pager.state.next_deadline() is None


def test_after_the_last_backup_the_duty_contact_then_the_war_room_then_another_cycle() -> None:
    pager = Pager(L2)
    pager.start(role("analyst", ["ann", "bob"], contacts=("desk",)))
    assert paged(pager.expire()) == ["bob"]
    decisions = pager.expire()
    assert paged(decisions) == ["desk"]
    assert isinstance(decisions[0], PagePerson)
    assert decisions[0].page.duty_contact
    decisions = pager.expire()
    assert decisions[0] == AlertUnfilled(role="analyst", missing=1, cycle=1)
    assert paged(decisions) == ["ann"]
    assert pager.state.roles[0].cycle == 2


def test_paging_stops_after_three_cycles_and_says_so() -> None:
    pager = Pager(L2)
    pager.start(role("analyst", ["ann", "bob"], contacts=("desk",)))
    alerts: list[Decision] = []
    pages = 1
    for _ in range(20):
        if pager.state.next_deadline() is None:
            break
        decisions = pager.expire()
        pages += len(paged(decisions))
        alerts += [d for d in decisions if not isinstance(d, PagePerson)]
    assert pages == 9  # three people, three cycles
    assert alerts == [
        AlertUnfilled(role="analyst", missing=1, cycle=1),
        AlertUnfilled(role="analyst", missing=1, cycle=2),
        Exhausted(role="analyst", missing=1),
    ]
    assert pager.state.roles[0].exhausted
    assert pager.state.next_deadline() is None


def test_someone_who_declined_is_not_asked_again_in_a_later_cycle() -> None:
    pager = Pager(L2)
    pager.start(role("analyst", ["ann", "bob"]))
    pager.answer("ann", accepted=False)
    decisions = pager.expire()  # bob times out: the cycle ends, the next one asks bob again
    assert [type(d) for d in decisions] == [AlertUnfilled, PagePerson]
    assert paged(decisions) == ["bob"]


def test_when_everyone_declined_paging_stops_at_once() -> None:
    pager = Pager(L2)
    pager.start(role("analyst", ["ann"], contacts=("desk",)))
    pager.answer("ann", accepted=False)
    assert pager.answer("desk", accepted=False) == [Exhausted(role="analyst", missing=1)]


def test_level_one_neither_calls_duty_contacts_nor_alerts_between_cycles() -> None:
    pager = Pager(L1, Level.L1)
    pager.start(role("analyst", ["ann"], contacts=("desk",)))
    assert pager.state.next_deadline() == MONDAY_10H + timedelta(minutes=30)
    assert paged(pager.expire()) == ["ann"]
    assert paged(pager.expire()) == ["ann"]
    assert pager.expire() == [Exhausted(role="analyst", missing=1)]


def test_a_cycle_waits_for_open_pages_before_it_ends() -> None:
    pager = Pager(L2)
    pager.start(role("analyst", ["ann", "bob"], needed=2))
    assert pager.answer("bob", accepted=False) == []  # nobody left, but ann may still accept
    assert pager.answer("ann", accepted=True) == [Exhausted(role="analyst", missing=1)]
    assert pager.state.roles[0].accepted == ["ann"]
    assert pager.answer("ann", accepted=True) == []  # answering twice changes nothing


def test_a_late_acceptance_counts_and_cancels_the_replacement_page() -> None:
    pager = Pager(L2)
    pager.start(role("analyst", ["ann", "bob"]))
    pager.expire()
    decisions = pager.answer("ann", accepted=True)
    assert [type(d) for d in decisions] == [CancelPage, RoleFilled]
    cancelled = decisions[0]
    assert isinstance(cancelled, CancelPage)
    assert cancelled.page.person_id == "bob"
    assert pager.answer("bob", accepted=True) == [NotNeeded(role="analyst", person_id="bob")]


def test_a_stale_timer_changes_nothing() -> None:
    pager = Pager(L2)
    pager.start(role("analyst", ["ann", "bob"]))
    before = pager.state
    early, decisions = timeout(before, L2, role="analyst", person_id="ann", now=MONDAY_10H)
    assert (early, decisions) == (before, [])
    pager.answer("ann", accepted=True)
    late, decisions = timeout(
        pager.state, L2, role="analyst", person_id="ann", now=MONDAY_10H + timedelta(hours=1)
    )
    assert decisions == []
    assert late.roles[0].pages[0].status is PageStatus.ACCEPTED
    assert answer(late, L2, role="nope", person_id="ann", accepted=True, now=MONDAY_10H)[1] == []


def test_roles_follow_one_another_below_level_three() -> None:
    pager = Pager(L2)
    decisions = pager.start(role("analyst", ["ann"]), role("scribe", ["sam"]))
    assert paged(decisions) == ["ann"]
    decisions = pager.answer("ann", accepted=True)
    assert decisions[0] == RoleFilled(role="analyst", people=["ann"])
    assert paged(decisions) == ["sam"]


def test_an_exhausted_role_lets_the_next_one_start() -> None:
    pager = Pager(L2)
    pager.start(role("analyst", ["ann"]), role("scribe", ["sam"]))
    decisions = pager.answer("ann", accepted=False)
    assert decisions[0] == Exhausted(role="analyst", missing=1)
    assert paged(decisions) == ["sam"]


def test_level_three_pages_every_role_at_once() -> None:
    pager = Pager(L3, Level.L3)
    decisions = pager.start(role("analyst", ["ann", "bob"]), role("scribe", ["sam"]))
    assert paged(decisions) == ["ann", "sam"]
    assert pager.state.next_deadline() == MONDAY_10H + timedelta(minutes=5)


def test_nobody_is_paged_for_two_roles_at_once() -> None:
    pager = Pager(L3, Level.L3)
    pager.start(role("analyst", ["ann"]), role("forensics", ["bob", "ann", "cas"]))
    assert pager.answer("ann", accepted=True) == [RoleFilled(role="analyst", people=["ann"])]
    assert paged(pager.answer("bob", accepted=False, role="forensics")) == ["cas"]


def test_a_backup_another_unfilled_role_counts_on_is_passed_over() -> None:
    pager = Pager(L2)
    pager.start(role("forensics", ["jan", "koen"]), role("police_liaison", ["koen"]))
    decisions = pager.expire()  # koen is the only police liaison: jan is asked again instead
    assert decisions == [AlertUnfilled(role="forensics", missing=1, cycle=1), *decisions[1:]]
    assert paged(decisions) == ["jan"]
    decisions = pager.answer("jan", accepted=True, role="forensics")
    assert paged(decisions) == ["koen"]
    assert pager.state.pending()[0].role == "police_liaison"


def test_a_pick_of_a_role_still_to_page_is_not_taken_as_a_backup() -> None:
    pager = Pager(L2)
    pager.start(role("analyst", ["ann", "tom", "pia"]), role("forensics", ["tom", "jan"]))
    assert paged(pager.answer("ann", accepted=False)) == ["pia"]


def test_someone_kept_for_another_role_is_paged_when_nobody_else_is_left() -> None:
    pager = Pager(L2)
    pager.start(role("forensics", ["jan", "koen"]), role("police_liaison", ["koen"]))
    assert paged(pager.answer("jan", accepted=False, role="forensics")) == ["koen"]


def test_someone_kept_for_another_role_is_paged_last_in_the_last_cycle() -> None:
    pager = Pager(L2)
    pager.start(role("forensics", ["jan", "koen"]), role("police_liaison", ["koen"]))
    assert paged(pager.expire()) == ["jan"]  # cycle 2
    assert paged(pager.expire()) == ["jan"]  # cycle 3
    decisions = pager.expire()
    assert paged(decisions) == ["koen"]
    assert pager.state.roles[0].cycle == 3


def test_who_is_called_next_leaves_out_someone_another_role_counts_on() -> None:
    pager = Pager(L2)
    pager.start(
        role("analyst", ["ann"]), role("forensics", ["koen", "jan"]), role("police", ["koen"])
    )
    assert next_up(pager.state, "forensics", L2, pager.clock.now()) == ["jan"]
    assert next_up(pager.state, "police", L2, pager.clock.now()) == ["koen"]
    assert next_up(pager.state, "analyst", L2, pager.clock.now()) == []  # ann is paged already
    pager.answer("ann", accepted=True)
    assert paged(pager.expire()) == ["jan"]  # what was said is what is paged
    assert next_up(pager.state, "nobody", L2, pager.clock.now()) == []


def test_a_higher_level_adds_roles_to_the_running_paging() -> None:
    pager = Pager(L2)
    pager.start(role("analyst", ["ann"]))
    pager.answer("ann", accepted=True)
    decisions = pager.start(role("legal", ["lea"]))
    assert paged(decisions) == ["lea"]
    assert [r.role for r in pager.state.roles] == ["analyst", "legal"]


def test_an_assembled_role_is_paged_picks_first() -> None:
    proposal = RoleAssignment(
        role="analyst",
        needed=1,
        picks=[candidate("bob")],
        backups=[candidate("ann"), candidate("cas")],
        duty_contacts=["desk"],
    )
    paging = RolePaging.of(proposal)
    assert paging.candidates == ["bob", "ann", "cas"]
    assert paging.duty_contacts == ["desk"]
    assert paged(Pager(L2).start(paging)) == ["bob"]


def test_the_input_state_is_never_changed_and_survives_json() -> None:
    pager = Pager(L2)
    pager.start(role("analyst", ["ann", "bob"]))
    snapshot = pager.state.model_dump_json()
    _, decisions = answer(
        pager.state, L2, role="analyst", person_id="ann", accepted=False, now=MONDAY_10H
    )
    assert paged(decisions) == ["bob"]
    assert pager.state.model_dump_json() == snapshot
    assert TeamPaging.model_validate_json(snapshot) == pager.state


def test_closing_withdraws_every_open_page_and_leaves_the_answered_ones() -> None:
    pager = Pager(L3)
    pager.start(role("analyst", ["ann", "bob"], needed=2), role("legal", ["lea"]))
    pager.answer("ann", accepted=True)
    before = pager.state.model_dump_json()
    closed_at = pager.clock.now() + timedelta(minutes=1)

    team, decisions = withdraw_all(pager.state, closed_at)

    assert [(d.page.person_id, d.reason) for d in decisions if isinstance(d, CancelPage)] == [
        ("bob", "closed"),
        ("lea", "closed"),
    ]
    assert len(decisions) == 2
    assert team.pending() == []
    statuses = {p.person_id: (p.status, p.answered_at) for r in team.roles for p in r.pages}
    assert statuses["ann"][0] is PageStatus.ACCEPTED
    assert statuses["bob"] == (PageStatus.CANCELLED, closed_at)
    assert pager.state.model_dump_json() == before  # the input is left as it was
