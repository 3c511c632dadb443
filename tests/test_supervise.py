"""Connecting a platform on its own: retried with capped, jittered back-off; stopped at once."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.supervise import MAX_DELAY, Report, State, Status, Supervisor, retry_delay


class Platform:
    """A platform whose starts fail with `failures` in turn, then connect (or hang)."""

    def __init__(self, *failures: Exception, hang: int = 0) -> None:
        self.failures = list(failures)
        self.hang = hang  # this many starts (after the failures) never finish
        self.starts = 0
        self.stops = 0
        self.started = asyncio.Event()

    @property
    def name(self) -> str:
        return "fake"

    async def start(self) -> None:
        self.starts += 1
        self.started.set()
        if self.failures:
            raise self.failures.pop(0)
        if self.hang:
            self.hang -= 1
            await asyncio.Event().wait()

    async def stop(self) -> None:
        self.stops += 1


class Changes:
    """The statuses a supervisor reported; `connected` is set at the first connection."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Status]] = []
        self.connected = asyncio.Event()

    def __call__(self, name: str, status: Status) -> None:
        self.seen.append((name, status))
        if status.state is State.CONNECTED:
            self.connected.set()


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.mark.parametrize("rand", [0.0, 0.5, 1.0])
def test_the_delay_doubles_from_one_second_up_to_a_minute_with_jitter(rand: float) -> None:
    ceilings = [1, 2, 4, 8, 16, 32, 60, 60, 60]
    delays = [retry_delay(failures, rand=lambda: rand) for failures in range(1, 10)]
    assert delays == [ceiling * (0.5 + 0.5 * rand) for ceiling in ceilings]
    assert max(delays) <= MAX_DELAY


async def test_failed_starts_are_retried_one_log_line_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    platform = Platform(ConnectionRefusedError("refused"), OSError("no route"))
    sleeps = Sleeps()
    changes = Changes()
    supervisor = Supervisor(platform, changes, sleep=sleeps)

    with caplog.at_level(logging.INFO, logger="rrt.platforms"):
        supervisor.start()
        await asyncio.wait_for(changes.connected.wait(), 1)

    assert platform.starts == 3
    assert platform.stops == 2  # what each failed attempt left was stopped
    assert len(sleeps.delays) == 2
    assert 0.5 <= sleeps.delays[0] <= 1.0
    assert 1.0 <= sleeps.delays[1] <= 2.0
    assert [record.getMessage().split(";")[0] for record in caplog.records] == [
        "fake: could not connect (ConnectionRefusedError: refused)",
        "fake: could not connect (OSError: no route)",
        "fake connected",
    ]
    assert [record.exc_info for record in caplog.records] == [None, None, None]
    assert [getattr(record, "failures", None) for record in caplog.records] == [1, 2, None]
    assert [(status.state, status.failures) for _, status in changes.seen] == [
        (State.RETRYING, 1),
        (State.RETRYING, 2),
        (State.CONNECTED, 0),
    ]
    assert changes.seen[0][1].error == "ConnectionRefusedError: refused"


async def test_stop_ends_a_start_that_never_finishes() -> None:
    platform = Platform(hang=1)
    supervisor = Supervisor(platform)
    supervisor.start()
    await asyncio.wait_for(platform.started.wait(), 1)

    await asyncio.wait_for(supervisor.stop(), 1)

    assert supervisor.status.state is State.STOPPED
    assert platform.stops == 1
    assert not supervisor.tried.is_set()


async def test_stop_ends_the_wait_between_attempts() -> None:
    platform = Platform(*[OSError("down")] * 100)
    supervisor = Supervisor(platform)  # real sleeps: the first is half a second or more
    supervisor.start()
    await asyncio.wait_for(supervisor.tried.wait(), 1)

    await asyncio.wait_for(supervisor.stop(), 0.2)

    assert supervisor.status.state is State.STOPPED
    assert platform.starts == 1


async def test_a_start_that_hangs_is_abandoned_and_tried_again() -> None:
    platform = Platform(hang=1)
    sleeps = Sleeps()
    changes = Changes()
    supervisor = Supervisor(platform, changes, start_timeout=0.05, sleep=sleeps)
    supervisor.start()
    await asyncio.wait_for(changes.connected.wait(), 1)

    assert platform.starts == 2
    assert len(sleeps.delays) == 1
    await supervisor.stop()


class Watched(Platform):
    """A platform that tells of its drops and returns, as Slack and Matrix do."""

    def __init__(self) -> None:
        super().__init__()
        self.report: Report = lambda up, why: None

    def watch_connection(self, report: Report) -> None:
        self.report = report


async def test_a_drop_after_connecting_shows_as_reconnecting_until_it_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    platform = Watched()
    changes = Changes()
    supervisor = Supervisor(platform, changes)
    platform.report(False, "lost before connecting")  # the start's own business: not heeded
    supervisor.start()
    await asyncio.wait_for(changes.connected.wait(), 1)

    with caplog.at_level(logging.INFO, logger="rrt.platforms"):
        platform.report(True, None)  # already connected: nothing changes
        platform.report(False, "sync: M_UNKNOWN")
        dropped = supervisor.status
        platform.report(False, "sync: still down")
        assert not supervisor.connected
        platform.report(True, None)

    assert [status.state for _, status in changes.seen] == [
        State.CONNECTED,
        State.RECONNECTING,
        State.CONNECTED,
    ]
    assert (dropped.failures, dropped.error) == (1, "sync: M_UNKNOWN")
    assert supervisor.connected
    assert [record.getMessage() for record in caplog.records] == [
        "fake: connection lost (sync: M_UNKNOWN); reconnecting",
        "fake reconnected",
    ]
    await supervisor.stop()
    platform.report(False, "closed")  # stopped: not heeded
    assert supervisor.status.state is State.STOPPED


async def test_still_down_keeps_the_time_of_the_drop_and_counts_the_failures() -> None:
    platform = Watched()
    changes = Changes()
    supervisor = Supervisor(platform, changes)
    supervisor.start()
    await asyncio.wait_for(changes.connected.wait(), 1)

    platform.report(False, "first")
    since = supervisor.status.since
    platform.report(False, "second")

    assert supervisor.status.state is State.RECONNECTING
    assert (supervisor.status.since, supervisor.status.failures) == (since, 2)
    assert supervisor.status.error == "second"
    await supervisor.stop()
