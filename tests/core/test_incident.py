"""The incident aggregate: lifecycle steps, the level in force, naming, serialisation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.incident import (
    INCIDENT_ID,
    Answer,
    Incident,
    WarRoom,
    format_incident_id,
)
from bot.core.levels import Level
from bot.core.lifecycle import State, Transition, TransitionRefused
from bot.core.tlp import TLP

DECLARED_AT = datetime(2026, 11, 30, 8, 10, tzinfo=UTC)


def make_incident(**changes: object) -> Incident:
    values: dict[str, object] = {
        "id": "INC-2026-0001",
        "title": "Ransomware at Riverside Hospital Group",
        "org": "cert",
        "declared_by": "anna-peeters",
        "declared_at": DECLARED_AT,
        "t0": DECLARED_AT - timedelta(minutes=25),
    }
    values.update(changes)
    return Incident.model_validate(values)


def test_a_new_incident_has_the_policy_defaults() -> None:
    incident = make_incident()
    assert incident.state is State.DECLARED
    assert incident.tlp is TLP.AMBER
    assert not incident.is_exercise
    assert incident.level is None
    assert incident.state_since is None
    assert incident.is_open
    assert incident.triage_open


def test_apply_moves_the_state_and_records_when() -> None:
    incident = make_incident()
    later = DECLARED_AT + timedelta(minutes=1)

    previous = incident.apply(Transition.START_TRIAGE, later)

    assert previous is State.DECLARED
    assert incident.state is State.TRIAGE
    assert incident.state_since == later


def test_apply_walks_to_closed() -> None:
    incident = make_incident()
    steps = [
        Transition.START_TRIAGE,
        Transition.CONFIRM,
        Transition.CONTAIN,
        Transition.RESOLVE,
        Transition.CLOSE,
    ]
    for minutes, transition in enumerate(steps, 1):
        incident.apply(transition, DECLARED_AT + timedelta(minutes=minutes))
    assert incident.state is State.CLOSED
    assert incident.state_since == DECLARED_AT + timedelta(minutes=5)
    assert not incident.is_open
    assert not incident.triage_open


def test_a_refused_step_changes_nothing() -> None:
    incident = make_incident()
    incident.apply(Transition.START_TRIAGE, DECLARED_AT)
    with pytest.raises(TransitionRefused, match="from triage you can: confirm"):
        incident.apply(Transition.CLOSE, DECLARED_AT + timedelta(hours=1))
    assert incident.state is State.TRIAGE
    assert incident.state_since == DECLARED_AT


@pytest.mark.parametrize(
    ("state", "triage_open", "is_open"),
    [
        (State.DECLARED, True, True),
        (State.TRIAGE, True, True),
        (State.RESPONSE, False, True),
        (State.CONTAINED, False, True),
        (State.RESOLVED, False, True),
        (State.CLOSED, False, False),
    ],
)
def test_open_and_triage_open_follow_the_state(
    state: State, triage_open: bool, is_open: bool
) -> None:
    incident = make_incident(state=state)
    assert (incident.triage_open, incident.is_open) == (triage_open, is_open)


@pytest.mark.parametrize(
    ("proposed", "confirmed", "in_force"),
    [
        (None, None, None),
        (Level.L2, None, Level.L2),
        (Level.L2, Level.L1, Level.L1),  # a coordinator's override stands over the proposal
        (Level.L1, Level.L3, Level.L3),
        (None, Level.L2, Level.L2),
    ],
)
def test_the_confirmed_level_wins_over_the_proposal(
    proposed: Level | None, confirmed: Level | None, in_force: Level | None
) -> None:
    incident = make_incident(proposed_level=proposed, confirmed_level=confirmed)
    assert incident.level is in_force


def test_the_label_marks_exercises() -> None:
    assert make_incident().label == "INC-2026-0001 · Ransomware at Riverside Hospital Group"
    assert make_incident(is_exercise=True, title="Drill").label == (
        "EXERCISE · INC-2026-0001 · Drill"
    )


@pytest.mark.parametrize(
    ("year", "sequence", "expected"),
    [(2026, 1, "INC-2026-0001"), (2026, 42, "INC-2026-0042"), (2027, 12345, "INC-2027-12345")],
)
def test_incident_ids(year: int, sequence: int, expected: str) -> None:
    formatted = format_incident_id(year, sequence)
    assert formatted == expected
    match = INCIDENT_ID.match(formatted)
    assert match is not None
    assert (int(match[1]), int(match[2])) == (year, sequence)


@pytest.mark.parametrize("text", ["INC-26-0001", "INC-2026-01", "inc-2026-0001", "INC-2026-0001x"])
def test_malformed_incident_ids_do_not_match(text: str) -> None:
    assert INCIDENT_ID.match(text) is None


def test_an_incident_survives_a_json_round_trip() -> None:
    incident = make_incident(
        tlp=TLP.RED,
        is_exercise=True,
        answers={
            "Q3": Answer(question="Q3", option="essential", author="sofie", at=DECLARED_AT),
        },
        proposed_level=Level.L2,
        score=63.1,
        band="High",
        police_liaison_required=True,
        named_orgs=["fccu"],
        rooms={"console": WarRoom(platform="console", room_id="room-3", headline_id="msg-4")},
    )
    incident.apply(Transition.START_TRIAGE, DECLARED_AT)

    restored = Incident.model_validate_json(incident.model_dump_json())

    assert restored == incident
    assert restored.tlp is TLP.RED
    assert restored.state is State.TRIAGE
    assert restored.answers["Q3"].at == DECLARED_AT
