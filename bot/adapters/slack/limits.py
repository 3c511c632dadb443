"""Client-side pacing of Web API calls, so the bot stays inside Slack's published rate tiers.

Slack answers HTTP 429 when a tier is exceeded; pacing ourselves keeps bursts (opening a war room
and inviting a team) from hitting that wall. The retry handler still honours `Retry-After`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rate:
    calls: int
    per_seconds: float


TIER_2 = Rate(20, 60.0)
TIER_3 = Rate(50, 60.0)
TIER_4 = Rate(100, 60.0)
# chat.postMessage: about one message a second per channel, short bursts tolerated.
PER_CHANNEL_POSTING = Rate(3, 3.0)

METHOD_RATES: Mapping[str, Rate] = {
    "conversations.create": TIER_2,
    "conversations.setTopic": TIER_2,
    "conversations.setPurpose": TIER_2,
    "pins.add": TIER_2,
    "conversations.list": TIER_2,
    "conversations.invite": TIER_3,
    "conversations.info": TIER_3,
    "conversations.history": TIER_3,
    "conversations.replies": TIER_3,
    "conversations.kick": TIER_3,
    "conversations.open": TIER_3,
    "chat.update": TIER_3,
    "chat.postMessage": PER_CHANNEL_POSTING,
    "views.open": TIER_4,
    "files.getUploadURLExternal": TIER_4,
    "files.completeUploadExternal": TIER_4,
}


class RateLimiter:
    """Sliding-window limiter: at most `calls` per `per_seconds` for each (method, key)."""

    def __init__(
        self,
        rates: Mapping[str, Rate] = METHOD_RATES,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._rates = rates
        self._monotonic = monotonic
        self._sleep = sleep
        self._recent: dict[tuple[str, str], deque[float]] = {}

    async def acquire(self, method: str, key: str = "") -> None:
        """Wait until one more call of `method` (for `key`, e.g. a channel) fits its rate."""
        rate = self._rates.get(method)
        if rate is None:
            return
        recent = self._recent.setdefault((method, key), deque())
        while True:
            now = self._monotonic()
            while recent and recent[0] <= now - rate.per_seconds:
                recent.popleft()
            if len(recent) < rate.calls:
                recent.append(now)
                return
            await self._sleep(recent[0] + rate.per_seconds - now)
