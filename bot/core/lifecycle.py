"""The incident lifecycle (policy §7) as a transition table."""

from __future__ import annotations

from enum import Enum


class State(Enum):
    DECLARED = "declared"
    TRIAGE = "triage"
    RESPONSE = "response"
    CONTAINED = "contained"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Transition(Enum):
    START_TRIAGE = "start_triage"
    CONFIRM = "confirm"
    CONTAIN = "contain"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"


TRANSITIONS: dict[tuple[State, Transition], State] = {
    (State.DECLARED, Transition.START_TRIAGE): State.TRIAGE,
    (State.TRIAGE, Transition.CONFIRM): State.RESPONSE,
    (State.RESPONSE, Transition.CONTAIN): State.CONTAINED,
    (State.CONTAINED, Transition.RESOLVE): State.RESOLVED,
    (State.RESOLVED, Transition.CLOSE): State.CLOSED,
    (State.RESOLVED, Transition.REOPEN): State.RESPONSE,
}


class TransitionRefused(Exception):
    """An illegal lifecycle step; the message is meant for the user."""


def next_state(current: State, transition: Transition) -> State:
    try:
        return TRANSITIONS[(current, transition)]
    except KeyError:
        allowed = sorted(t.value for (s, t) in TRANSITIONS if s is current)
        hint = (
            f"from {current.value} you can: {', '.join(allowed)}"
            if allowed
            else (f"the incident is {current.value}; nothing follows")
        )
        raise TransitionRefused(
            f"Cannot {transition.value.replace('_', ' ')} an incident that is {current.value} "
            f"({hint})."
        ) from None


# A closed incident is concluded (policy §7): only its lessons and filings still change it, and
# reading it changes nothing. Every other command is refused.
AFTER_CLOSING = ("lesson", "lessons", "filed", "clocks", "status", "timeline", "team", "help")


def allowed_after_closing(command: str) -> bool:
    """Whether a command (by its word) may still be used on a closed incident."""
    return command in AFTER_CLOSING
