"""Web API access: paces calls, retries on 429 and 5xx, turns failures into PlatformError.

A failure that may pass (Slack down or limiting the bot) carries `retry_after`, so that
delivery tries it again later instead of giving it up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.adapters.slack.limits import RateLimiter
from bot.port import PlatformError

SLACK_API_URL = "https://slack.com/api/"

_MESSAGES = {
    "channel_not_found": "Slack cannot find the channel, or the bot cannot see it.",
    "not_in_channel": "The bot is not a member of the channel.",
    "user_not_found": "Slack does not know that user.",
    "users_not_found": "Slack does not know one of those users.",
    "is_archived": "The channel is archived.",
    "name_taken": "A channel with that name already exists.",
    "invalid_name": "Slack does not accept that channel name.",
    "cant_kick_self": "The bot cannot remove itself.",
    "restricted_action": "The workspace does not let the bot do that.",
    "missing_scope": "The Slack app lacks a permission it needs.",
    "invalid_auth": "The Slack token is not valid.",
    "not_authed": "No Slack token was sent.",
    "ratelimited": "Slack is limiting the bot's requests.",
    "message_not_found": "Slack cannot find that message.",
    "msg_too_long": "The message is too long for Slack.",
}


# Slack's own trouble, as its method pages name it: the same request may succeed later.
_TROUBLE_CODES = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
TROUBLE = "Slack is having trouble right now."
RATE_LIMITED = "ratelimited"
# The answers that are about the channel itself, not what was asked of it, and why, as its
# sender is told when a reply cannot be posted there.
ROOM_ERRORS = {
    "not_in_channel": "the bot is not a member of this channel",
    "channel_not_found": "the bot cannot see this channel",
    "is_archived": "this channel is archived",
}
SERVER_ERROR = 500
REQUEST_TIMEOUT_S = 30  # the SDK's own default


def web_client(
    token: str, base_url: str | None = None, timeout: int = REQUEST_TIMEOUT_S
) -> AsyncWebClient:
    """A client that waits `Retry-After` on 429 and retries 500/503 and connections that could
    not be made. A request that was sent and got no answer (the connection dropped, or the
    answer took too long) is not sent again here: Slack may have done it, and the outbox's own
    retry first looks for what it did."""
    return AsyncWebClient(
        token=token,
        base_url=base_url or SLACK_API_URL,
        timeout=timeout,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(
                max_retry_count=2, error_types=[aiohttp.ClientConnectorError]
            ),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=1),
        ],
    )


def platform_error(method: str, error: SlackApiError) -> PlatformError:
    response = error.response
    # An answer that was not JSON (an HTTP 500 page) has no fields to read.
    data = getattr(response, "data", response)
    answer: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
    status = int(getattr(response, "status_code", 200) or 200)
    retry_after: float | None = None
    if status == 429:
        code = RATE_LIMITED
        headers = getattr(response, "headers", None) or {}
        retry_after = _seconds(headers.get("Retry-After"))
    else:
        code = str(answer.get("error") or (f"http_{status}" if status >= SERVER_ERROR else ""))
        code = code or "slack_error"
        if status >= SERVER_ERROR or code in _TROUBLE_CODES:
            retry_after = 0.0
    # The code travels beside the detail (and is shown beside it): the detail never repeats it.
    fallback = TROUBLE if retry_after is not None else f"Slack refused {method}."
    detail = _MESSAGES.get(code, fallback)
    extra = {"method": method}
    needed = answer.get("needed")
    if needed:
        extra["needed"] = str(needed)
    return PlatformError(code, detail, extra, retry_after, about_room=code in ROOM_ERRORS)


def _seconds(value: object) -> float:
    try:
        return max(float(str(value)), 0.0)
    except ValueError:
        return 0.0


def accepted(response: Any, codes: Collection[str]) -> bool:
    """Whether an error answer only says that what was asked is already so (`already_pinned`).

    conversations.invite lists a per-user `errors` array besides the top-level `error`; the
    answer counts only if every one of those codes is among `codes` too.
    """
    if not codes or response.get("error") not in codes:
        return False
    per_user = response.get("errors") or []
    return all(isinstance(item, Mapping) and item.get("error") in codes for item in per_user)


class SlackWeb:
    def __init__(self, client: AsyncWebClient, limiter: RateLimiter | None = None) -> None:
        self.client = client
        self._limiter = limiter or RateLimiter()

    async def call(
        self,
        method: str,
        request: Callable[[], Awaitable[AsyncSlackResponse]],
        limit_key: str = "",
        accept: Collection[str] = (),
    ) -> AsyncSlackResponse:
        """Run one Web API request after pacing it; every failure becomes a PlatformError.

        An error whose codes are all in `accept` (the state asked for already holds) is no
        failure: its answer is returned instead.
        """
        await self._limiter.acquire(method, limit_key)
        try:
            return await request()
        except SlackApiError as error:
            if accepted(error.response, accept):
                response: AsyncSlackResponse = error.response
                return response
            raise platform_error(method, error) from error
        except (SlackRequestError, aiohttp.ClientError, TimeoutError) as error:
            raise PlatformError(
                "unreachable",
                f"Slack could not be reached ({method}).",
                {"method": method},
                retry_after=0.0,
            ) from error
