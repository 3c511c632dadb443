"""How fast the Slack app acknowledges `/incident declare` while the bot does the work behind it.

Slack gives an app 3 seconds to acknowledge a request. This fires concurrent signed
`/incident declare` requests at the real bot and Slack app (HTTP mode, SQLite on a temporary
file), with every Web API call answered by the local fake Slack after a delay, and prints the
ack latency beside that of a Slack app whose handler only acks. Then it waits until every war
room is open. Loopback only; every wait is bounded.

With `--lock 10`, another connection holds the database's write lock for 10 s from just before
the burst, as another process might: the acks must not wait for it.

    .venv/bin/python bench/slack_ack.py [--requests 50] [--api-delay 0.2] [--paced] [--lock 10]
"""

# ruff: noqa: E402  (the fake Slack lives under tests/, which is not an installed package)

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp
from aiohttp import web
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.adapters.slack import RateLimiter, SlackAdapter
from bot.adapters.slack.app import EVENTS_PATH
from bot.adapters.slack.web import web_client
from bot.bootstrap import build
from bot.port import Inbound, InboundHandler
from config.settings import Settings
from tests.adapters.slack.payloads import event_callback, form, member_joined, signed_headers
from tests.adapters.slack.payloads import slash_command as slash_command_body
from tests.fixtures.roster import small_roster
from tests.fixtures.slack_api import FakeSlack, running_fake_slack

BOT_TOKEN = "xoxb-bench"
SIGNING_SECRET = "bench0signing0secret000000000000"
LOBBY = "C0LOBBY01"
COORDINATOR = "UALICE"  # alice in the test roster
SLACK_ACK_LIMIT = 3.0
REQUEST_TIMEOUT = 10.0

Post = Callable[[str, str, str], Awaitable[tuple[int, float]]]


class Completed:
    """Counts handled events, so the run knows when every declaration is done."""

    def __init__(self) -> None:
        self.dispatcher: InboundHandler | None = None
        self.count = 0
        self.failed = 0
        self._changed = asyncio.Event()

    async def __call__(self, inbound: Inbound) -> None:
        assert self.dispatcher is not None
        try:
            await self.dispatcher(inbound)
        except Exception:
            self.failed += 1
            raise
        finally:
            self.count += 1
            self._changed.set()

    async def wait_for(self, count: int) -> None:
        while self.count < count:
            self._changed.clear()
            await self._changed.wait()


async def signed_post(
    session: aiohttp.ClientSession, url: str, body: str, content_type: str
) -> tuple[int, float]:
    """(status, seconds until the response, i.e. the ack, arrived)."""
    headers = {"Content-Type": content_type, **signed_headers(body, SIGNING_SECRET)}
    started = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            return response.status, time.perf_counter() - started
    except (aiohttp.ClientError, TimeoutError):
        return 0, time.perf_counter() - started


def declaration(number: int) -> str:
    body = {
        **slash_command_body(f"declare Ransomware at hospital {number}", f"trig-bench-{number}"),
        "user_id": COORDINATOR,
        "channel_id": LOBBY,
        "channel_name": "incidents",
    }
    return form(body)


async def fire(session: aiohttp.ClientSession, url: str, requests: int) -> list[tuple[int, float]]:
    # A first event lets Bolt look up (and cache) the bot's identity before the burst.
    warm_up = event_callback(member_joined(COORDINATOR), "Ev0WARMUP")
    await signed_post(session, url, json.dumps(warm_up), "application/json")
    bodies = [declaration(number) for number in range(1, requests + 1)]
    form_type = "application/x-www-form-urlencoded"
    return list(await asyncio.gather(*(signed_post(session, url, b, form_type) for b in bodies)))


async def ack_only_app(slack: FakeSlack) -> tuple[web.AppRunner, str]:
    app = AsyncApp(
        client=web_client(BOT_TOKEN, slack.base_url),
        signing_secret=SIGNING_SECRET,
        request_verification_enabled=True,
    )

    async def just_ack(ack: AsyncAck) -> None:
        await ack()

    async def ignore() -> None:
        """Events are acked by Bolt before their listener runs."""

    app.command("/incident")(just_ack)
    app.event("member_joined_channel")(ignore)  # the warm-up event
    runner = web.AppRunner(app.web_app(path=EVENTS_PATH, port=0))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}{EVENTS_PATH}"


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile (with 50 samples, p99 is the slowest one)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def hold_write_lock(db: Path, seconds: float) -> threading.Thread:
    """Another process's long write: BEGIN IMMEDIATE held for `seconds`, in a thread."""
    locked = threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(db, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(seconds)
        connection.execute("ROLLBACK")
        connection.close()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    locked.wait()
    return holder


async def run(requests: int, api_delay: float, paced: bool, room_wait: float, lock: float) -> int:
    timeouts = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with (
        running_fake_slack(answer_delay=api_delay) as slack,
        aiohttp.ClientSession(timeout=timeouts) as session,
    ):
        runner, baseline_url = await ack_only_app(slack)
        try:
            baseline = await fire(session, baseline_url, requests)
        finally:
            await runner.cleanup()
        slack.calls.clear()

        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "rrt.db"
            bot = build(Settings(database_url=f"sqlite:///{db}"), roster=small_roster())
            completed = Completed()
            completed.dispatcher = bot.dispatcher
            adapter = SlackAdapter(
                bot_token=BOT_TOKEN,
                store=bot.adapter_state,
                on_inbound=completed,
                mode="http",
                signing_secret=SIGNING_SECRET,
                host="127.0.0.1",
                port=0,
                api_base_url=slack.base_url,
                limiter=None if paced else RateLimiter({}),
            )
            bot.attach(adapter)
            await adapter.start()
            try:
                holder = hold_write_lock(db, lock) if lock else None
                started = time.perf_counter()
                measured = await fire(
                    session, f"http://127.0.0.1:{adapter.http_port}/slack/events", requests
                )
                try:
                    await slack.wait_until(lambda: len(slack.channels) >= requests, room_wait)
                    rooms_after = time.perf_counter() - started
                    # The warm-up event and every declaration, handled to the end.
                    async with asyncio.timeout(room_wait):
                        await completed.wait_for(requests + 1)
                except TimeoutError:
                    rooms_after = math.inf
                opened = [i for i in bot.store.open_incidents() if "slack" in i.rooms]
                if holder is not None:
                    holder.join()
            finally:
                await adapter.stop()
                bot.close()

    if lock:
        print(f"another connection held the write lock for {lock:.0f} s from the burst's start")
    return report(
        requests, api_delay, paced, measured, baseline, len(opened), rooms_after, completed
    )


def report(
    requests: int,
    api_delay: float,
    paced: bool,
    measured: list[tuple[int, float]],
    baseline: list[tuple[int, float]],
    opened: int,
    rooms_after: float,
    completed: Completed,
) -> int:
    pacing = "paced to Slack's rate tiers" if paced else "unpaced"
    print(
        f"{requests} concurrent signed `/incident declare` requests; every Web API call answered "
        f"after {api_delay * 1000:.0f} ms; Web API calls {pacing}"
    )
    print(f"{'ack latency':22} {'p50':>11} {'p99':>11}   p99 of Slack's 3 s")
    rows = {"rrt bot": measured, "ack-only Bolt app": baseline}
    p99s: dict[str, float] = {}
    p50s: dict[str, float] = {}
    for name, results in rows.items():
        latencies = [seconds for _, seconds in results]
        p50s[name], p99s[name] = percentile(latencies, 0.5), percentile(latencies, 0.99)
        share = p99s[name] / SLACK_ACK_LIMIT
        print(f"{name:22} {ms(p50s[name])} {ms(p99s[name])}   {share:7.1%}")
    print(
        f"{'bot / ack-only':22} {p50s['rrt bot'] / p50s['ack-only Bolt app']:10.2f}x "
        f"{p99s['rrt bot'] / p99s['ack-only Bolt app']:10.2f}x"
    )
    failed_acks = sum(1 for status, _ in measured if status != 200)
    errors = failed_acks + (requests - opened) + completed.failed
    rooms = (
        f"in {rooms_after:.2f} s" if math.isfinite(rooms_after) else "not all before the timeout"
    )
    print(f"war rooms: {opened}/{requests} open, created {rooms} after the burst started")
    print(f"errors: {errors} ({failed_acks} failed acks, {requests - opened} without a war room)")
    return 0 if errors == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--api-delay", type=float, default=0.2, help="seconds per Web API answer")
    parser.add_argument(
        "--paced",
        action="store_true",
        help="pace Web API calls to Slack's tiers, as `rrt run` does",
    )
    parser.add_argument("--room-wait", type=float, default=300.0, help="seconds to wait for rooms")
    parser.add_argument(
        "--lock", type=float, default=0.0, help="seconds another connection holds the write lock"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    return asyncio.run(run(args.requests, args.api_delay, args.paced, args.room_wait, args.lock))


if __name__ == "__main__":
    sys.exit(main())
