from __future__ import annotations

from bot.adapters.slack.limits import METHOD_RATES, Rate, RateLimiter


class FakeTime:
    """Monotonic time that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(clock: FakeTime, rates: dict[str, Rate]) -> RateLimiter:
    return RateLimiter(rates, monotonic=clock.monotonic, sleep=clock.sleep)


async def test_calls_within_the_rate_do_not_wait() -> None:
    clock = FakeTime()
    pace = limiter(clock, {"pins.add": Rate(3, 60.0)})
    for _ in range(3):
        await pace.acquire("pins.add")
    assert clock.sleeps == []


async def test_a_call_over_the_rate_waits_for_the_window() -> None:
    clock = FakeTime()
    pace = limiter(clock, {"pins.add": Rate(2, 60.0)})
    await pace.acquire("pins.add")
    clock.now += 10
    await pace.acquire("pins.add")
    await pace.acquire("pins.add")
    assert clock.sleeps == [50.0]
    assert clock.now == 160.0


async def test_keys_are_paced_apart() -> None:
    clock = FakeTime()
    pace = limiter(clock, {"chat.postMessage": Rate(1, 1.0)})
    await pace.acquire("chat.postMessage", "C1")
    await pace.acquire("chat.postMessage", "C2")
    assert clock.sleeps == []
    await pace.acquire("chat.postMessage", "C1")
    assert clock.sleeps == [1.0]


async def test_methods_without_a_rate_are_not_paced() -> None:
    clock = FakeTime()
    pace = limiter(clock, {})
    for _ in range(100):
        await pace.acquire("auth.test")
    assert clock.sleeps == []


def test_default_rates_follow_slack_tiers() -> None:
    assert METHOD_RATES["conversations.create"] == Rate(20, 60.0)
    assert METHOD_RATES["conversations.invite"] == Rate(50, 60.0)
    assert (
        METHOD_RATES["chat.postMessage"].calls / METHOD_RATES["chat.postMessage"].per_seconds == 1
    )
