"""Prometheus metrics of a running bot, fed through `bot.observe.Observer`."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from bot.observe import Outcome
from bot.supervise import State, Status

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Deciding is one database transaction: milliseconds, seconds when the database is slow.
DECISION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """An `Observer` that counts; `render()` gives the Prometheus text exposition."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.events_received = Counter(
            "rrt_events_received_total",
            "Events recorded in the inbox (repeats dropped), by platform and kind.",
            ["platform", "kind"],
            registry=self.registry,
        )
        self.events_handled = Counter(
            "rrt_events_handled_total",
            "Events decided and committed, by platform and kind.",
            ["platform", "kind"],
            registry=self.registry,
        )
        self.decision_seconds = Histogram(
            "rrt_decision_duration_seconds",
            "Time to decide an event and commit it, by platform.",
            ["platform"],
            buckets=DECISION_BUCKETS,
            registry=self.registry,
        )
        self.effects = Counter(
            "rrt_effects_total",
            "Outbox effects that reached their end, by platform, kind and outcome "
            "(delivered, failed, withheld).",
            ["platform", "kind", "outcome"],
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "rrt_outbox_pending",
            "Effects decided but not yet delivered.",
            registry=self.registry,
        )
        self.inbox_unhandled = Gauge(
            "rrt_inbox_unhandled",
            "Events recorded but not yet handled.",
            registry=self.registry,
        )
        self.platform_connected = Gauge(
            "rrt_platform_connected",
            "1 while the platform is connected, else 0.",
            ["platform"],
            registry=self.registry,
        )
        self.connect_failures = Counter(
            "rrt_platform_connect_failures_total",
            "Failed attempts to connect to the platform.",
            ["platform"],
            registry=self.registry,
        )

    # Observer

    def event_received(self, platform: str, kind: str) -> None:
        self.events_received.labels(platform, kind).inc()

    def event_handled(self, platform: str, kind: str, seconds: float) -> None:
        self.events_handled.labels(platform, kind).inc()
        self.decision_seconds.labels(platform).observe(seconds)

    def effect_done(self, platform: str, kind: str, outcome: Outcome) -> None:
        self.effects.labels(platform, kind, outcome).inc()

    # Fed by `rrt run`

    def platform_changed(self, platform: str, status: Status) -> None:
        self.platform_connected.labels(platform).set(status.state is State.CONNECTED)
        if status.state is State.RETRYING:
            self.connect_failures.labels(platform).inc()

    def backlog(self, outbox: int, inbox: int) -> None:
        self.outbox_pending.set(outbox)
        self.inbox_unhandled.set(inbox)

    def render(self) -> bytes:
        return generate_latest(self.registry)
