"""The lifecycle transition table (policy §7), checked pair by pair."""

from __future__ import annotations

import itertools

import pytest

from bot.core.commands import GRAMMAR
from bot.core.lifecycle import (
    AFTER_CLOSING,
    TRANSITIONS,
    State,
    Transition,
    TransitionRefused,
    allowed_after_closing,
    next_state,
)

# The policy's table, written out again so that a change to the code's table is noticed.
ALLOWED = {
    (State.DECLARED, Transition.START_TRIAGE): State.TRIAGE,
    (State.TRIAGE, Transition.CONFIRM): State.RESPONSE,
    (State.RESPONSE, Transition.CONTAIN): State.CONTAINED,
    (State.CONTAINED, Transition.RESOLVE): State.RESOLVED,
    (State.RESOLVED, Transition.CLOSE): State.CLOSED,
    (State.RESOLVED, Transition.REOPEN): State.RESPONSE,
}
ALL_PAIRS = list(itertools.product(State, Transition))
REFUSED = [pair for pair in ALL_PAIRS if pair not in ALLOWED]


def test_the_code_table_is_the_policy_table() -> None:
    assert TRANSITIONS == ALLOWED


@pytest.mark.parametrize(("state", "transition"), list(ALLOWED), ids=str)
def test_an_allowed_transition_reaches_its_target(state: State, transition: Transition) -> None:
    assert next_state(state, transition) is ALLOWED[(state, transition)]


@pytest.mark.parametrize(("state", "transition"), REFUSED, ids=str)
def test_any_other_transition_is_refused_naming_state_and_choices(
    state: State, transition: Transition
) -> None:
    with pytest.raises(TransitionRefused) as refused:
        next_state(state, transition)
    message = str(refused.value)
    assert f"that is {state.value}" in message
    assert transition.value.replace("_", " ") in message
    allowed = sorted(t.value for (s, t) in ALLOWED if s is state)
    if allowed:
        assert f"from {state.value} you can: {', '.join(allowed)}" in message
    else:
        assert "nothing follows" in message


def test_every_pair_is_covered() -> None:
    assert len(ALL_PAIRS) == len(State) * len(Transition) == 36
    assert len(REFUSED) == 30


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (
            State.RESOLVED,
            "Cannot contain an incident that is resolved (from resolved you can: close, reopen).",
        ),
        (
            State.CLOSED,
            "Cannot reopen an incident that is closed (the incident is closed; nothing follows).",
        ),
        (
            State.DECLARED,
            "Cannot contain an incident that is declared (from declared you can: start_triage).",
        ),
    ],
)
def test_refusals_read_as_sentences(state: State, message: str) -> None:
    transition = Transition.REOPEN if state is State.CLOSED else Transition.CONTAIN
    with pytest.raises(TransitionRefused) as refused:
        next_state(state, transition)
    assert str(refused.value) == message


def test_the_happy_path_and_a_reopen_walk_the_whole_table() -> None:
    state = State.DECLARED
    path = [
        Transition.START_TRIAGE,
        Transition.CONFIRM,
        Transition.CONTAIN,
        Transition.RESOLVE,
        Transition.REOPEN,
        Transition.CONTAIN,
        Transition.RESOLVE,
        Transition.CLOSE,
    ]
    visited = [state]
    for transition in path:
        state = next_state(state, transition)
        visited.append(state)
    assert [s.value for s in visited] == [
        "declared",
        "triage",
        "response",
        "contained",
        "resolved",
        "response",
        "contained",
        "resolved",
        "closed",
    ]


def test_a_closed_incident_takes_only_lessons_filings_and_reading() -> None:
    words = {rule.word for rule in GRAMMAR}
    assert set(AFTER_CLOSING) <= words  # no misspelt word lets nothing through
    allowed = {word for word in words if allowed_after_closing(word)}
    assert allowed == {"lesson", "lessons", "filed", "clocks", "status", "timeline", "team", "help"}
    for changing in ("note", "tlp", "page", "level", "answer", "confirm", "close", "reopen"):
        assert not allowed_after_closing(changing)
