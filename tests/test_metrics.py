"""Prometheus metrics as the runtime and `rrt run` feed them."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import Metrics
from bot.supervise import State, Status


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for sample in family.samples
    }


def test_events_effects_and_decisions_are_counted_by_their_labels() -> None:
    metrics = Metrics()
    metrics.event_received("slack", "text")
    metrics.event_received("slack", "text")
    metrics.event_handled("slack", "text", 0.02)
    metrics.effect_done("slack", "send", "delivered")
    metrics.effect_done("matrix", "create_room", "failed")

    found = samples(metrics)

    slack_text = (("kind", "text"), ("platform", "slack"))
    assert found[("rrt_events_received_total", slack_text)] == 2
    assert found[("rrt_events_handled_total", slack_text)] == 1
    slack = (("platform", "slack"),)
    assert found[("rrt_decision_duration_seconds_count", slack)] == 1
    assert found[("rrt_decision_duration_seconds_bucket", (("le", "0.025"), *slack))] == 1
    assert found[("rrt_decision_duration_seconds_bucket", (("le", "0.01"), *slack))] == 0
    delivered = (("kind", "send"), ("outcome", "delivered"), ("platform", "slack"))
    assert found[("rrt_effects_total", delivered)] == 1
    failed = (("kind", "create_room"), ("outcome", "failed"), ("platform", "matrix"))
    assert found[("rrt_effects_total", failed)] == 1


def test_platform_states_and_the_backlog_are_gauges() -> None:
    metrics = Metrics()
    metrics.platform_changed("matrix", Status(State.RETRYING, failures=1))
    metrics.platform_changed("matrix", Status(State.RETRYING, failures=2))
    metrics.platform_changed("slack", Status(State.CONNECTED))
    metrics.backlog(outbox=3, inbox=1)

    found = samples(metrics)

    assert found[("rrt_platform_connected", (("platform", "slack"),))] == 1
    assert found[("rrt_platform_connected", (("platform", "matrix"),))] == 0
    assert found[("rrt_platform_connect_failures_total", (("platform", "matrix"),))] == 2
    assert found[("rrt_outbox_pending", ())] == 3
    assert found[("rrt_inbox_unhandled", ())] == 1


def test_each_bot_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.event_received("slack", "text")
    assert ("rrt_events_received_total", (("kind", "text"), ("platform", "slack"))) not in samples(
        second
    )
