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
    ) -> None:
        self._backoff = backoff
        self._connection_attempts = connection_attempts
        self._rate_limit_attempts = rate_limit_attempts
        self._sleep = sleep

    async def back_off(self, failures: int) -> None:
        await self._sleep(self._backoff.delay(failures))

    async def __call__(
        self, what: str, operation: Callable[[], Awaitable[Any]], *, forever: bool = False
    ) -> Any:
        """The successful response of `operation`, retried while rate-limited or unreachable.

        Raises `PlatformError` with the Matrix error code for any other error, and when the
        homeserver stays unreachable (unless `forever`, as the sync loop does).
        """
        connection_failures = 0
        rate_limited = 0
        while True:
            try:
                response = await operation()
            except (aiohttp.ClientError, TimeoutError) as error:
                connection_failures += 1
                if not forever and connection_failures >= self._connection_attempts:
                    raise PlatformError(UNREACHABLE, f"{what}: {error!r}") from error
                delay = self._backoff.delay(connection_failures)
                log.warning(
                    "%s: homeserver unreachable (%r), retrying in %.1fs", what, error, delay
                )
                await self._sleep(delay)
                continue
            if not isinstance(response, ErrorResponse):
                return response
            if response.status_code != RATE_LIMITED:
                raise PlatformError(
                    response.status_code or "M_UNKNOWN", f"{what}: {response.message}"
                )
            rate_limited += 1
            if rate_limited >= self._rate_limit_attempts:
                raise PlatformError(RATE_LIMITED, f"{what}: still rate-limited")
            await self._sleep((response.retry_after_ms or DEFAULT_RETRY_AFTER_MS) / 1000)
