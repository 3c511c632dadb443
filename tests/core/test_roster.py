from datetime import UTC, datetime, time

import pytest
from pydantic import ValidationError

from bot.core.roster import OnCallWindow, Person, Roster, Weekday
from bot.core.tlp import TLP
from tests.fixtures.rosters import ORGS, person, roster


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A UTC moment in the week of Monday 2 March 2026 (CET = UTC+1)."""
    return datetime(2026, 3, 1 + day, hour, minute, tzinfo=UTC)


def window(days: object, start: str, end: str, zone: str = "Europe/Brussels") -> OnCallWindow:
    return OnCallWindow.model_validate({"days": days, "start": start, "end": end, "timezone": zone})


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        ("mon-fri", ["mon", "tue", "wed", "thu", "fri"]),
        ("fri-mon", ["fri", "sat", "sun", "mon"]),
        ("sat, sun", ["sat", "sun"]),
        ("daily", [d.value for d in Weekday]),
        (["tue", "thu"], ["tue", "thu"]),
    ],
)
def test_days_are_written_as_ranges_or_lists(days: object, expected: list[str]) -> None:
    assert [d.value for d in window(days, "08:00", "18:00").days] == expected


@pytest.mark.parametrize("days", ["mon-funday", "someday", []])
def test_bad_days_are_refused(days: object) -> None:
    with pytest.raises(ValidationError):
        window(days, "08:00", "18:00")


def test_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown timezone"):
        window("daily", "08:00", "18:00", "Europe/Atlantis")


def test_day_window_is_read_in_its_own_timezone() -> None:
    office = window("mon-fri", "08:00", "18:00")
    assert office.covers(at(1, 7))  # 08:00 in Brussels
    assert not office.covers(at(1, 6, 59))
    assert not office.covers(at(1, 17))  # 18:00 in Brussels: the window has ended
    assert not office.covers(at(6, 10))  # Saturday


def test_night_window_belongs_to_the_evening_it_starts() -> None:
    nights = window("mon-fri", "18:00", "08:00")
    assert nights.covers(at(5, 22))  # Friday 23:00
    assert nights.covers(at(6, 5))  # Saturday 06:00: Friday's shift
    assert not nights.covers(at(1, 5))  # Monday 06:00: Sunday had no shift
    assert not nights.covers(at(6, 22))  # Saturday evening


def test_equal_start_and_end_is_the_whole_day() -> None:
    weekend = window("sat-sun", "00:00", "00:00")
    assert weekend.covers(at(6, 0))
    assert weekend.covers(at(7, 22, 59))
    assert not weekend.covers(at(7, 23))  # Monday 00:00 in Brussels


def test_declared_availability_overrides_the_windows() -> None:
    on_leave = person("ann", "analyst", available=False)
    standby = person("bob", "analyst", on_call=[], available=True)
    shift = person("cas", "analyst", on_call=[{"days": "sat", "start": "08:00", "end": "18:00"}])
    monday = at(1, 10)
    assert on_leave.on_call_at(monday)
    assert not on_leave.is_available(monday)
    assert standby.is_available(monday)
    assert not standby.on_call_at(monday)
    assert not shift.is_available(monday)


def test_max_tlp_accepts_the_usual_spellings() -> None:
    assert person("ann", max_tlp="amber+strict").max_tlp is TLP.AMBER_STRICT
    assert person("ann", max_tlp="TLP:GREEN").max_tlp is TLP.GREEN
    with pytest.raises(ValidationError, match="unknown TLP label"):
        person("ann", max_tlp="PURPLE")


def test_lookups_by_id_handle_and_name() -> None:
    team = roster(
        person("anna-peeters", name="Anna Peeters", handles={"slack": "U1", "matrix": "@anna:x"}),
        person("marc-dubois", name="Marc Dubois"),
        person("marc-leroy", name="Marc Leroy"),
    )
    anna = team.person("anna-peeters")
    assert anna is not None
    assert team.by_handle("slack", "U1") is anna
    assert team.by_handle("matrix", "@anna:x") is anna
    assert team.by_handle("slack", "@anna:x") is None
    assert team.by_name("anna peeters") is anna
    assert team.by_name("ANNA") is anna
    assert team.by_name("@anna-peeters") is anna
    assert team.by_name("Marc") is None  # two people called Marc
    assert team.by_name("marc dubois") is team.person("marc-dubois")
    assert team.person("nobody") is None


def test_duty_contacts_and_holders() -> None:
    team = roster(
        person("ann", "analyst", duty_contact=True),
        person("bob", "analyst", org="police"),
        person("cas", "coordinator", org="police", duty_contact=True),
    )
    assert [p.id for p in team.holders("analyst")] == ["ann", "bob"]
    assert [p.id for p in team.duty_contacts("police")] == ["cas"]


@pytest.mark.parametrize(
    ("people", "message"),
    [
        ([person("ann"), person("ann")], "duplicate person id 'ann'"),
        ([person("ann", org="nowhere")], "unknown organisation 'nowhere'"),
        (
            [person("ann", handles={"slack": "U1"}), person("bob", handles={"slack": "U1"})],
            "slack handle 'U1' already belongs to 'ann'",
        ),
    ],
)
def test_inconsistent_rosters_are_refused(people: list[Person], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Roster(orgs=ORGS, people=people)


def test_roster_round_trips_through_json() -> None:
    team = roster(person("ann", "analyst", max_tlp="AMBER+STRICT", languages=["fr"]))
    again = Roster.model_validate_json(team.model_dump_json())
    assert again == team
    assert again.people[0].on_call[0].start == time(0)
