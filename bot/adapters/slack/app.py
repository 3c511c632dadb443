"""Bolt wiring: take Slack requests (Socket Mode or signed HTTP), ack at once, deliver Inbound.

Slack waits 3 seconds at most for an ack, so a request's listener only translates it, acks and
hands the event over; Bolt sends the ack (the HTTP response, or the Socket Mode envelope's ack)
as the listener returns. Nothing on that path waits for the database or the Web API.

The events of a burst are passed on once the burst is acked: after a pause of
`HAND_OVER_QUIET_SECONDS` between requests, or `HAND_OVER_HOLD_SECONDS` after the first at the
latest, in the order they came. Handling them (database threads, Web API calls) would otherwise
slow down the acks still to come. An event acked but not yet passed on is lost if the process
dies meanwhile, as one acked but not yet recorded always is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse

from bot.adapters.slack.blocks import BUTTON_ACTION_PREFIX, DECLARE_CALLBACK_ID, declaration_modal
from bot.adapters.slack.inbound import (
    command_event_id,
    declaration_errors,
    from_button,
    from_command,
    from_event,
    from_view_submission,
    reads_buttons,
    response_url_of,
)
from bot.adapters.slack.limits import RateLimiter
from bot.adapters.slack.platform import SlackPlatform
from bot.adapters.slack.web import SlackWeb, web_client
from bot.background import Background
from bot.core.store import KeyValue
from bot.port import Inbound, InboundHandler, Outbound, PlatformError

log = logging.getLogger(__name__)
SOCKET_LOG = logging.getLogger("slack_sdk.socket_mode")

Mode = Literal["socket", "http"]
EVENTS_PATH = "/slack/events"
SLASH_COMMAND = "/incident"
# Event ids remembered to drop Slack's retries and duplicate deliveries within this process;
# across restarts the bot's inbox drops them by the same id.
RECENT_EVENT_IDS = 4096
STOP_GRACE_SECONDS = 10.0
HAND_OVER_QUIET_SECONDS = 0.02
HAND_OVER_HOLD_SECONDS = 0.5
# How often the Socket Mode connection is looked at: the SDK reconnects by itself, silently.
WATCH_SECONDS = 2.0
# The Events API callback Slack sends, with no inner event, while it drops the app's events.
APP_RATE_LIMITED = "app_rate_limited"


@dataclass(frozen=True)
class _Event:
    """An Events API callback, translated when passed on: a reply in a thread needs the
    buttons of the message it answers, which may have to be read from the database."""

    body: dict[str, Any]
    bot_user_id: str | None


Taken = Inbound | _Event


class SlackAdapter(SlackPlatform):
    """The Slack app: `ChatPlatform` for sending, `start()`/`stop()` for receiving.

    `store` keeps button values and DM channels across restarts; `on_inbound` gets every
    event once per process (the bot's inbox drops repeats across restarts by `event_id`).
    `mode="socket"` needs `app_token`; `mode="http"` needs `signing_secret` and serves
    POST {host}:{port}/slack/events. `api_base_url` points the Web API elsewhere (tests).
    """

    def __init__(
        self,
        *,
        bot_token: str,
        store: KeyValue,
        on_inbound: InboundHandler,
        mode: Mode = "socket",
        app_token: str = "",
        signing_secret: str = "",
        host: str = "0.0.0.0",
        port: int = 3000,
        api_base_url: str | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        if mode == "socket" and not app_token:
            raise ValueError("Socket Mode needs an app-level token (xapp-…)")
        if mode == "http" and not signing_secret:
            raise ValueError("HTTP mode needs the app's signing secret")
        client = web_client(bot_token, api_base_url)
        super().__init__(SlackWeb(client, limiter), store)
        self._on_inbound = on_inbound
        self._mode = mode
        self._app_token = app_token
        self._host = host
        self._port = port
        self._app = AsyncApp(
            client=client,
            signing_secret=signing_secret,
            # Signature and 5-minute replay window checks on every HTTP request.
            request_verification_enabled=True,
            # The ack goes out as the listener returns, rather than when Bolt next polls for it
            # (every 10 ms) from a task of its own; listeners never wait, so this is sooner.
            process_before_response=True,
            logger=log,
        )
        self._register_listeners()
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._rate_limited_minute: object = None  # the last one logged
        self._background = Background(log, "Handling a Slack event")
        self._taken: list[Taken] = []  # acked, not yet passed on
        self._first_taken = self._last_taken = 0.0
        self._passing: asyncio.Future[None] | None = None
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._report: Callable[[bool, str | None], None] = lambda up, why: None
        self._watcher: asyncio.Task[None] | None = None

    @property
    def http_port(self) -> int | None:
        """The port actually bound in HTTP mode (useful when started with port 0)."""
        if self._runner is None or not self._runner.addresses:
            return None
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        if self._mode == "http":
            self._runner = web.AppRunner(self._app.web_app(path=EVENTS_PATH, port=self._port))
            await self._runner.setup()
            await web.TCPSite(self._runner, self._host, self._port).start()
            log.info("Slack HTTP endpoint listening on %s:%s", self._host, self.http_port)
        else:
            # The SDK's own logger, so that its chatter at each (re)connection stays quiet.
            self._socket = AsyncSocketModeHandler(self._app, self._app_token, logger=SOCKET_LOG)
            # The socket's URL is asked for here first: a Slack out of reach then fails this
            # start (`rrt run` retries it with back-off) instead of entering the SDK's own
            # loop, which retries every few seconds for ever.
            client = self._socket.client
            client.wss_uri = await client.issue_new_wss_url()
            await self._socket.connect_async()  # type: ignore[no-untyped-call]  # untyped in bolt
            log.info("Slack Socket Mode connected")
            self._watcher = asyncio.create_task(self._watch(), name="slack-socket-watch")

    def watch_connection(self, report: Callable[[bool, str | None], None]) -> None:
        """`report` hears when the Socket Mode connection drops and when it is back."""
        self._report = report

    async def _watch(self) -> None:
        up = True
        while self._socket is not None:
            await asyncio.sleep(WATCH_SECONDS)
            now = self._socket is not None and await self._socket.client.is_connected()
            if now != up:
                up = now
                self._report(up, None if up else "Socket Mode connection lost")

    async def stop(self) -> None:
        """Stop receiving, give running handlers a grace period, cancel what is left."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._passing is not None:  # what was acked is handed over, within the grace
            await self._passing
        await self._background.settle(STOP_GRACE_SECONDS)

    def _register_listeners(self) -> None:
        # Bolt's event listeners match only callbacks with an inner event; this one has none.
        self._app.middleware(self._on_app_rate_limited)
        self._app.command(SLASH_COMMAND)(self._on_command)
        self._app.action(re.compile(f"^{BUTTON_ACTION_PREFIX}\\d+$"))(self._on_button)
        self._app.view(DECLARE_CALLBACK_ID)(self._on_declaration)
        for event_type in ("message", "reaction_added", "member_joined_channel"):
            self._app.event(event_type)(self._on_event)

    async def _on_app_rate_limited(
        self, body: dict[str, Any], next_: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        """Answer 200 to `app_rate_limited` (Bolt would answer 404, and Slack counts answers
        other than 200 towards disabling the app's events); log it once per limited minute."""
        if body.get("type") != APP_RATE_LIMITED:
            await next_()
            return None
        minute = body.get("minute_rate_limited")
        if minute != self._rate_limited_minute:
            self._rate_limited_minute = minute
            log.warning(
                "Slack is rate-limiting the app's events for workspace %s since minute %s: "
                "events are being dropped",
                body.get("team_id"),
                minute,
            )
        return BoltResponse(status=200, body="")

    # Every listener acks, keeps the event and returns: Bolt then sends the ack.

    async def _on_command(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        inbound = from_command(body)
        self._keep_hint(inbound, body)
        if inbound.text:
            self._take(inbound)
        elif self._first_time(command_event_id(body)):
            trigger_id = str(body.get("trigger_id", ""))
            self._spawn(self._open_declaration(trigger_id, inbound))

    async def _on_button(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        inbound = from_button(body)
        if inbound is not None:
            self._keep_hint(inbound, body)
            self._take(inbound)

    async def _on_declaration(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        errors = declaration_errors(body)
        if errors:
            # The form stays open, each error under its field.
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        inbound = from_view_submission(body)
        if inbound is not None:
            self._keep_hint(inbound, body)
            self._take(inbound)

    def _keep_hint(self, inbound: Inbound, body: dict[str, Any]) -> None:
        """How to answer the sender alone, should the bot be unable to post in the channel."""
        self._hints.keep(inbound.event_id, inbound.room_id, inbound.user_id, response_url_of(body))

    async def _on_event(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        # Bolt acks an event itself as its listener returns.
        self._take(_Event(body, context.bot_user_id))

    async def _open_declaration(self, trigger_id: str, command: Inbound) -> None:
        """Open the declaration form; if Slack refuses, tell the person who asked for it,
        where only they see it."""
        try:
            await self._web.call(
                "views.open",
                lambda: self._web.client.views_open(
                    trigger_id=trigger_id, view=declaration_modal(command.room_id)
                ),
            )
        except PlatformError as error:
            log.warning("Could not open the declaration form: %s", error)
            notice = Outbound(
                text=f"The declaration form could not be opened ({error.code}). "
                "Type `/incident declare <title>` instead."
            )
            hint = self._hints.of(f"{command.platform}:{command.event_id}")
            if hint is not None:
                await self._answer(hint, notice)

    def _take(self, taken: Taken) -> None:
        """Keep an acked event, to be passed on once the requests pause."""
        now = time.monotonic()
        if not self._taken:
            self._first_taken = now
        self._taken.append(taken)
        self._last_taken = now
        if self._passing is None:
            self._passing = self._background.spawn(self._pass_on())

    async def _pass_on(self) -> None:
        try:
            while self._taken:
                await self._pause()
                taken, self._taken = self._taken, []
                for item in taken:
                    try:
                        inbound = await self._translated(item)
                    except Exception:  # one unreadable callback must not lose the others
                        log.exception("Could not read a Slack event")
                        continue
                    if inbound is not None:
                        self._deliver(inbound)
        finally:
            self._passing = None

    async def _pause(self) -> None:
        """Until no request has come for a moment, or the first kept has waited long enough."""
        while True:
            due = min(
                self._last_taken + HAND_OVER_QUIET_SECONDS,
                self._first_taken + HAND_OVER_HOLD_SECONDS,
            )
            wait = due - time.monotonic()
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    async def _translated(self, taken: Taken) -> Inbound | None:
        if isinstance(taken, Inbound):
            return taken
        body, bot_user_id, buttons = taken.body, taken.bot_user_id, self._state.buttons
        if reads_buttons(body):  # not the event loop's to wait for
            return await asyncio.to_thread(from_event, body, bot_user_id, buttons)
        return from_event(body, bot_user_id, buttons)

    def _deliver(self, inbound: Inbound) -> None:
        if self._first_time(inbound.event_id):
            self._spawn(self._on_inbound(inbound))
        else:
            log.debug("Dropped a repeated Slack delivery of %s", inbound.event_id)

    def _first_time(self, event_id: str) -> bool:
        if event_id in self._recent:
            return False
        self._recent[event_id] = None
        if len(self._recent) > RECENT_EVENT_IDS:
            self._recent.popitem(last=False)
        return True

    def _spawn(self, work: Awaitable[None]) -> None:
        self._background.spawn(work)
