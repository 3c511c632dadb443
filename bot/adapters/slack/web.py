"""Web API access: paces calls, retries on 429, turns failures into PlatformError."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.adapters.slack.limits import RateLimiter
from bot.port import PlatformError

SLACK_API_URL = "https://slack.com/api/"

_MESSAGES = {
    "channel_not_found": "Slack cannot find that channel, or the bot cannot see it.",
    "not_in_channel": "The bot is not a member of that channel.",
    "user_not_found": "Slack does not know that user.",
    "users_not_found": "Slack does not know one of those users.",
    "is_archived": "That channel is archived.",
    "name_taken": "A channel with that name already exists.",
    "invalid_name": "Slack does not accept that channel name.",
    "cant_kick_self": "The bot cannot remove itself.",
    "restricted_action": "The workspace does not let the bot do that.",
    "missing_scope": "The Slack app lacks a permission it needs.",
    "invalid_auth": "The Slack token is not valid.",
    "not_authed": "No Slack token was sent.",
    "ratelimited": "Slack is limiting the bot's requests; try again in a minute.",
    "message_not_found": "Slack cannot find that message.",
    "msg_too_long": "The message is too long for Slack.",
}


def web_client(token: str, base_url: str | None = None) -> AsyncWebClient:
    """A client that waits `Retry-After` on 429 and retries dropped connections."""
    return AsyncWebClient(
        token=token,
        base_url=base_url or SLACK_API_URL,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )


def platform_error(method: str, error: SlackApiError) -> PlatformError:
    code = str(error.response.get("error") or "slack_error")
    # The code travels beside the detail (and is shown beside it): the detail never repeats it.
    detail = _MESSAGES.get(code, f"Slack refused {method}.")
    extra = {"method": method}
    needed = error.response.get("needed")
    if needed:
        extra["needed"] = str(needed)
    return PlatformError(code, detail, extra)


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
                "unreachable", f"Slack could not be reached ({method}).", {"method": method}
            ) from error
