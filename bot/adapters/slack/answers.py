"""Answering one person where only they see it, when the bot cannot post in the channel.

A slash command or a button click comes with a `response_url`: Slack takes up to five answers
there within 30 minutes, posted in the channel but shown to that person alone, even in a
channel the bot is not a member of. Failing that (expired, used up, none given: a submitted
form has none), the answer goes by chat.postEphemeral, then as a direct message.

What is kept is kept in memory only: a response_url outlives no restart worth planning for.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

log = logging.getLogger(__name__)

RESPONSE_URL_USES = 5
RESPONSE_URL_SECONDS = 30 * 60.0
POST_TIMEOUT_SECONDS = 10.0
# Events remembered, newest kept: far more than are being answered at any one time.
KEPT_EVENTS = 4096
PLATFORM_PREFIX = "slack:"


@dataclass
class ReplyHint:
    """How to reach the sender of one event privately."""

    room_id: str
    user_id: str
    response_url: str | None
    expires: float  # by the monotonic clock
    uses: int = 0


class ReplyHints:
    """The reply hints of recent events, by event id."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._hints: OrderedDict[str, ReplyHint] = OrderedDict()

    def keep(self, event_id: str, room_id: str, user_id: str, response_url: str | None) -> None:
        expires = self._monotonic() + RESPONSE_URL_SECONDS
        self._hints[event_id] = ReplyHint(room_id, user_id, response_url or None, expires)
        self._hints.move_to_end(event_id)
        if len(self._hints) > KEPT_EVENTS:
            self._hints.popitem(last=False)

    def of(self, origin: str | None) -> ReplyHint | None:
        """The hint of the event a unit of work came from (`slack:<event id>`), if kept."""
        if origin is None or not origin.startswith(PLATFORM_PREFIX):
            return None
        return self._hints.get(origin.removeprefix(PLATFORM_PREFIX))

    def take_url(self, hint: ReplyHint) -> str | None:
        """The hint's response_url, counted as used; None once expired or used up."""
        if (
            hint.response_url is None
            or hint.uses >= RESPONSE_URL_USES
            or self._monotonic() >= hint.expires
        ):
            return None
        hint.uses += 1
        return hint.response_url


async def post_to_response_url(url: str, body: dict[str, object]) -> bool:
    """Post one answer to a response_url; whether Slack took it."""
    timeout = aiohttp.ClientTimeout(total=POST_TIMEOUT_SECONDS)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, json=body) as response,
        ):
            if response.status == 200:
                return True
            log.info("The response_url refused an answer: %s %s", response.status, response.reason)
    except (aiohttp.ClientError, TimeoutError) as error:
        log.info("Could not post to a response_url: %r", error)
    return False
