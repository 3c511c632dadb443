"""`rrt run` with chat platforms configured: every configured platform in one process."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Protocol

from pydantic import SecretStr

from bot.adapters.matrix import MatrixAdapter
from bot.adapters.matrix import MatrixSettings as MatrixConnection
from bot.adapters.slack import SlackAdapter
from bot.bootstrap import Bot, build
from bot.core.roster import Roster
from bot.port import ChatPlatform
from config.settings import MatrixSettings, Settings, SlackSettings

log = logging.getLogger("rrt")
SETTLE_SECONDS = 10.0  # at shutdown, for events and deliveries under way


class Runnable(ChatPlatform, Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def slack_platform(settings: SlackSettings, bot: Bot) -> SlackAdapter:
    return SlackAdapter(
        bot_token=_secret(settings.bot_token),
        store=bot.adapter_state,
        on_inbound=bot.dispatcher,
        mode=settings.mode,
        app_token=_secret(settings.app_token),
        signing_secret=_secret(settings.signing_secret),
        host=settings.http_host,
        port=settings.http_port,
        api_base_url=settings.api_url,
    )


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def invite_policy(roster: Roster, trusted_servers: list[str]) -> Callable[[str], bool]:
    """The bot joins rooms only on invites from roster members or trusted servers."""
    matrix_users = {p.handles["matrix"] for p in roster.people if "matrix" in p.handles}

    def accept(sender: str) -> bool:
        server = sender.split(":", 1)[-1]
        return sender in matrix_users or server in trusted_servers

    return accept


def matrix_platform(settings: MatrixSettings, bot: Bot) -> MatrixAdapter:
    if not (settings.homeserver and settings.user_id):
        raise ValueError("Matrix needs RRT_MATRIX__HOMESERVER and RRT_MATRIX__USER_ID")
    connection = MatrixConnection(
        homeserver=settings.homeserver,
        user_id=settings.user_id,
        store_dir=settings.store_dir,
        access_token=_secret(settings.access_token) or None,
        password=_secret(settings.password) or None,
        device_id=settings.device_id,
    )
    return MatrixAdapter(
        connection,
        bot.adapter_state,
        bot.dispatcher.enqueue,
        accept_invite_from=invite_policy(bot.services.roster, settings.trusted_servers),
        space_room_id=settings.space_id,
        encrypt=settings.encrypt,
    )


def platforms_for(settings: Settings, bot: Bot) -> list[Runnable]:
    running: list[Runnable] = []
    if settings.slack.configured:
        running.append(slack_platform(settings.slack, bot))
    if settings.matrix.configured:
        running.append(matrix_platform(settings.matrix, bot))
    return running


async def serve(settings: Settings) -> int:
    bot = build(settings)
    platforms = platforms_for(settings, bot)
    for platform in platforms:
        bot.attach(platform)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    bot.dispatcher.hold()  # events arriving now wait for what a crash left to be finished
    try:
        for platform in platforms:
            await platform.start()
            log.warning("%s connected", platform.name)
        replayed = await bot.start()  # timers that fell due while the bot was down fire, once
        if replayed:
            log.warning("handled %d command(s) received before a restart", replayed)
        await stop.wait()
    finally:
        for platform in reversed(platforms):
            await platform.stop()
        await bot.dispatcher.settle(SETTLE_SECONDS)
        bot.close()
    return 0
