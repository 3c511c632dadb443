"""`rrt run` with chat platforms configured: every configured platform in one process."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from pydantic import SecretStr

from bot.bootstrap import Bot, build
from bot.core.roster import Roster
from bot.health import Health, StatusServer
from bot.leadership import MATRIX_SYNC
from bot.port import ChatPlatform
from bot.supervise import Startable, State, Status, Supervisor
from config.errors import ConfigError
from config.settings import MatrixSettings, Settings, SlackSettings
from storage.process_lock import DatabaseInUse
from storage.sql_store import SqlStore

if TYPE_CHECKING:
    # Each adapter is imported only when its platform is configured: an SDK costs memory.
    from bot.adapters.matrix import MatrixAdapter
    from bot.adapters.slack import SlackAdapter
    from bot.metrics import Metrics

log = logging.getLogger("rrt.serve")
# At shutdown, for events and deliveries under way: with the platforms' own stop, within the
# 10 s a container manager waits before killing. What is cut short is redone at the next start.
SETTLE_SECONDS = 4.0
HEALTH_KEY = "healthz.written_at"


class Runnable(ChatPlatform, Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def slack_platform(settings: SlackSettings, bot: Bot) -> SlackAdapter:
    from bot.adapters.slack import SlackAdapter

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
    from bot.adapters.matrix import MatrixAdapter
    from bot.adapters.matrix import MatrixSettings as MatrixConnection

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


def supervised(
    bot: Bot, platforms: Sequence[Startable], metrics: Metrics | None = None
) -> list[Supervisor]:
    """A supervisor for each platform (not started), reporting to `metrics`. What is decided
    for a platform not connected (yet, or any more) waits for it, rather than using up its
    retries, and is delivered when it connects."""

    def changed(name: str, status: Status) -> None:
        if metrics is not None:
            metrics.platform_changed(name, status)
        if status.state is State.CONNECTED:
            bot.dispatcher.platform_connected()

    async def take_over_matrix() -> None:
        await asyncio.to_thread(bot.adapter_state.forget, "matrix:")
        # Events the replica before recorded and died before handling go first, in the order
        # received: syncing again, this one would drop them as recorded already and handle
        # the later ones of their incident before them.
        try:
            replayed = await bot.dispatcher.replay()
        except Exception:  # the periodic pass handles them later
            log.exception("handling what the replica before left failed")
            return
        if replayed:
            log.info("handled %d command(s) left unhandled before taking over", replayed)

    # Matrix runs on one replica at a time: one device, one sync, one user of its key store.
    # Taking over, it reads what the replica before it left: device, sync token, held events.
    supervisors = [
        Supervisor(
            platform, changed, leadership=bot.leadership(MATRIX_SYNC), on_lead=take_over_matrix
        )
        if platform.name == "matrix"
        else Supervisor(platform, changed)
        for platform in platforms
    ]
    by_name = {supervisor.name: supervisor for supervisor in supervisors}
    bot.dispatcher.deliverer.ready = lambda name: name not in by_name or by_name[name].connected
    return supervisors


async def serve(settings: Settings) -> int:
    """Run until SIGTERM or SIGINT; each platform connects (and retries) on its own.

    Returns 0 when stopped by a signal, 1 when the start-up itself failed (the database), 2
    when another process runs on the same SQLite file."""
    bot = build(settings)
    try:
        bot.hold_database()  # before any platform connects: a second process takes no event
    except DatabaseInUse as in_use:
        bot.close()
        print(in_use, file=sys.stderr)
        return 2
    platforms = platforms_for(settings, bot)
    for platform in platforms:
        bot.attach(platform)
    # What start-up loaded lives as long as the process: left out of the collector's full
    # passes, each of which would otherwise stop the event loop (and Slack's acks) for a while.
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    metrics = _metrics() if settings.metrics_port is not None else None
    supervisors = supervised(bot, platforms, metrics)
    health = Health(
        lambda: bot.dispatcher.offload(lambda: database_writable(bot.store)),
        lambda: {supervisor.name: supervisor.status for supervisor in supervisors},
    )
    server = None
    if metrics is not None and settings.metrics_port is not None:
        bot.dispatcher.observe(metrics)
        server = StatusServer(
            health, metrics, lambda: backlog(bot), settings.metrics_host, settings.metrics_port
        )
    bot.dispatcher.hold()  # events arriving now wait for what a crash left to be finished
    starting: asyncio.Future[None] | None = None
    try:
        if server is not None:
            await _listen(server, settings.metrics_port)
        for supervisor in supervisors:
            supervisor.start()
        starting = asyncio.ensure_future(_start_bot(bot, supervisors, health))
        starting.add_done_callback(lambda _: stop.set())  # it ends early only by failing
        await stop.wait()
        log.info("stopping")
    finally:
        health.running = False
        failed = _failure(starting)
        if starting is not None:
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
        await asyncio.gather(*(supervisor.stop() for supervisor in supervisors))
        await bot.dispatcher.settle(SETTLE_SECONDS)
        if server is not None:
            await server.stop()
        bot.close()
    if failed is not None:
        log.error("start-up failed: %s", failed)
        return 1
    log.info("stopped")
    return 0


def _metrics() -> Metrics:
    # Only with RRT_METRICS_PORT: the Prometheus client costs memory.
    from bot.metrics import Metrics

    return Metrics()


async def _listen(server: StatusServer, port: int | None) -> None:
    try:
        await server.start()
    except OSError as error:
        raise ConfigError(f"RRT_METRICS_PORT={port}: cannot listen ({error.strerror})") from None


async def _start_bot(bot: Bot, supervisors: list[Supervisor], health: Health) -> None:
    """Once every platform has connected or failed a first time, deliver and handle what a
    crash left, then take new events (a platform still connecting is not waited for); then
    wait until cancelled at shutdown."""
    await asyncio.gather(*(supervisor.tried.wait() for supervisor in supervisors))
    replayed = await bot.start()  # timers that fell due while the bot was down fire, once
    if replayed:
        log.info("handled %d command(s) received before a restart", replayed)
    health.running = True
    await asyncio.Event().wait()


def _failure(starting: asyncio.Future[None] | None) -> BaseException | None:
    """Why the start-up failed, if it did (it never ends otherwise)."""
    if starting is None or not starting.done() or starting.cancelled():
        return None
    return starting.exception()


def database_writable(store: SqlStore) -> None:
    """Raises unless the database is still the one the bot started on and takes a write."""
    # A unit of work checks the database's identity (not removed, replaced or emptied) before
    # it commits.
    with store.unit_of_work(origin="healthz", lane="healthz"):
        store.kv.set(HEALTH_KEY, datetime.now(UTC).isoformat())


async def backlog(bot: Bot) -> tuple[int, int]:
    def count() -> tuple[int, int]:
        return bot.store.backlog()

    return await bot.dispatcher.offload(count)
