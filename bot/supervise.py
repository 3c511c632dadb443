"""Connecting each chat platform on its own, again and again until it works, or until stopped.

A platform that cannot be reached at start is tried again after a capped exponential delay
with jitter (1 s, 2 s, 4 s … 60 s, each between half and all of that), one log line per
failure. Once connected, the platform keeps itself connected (Socket Mode reconnects, the
Matrix sync loop retries); one that can tell (`Watched`) reports its drops and returns, so the
status stays current. One platform failing never holds up another, and `stop()` ends a
platform whatever it is doing.

A platform only one replica may run (Matrix: one device, one sync) is given a `Leadership`:
until it holds the role it stands by (not started at all), asking again every second; once it
loses the role it is stopped at once and stands by again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from bot.leadership import POLL_SECONDS, Leadership

log = logging.getLogger("rrt.platforms")

INITIAL_DELAY = 1.0
MAX_DELAY = 60.0
# A start that has not connected by then is abandoned and tried again: a peer that accepts
# the connection and never answers would otherwise hold it for ever.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 4.0  # at shutdown, per platform (they stop side by side)

Sleep = Callable[[float], Awaitable[None]]
# What a connected platform reports: whether it is connected now, and if not, why.
Report = Callable[[bool, str | None], None]


class Startable(Protocol):
    @property
    def name(self) -> str: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@runtime_checkable
class Watched(Protocol):
    """A platform that tells when its connection drops and when it is back."""

    def watch_connection(self, report: Report) -> None: ...


class State(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RETRYING = "retrying"  # the last attempt failed; waiting to try again
    RECONNECTING = "reconnecting"  # it was connected, lost it, and is getting it back
    STANDBY = "standby"  # another replica holds the platform's role
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Status:
    state: State = State.CONNECTING
    since: datetime = field(default_factory=lambda: datetime.now(UTC))
    failures: int = 0  # failed attempts since the last success
    error: str | None = None  # why the last attempt failed


def retry_delay(
    failures: int,
    initial: float = INITIAL_DELAY,
    maximum: float = MAX_DELAY,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after `failures` failed attempts in a row: the jitter keeps processes
    restarted together from retrying in step."""
    ceiling = min(maximum, initial * 2.0 ** max(failures - 1, 0))
    return ceiling * (0.5 + 0.5 * rand())


def reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError) and not str(error):
        return f"no connection after {START_TIMEOUT:.0f} s"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


class Supervisor:
    """Runs one platform: `start()` begins connecting in the background, `stop()` ends it."""

    def __init__(
        self,
        platform: Startable,
        on_change: Callable[[str, Status], None] = lambda name, status: None,
        *,
        initial: float = INITIAL_DELAY,
        maximum: float = MAX_DELAY,
        start_timeout: float = START_TIMEOUT,
        stop_timeout: float = STOP_TIMEOUT,
        sleep: Sleep = asyncio.sleep,
        leadership: Leadership | None = None,
        poll: float = POLL_SECONDS,
        on_lead: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.platform = platform
        self.status = Status()
        self.tried = asyncio.Event()  # set after the first attempt, whether it connected or not
        self._on_change = on_change
        self._initial = initial
        self._maximum = maximum
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._sleep = sleep
        self._leadership = leadership
        self._poll = poll
        self._on_lead = on_lead  # before each start under the role just taken
        self._task: asyncio.Task[None] | None = None
        if isinstance(platform, Watched):
            platform.watch_connection(self._reported)

    @property
    def name(self) -> str:
        return self.platform.name

    @property
    def connected(self) -> bool:
        return self.status.state is State.CONNECTED

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect(), name=f"connect {self.name}")

    async def stop(self) -> None:
        """Stop connecting (or stop the connected platform), within `stop_timeout` seconds."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._stop_platform()
        if self._leadership is not None:
            await self._leadership.release()
        self._change(State.STOPPED)

    async def _connect(self) -> None:
        if self._leadership is None:
            await self._start()
            return
        while True:
            await self._lead(self._leadership)
            if self._on_lead is not None:
                await self._on_lead()
            if await self._start(self._leadership):
                while await self._leadership.still_held():
                    await self._sleep(self._poll)
            log.warning("%s: lost its role; standing by", self.name)
            await self._stop_platform()
            self._change(State.STANDBY)
            # The standbys, asking every `poll`, go first: the loss was likely this side's.
            await self._sleep(2 * self._poll)

    async def _lead(self, leadership: Leadership) -> None:
        """Returns once this process holds the platform's role."""
        first = True
        while not await leadership.acquire():
            if first:
                log.info("%s: another replica runs it; standing by", self.name)
                self._change(State.STANDBY)
                self.tried.set()
                first = False
            await self._sleep(self._poll)

    async def _start(self, leadership: Leadership | None = None) -> bool:
        """Starts the platform, retrying until it connects; false if the role went meanwhile."""
        failures = 0
        while True:
            if leadership is not None and failures and not await leadership.still_held():
                return False
            try:
                await asyncio.wait_for(self.platform.start(), self._start_timeout)
            except Exception as error:
                failures += 1
                delay = retry_delay(failures, self._initial, self._maximum)
                why = reason(error)
                log.warning(
                    "%s: could not connect (%s); retrying in %.1f s",
                    self.name,
                    why,
                    delay,
                    extra={
                        "platform": self.name,
                        "failures": failures,
                        "retry_in": round(delay, 2),
                    },
                )
                self._change(State.RETRYING, failures, why)
                self.tried.set()
                await self._stop_platform()  # whatever the failed attempt left running
                await self._sleep(delay)
                continue
            log.info("%s connected", self.name, extra={"platform": self.name})
            self._change(State.CONNECTED)
            self.tried.set()
            return True

    async def _stop_platform(self) -> None:
        try:
            await asyncio.wait_for(self.platform.stop(), self._stop_timeout)
        except Exception as error:  # stopping is best effort; what is recorded is kept
            log.warning("%s: stopping it failed (%s)", self.name, reason(error))

    def _reported(self, up: bool, why: str | None) -> None:
        """The platform's own word on its connection, heeded once it has connected."""
        state = self.status.state
        if up and state is State.RECONNECTING:
            log.info("%s reconnected", self.name, extra={"platform": self.name})
            self._change(State.CONNECTED)
        elif not up and state is State.CONNECTED:
            log.warning(
                "%s: connection lost (%s); reconnecting",
                self.name,
                why or "no reason given",
                extra={"platform": self.name},
            )
            self._change(State.RECONNECTING, 1, why)
        elif not up and state is State.RECONNECTING:
            # Still down: counted, and the latest reason kept, without resetting `since`.
            self.status = replace(self.status, failures=self.status.failures + 1, error=why)

    def _change(self, state: State, failures: int = 0, error: str | None = None) -> None:
        self.status = replace(
            self.status, state=state, since=datetime.now(UTC), failures=failures, error=error
        )
        self._on_change(self.name, self.status)
