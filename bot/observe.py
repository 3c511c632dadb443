"""What the runtime and delivery report as they work: the narrow interface metrics read.

The runtime knows only this protocol; `bot.metrics` implements it with Prometheus counters.
Calls come from the event loop and from database threads, so an implementation must be
thread-safe, and quick (it runs inside the work it counts).
"""

from __future__ import annotations

from typing import Literal, Protocol

Outcome = Literal["delivered", "failed", "withheld"]


class Observer(Protocol):
    def event_received(self, platform: str, kind: str) -> None:
        """A new event was recorded in the inbox (repeats are not counted)."""

    def event_handled(self, platform: str, kind: str, seconds: float) -> None:
        """An event was decided and committed, in `seconds` (its unit of work, retries too)."""

    def effect_done(self, platform: str, kind: str, outcome: Outcome) -> None:
        """An outbox effect reached its end: delivered, given up, or withheld by the gate."""


class Unobserved:
    """The observer when nothing is measured."""

    def event_received(self, platform: str, kind: str) -> None:
        pass

    def event_handled(self, platform: str, kind: str, seconds: float) -> None:
        pass

    def effect_done(self, platform: str, kind: str, outcome: Outcome) -> None:
        pass
