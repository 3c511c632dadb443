"""Every homeserver call goes through here: nio returns errors instead of raising them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from nio import ErrorResponse

from bot.port import PlatformError

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
RATE_LIMITED = "M_LIMIT_EXCEEDED"
UNREACHABLE = "matrix_unreachable"
DEFAULT_RETRY_AFTER_MS = 1000


class Backoff:
    """Exponential delays: initial, 2×initial, 4×initial … capped at `maximum`."""

    def __init__(self, initial: float, maximum: float) -> None:
        self._initial = initial
        self._maximum = maximum

    def delay(self, failures: int) -> float:
        return min(self._initial * 2.0 ** max(failures - 1, 0), self._maximum)


class MatrixCalls:
    def __init__(
        self,
        backoff: Backoff,
        *,
        connection_attempts: int,
        rate_limit_attempts: int,
        sleep: Sleep = asyncio.sleep,
        on_request: Callable[[str], None] | None = None,
    ) -> None:
        self._backoff = backoff
        self._connection_attempts = connection_attempts
        self._rate_limit_attempts = rate_limit_attempts
        self._sleep = sleep
        self._on_request = on_request  # told of every request sent, retries included

    async def back_off(self, failures: int) -> None:
        await self._sleep(self._backoff.delay(failures))

    async def __call__(
        self,
        what: str,
        operation: Callable[[], Awaitable[Any]],
        *,
        forever: bool = False,
        unreachable: Callable[[str], None] = lambda why: None,
    ) -> Any:
        """The successful response of `operation`, retried while rate-limited or unreachable.

        Raises `PlatformError` with the Matrix error code for any other error, and when the
        homeserver stays unreachable (unless `forever`, as the sync loop does). `unreachable`
        hears of each connection failure, with its reason.
        """
        connection_failures = 0
        rate_limited = 0
        while True:
            if self._on_request is not None:
                self._on_request(what)
            try:
                response = await operation()
            except (aiohttp.ClientError, TimeoutError) as error:
                connection_failures += 1
                if not forever and connection_failures >= self._connection_attempts:
                    raise PlatformError(UNREACHABLE, f"{what}: {error!r}") from error
                unreachable(f"{what}: {error!r}")
                delay = self._backoff.delay(connection_failures)
                log.warning(
                    "%s: homeserver unreachable (%r), retrying in %.1fs", what, error, delay
                )
                await self._sleep(delay)
                continue
            if not isinstance(response, ErrorResponse):
                return response
            if response.status_code != RATE_LIMITED:
                raise PlatformError(response.status_code or "M_UNKNOWN", _detail(what, response))
            rate_limited += 1
            if rate_limited >= self._rate_limit_attempts:
                raise PlatformError(RATE_LIMITED, f"{what}: still rate-limited")
            await self._sleep((response.retry_after_ms or DEFAULT_RETRY_AFTER_MS) / 1000)


def _detail(what: str, response: ErrorResponse) -> str:
    # An answer that is not a Matrix error (a proxy's HTML page) leaves nio only "unknown
    # error": its HTTP status says more.
    status = getattr(response.transport_response, "status", None)
    if response.status_code is None and status is not None:
        return f"{what}: homeserver answered HTTP {status}"
    return f"{what}: {response.message}"
