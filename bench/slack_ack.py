"""How fast the Slack app acknowledges `/incident declare` while the bot does the work behind it.

Slack gives an app 3 seconds to acknowledge a request. This fires bursts of concurrent signed
`/incident declare` requests at the real bot and Slack app (HTTP mode, SQLite on a temporary
file), with every Web API call answered by the local fake Slack after a delay, and at a Slack
app whose handler only acks, in turn; after each burst at the bot it waits until every war room
is open. It prints the ack latency of both and, on its last line, the medians over the rounds
and their ratio. Loopback only; every wait is bounded.

With `--lock 10`, another connection holds the database's write lock for 10 s from just before
each burst at the bot, as another process might: the acks must not wait for it.

    .venv/bin/python bench/slack_ack.py [--requests 50] [--rounds 5] [--api-delay 0.2] [--paced]
        [--lock 10] [--quick]
"""

# ruff: noqa: E402  (the fake Slack lives under tests/, which is not an installed package)

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import math
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
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


async def warm_up(session: aiohttp.ClientSession, url: str) -> None:
    """A first event, so that Bolt looks up (and caches) the bot's identity before the burst."""
    event = event_callback(member_joined(COORDINATOR), "Ev0WARMUP")
    await signed_post(session, url, json.dumps(event), "application/json")


async def fire(
    session: aiohttp.ClientSession, url: str, requests: int, first: int = 1
) -> list[float | None]:
    """Ack latency of each of `requests` declarations sent at once (None: no 200 ack)."""
    bodies = [declaration(number) for number in range(first, first + requests)]
    form_type = "application/x-www-form-urlencoded"
    sent = await asyncio.gather(*(signed_post(session, url, b, form_type) for b in bodies))
    return [seconds if status == 200 else None for status, seconds in sent]


async def ack_only_app(slack: FakeSlack) -> tuple[web.AppRunner, str]:
    app = AsyncApp(
        client=web_client(BOT_TOKEN, slack.base_url),
        signing_secret=SIGNING_SECRET,
        request_verification_enabled=True,
        process_before_response=True,  # as the bot's app: the ack goes out as the listener returns
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


@dataclass
class Round:
    bot: list[float | None]
    baseline: list[float | None]
    rooms_after: float  # seconds from the burst's start until its war rooms were all created


async def run(args: argparse.Namespace) -> int:
    requests, lock = args.requests, args.lock
    timeouts = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with (
        running_fake_slack(answer_delay=args.api_delay) as slack,
        aiohttp.ClientSession(timeout=timeouts) as session,
        contextlib.AsyncExitStack() as stack,
    ):
        gc.freeze()  # as `rrt run` does once started (a bare app would have far less loaded)
        runner, baseline_url = await ack_only_app(slack)
        stack.push_async_callback(runner.cleanup)
        await warm_up(session, baseline_url)

        db = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "rrt.db"
        bot = build(Settings(database_url=f"sqlite:///{db}"), roster=small_roster())
        stack.callback(bot.close)
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
            limiter=None if args.paced else RateLimiter({}),
        )
        bot.attach(adapter)
        gc.freeze()  # as `rrt run` does once the bot is built
        await adapter.start()
        stack.push_async_callback(adapter.stop)
        url = f"http://127.0.0.1:{adapter.http_port}{EVENTS_PATH}"
        await warm_up(session, url)
        async with asyncio.timeout(REQUEST_TIMEOUT):  # its handling is not measured
            await completed.wait_for(1)

        # The two apps take turns, so that load from elsewhere falls on both alike.
        rounds: list[Round] = []
        for number in range(args.rounds):
            first = 1 + number * requests
            baseline = await fire(session, baseline_url, requests, first)
            holder = hold_write_lock(db, lock) if lock else None
            started = time.perf_counter()
            measured = await fire(session, url, requests, first)
            done = first - 1 + requests
            try:
                await slack.wait_until(lambda d=done: len(slack.channels) >= d, args.room_wait)
                rooms_after = time.perf_counter() - started
                # The warm-up event and every declaration so far, handled to the end.
                async with asyncio.timeout(args.room_wait):
                    await completed.wait_for(done + 1)
            except TimeoutError:
                rooms_after = math.inf
            if holder is not None:
                holder.join()
            rounds.append(Round(measured, baseline, rooms_after))
            if not math.isfinite(rooms_after):
                break
        opened = sum(1 for i in bot.store.open_incidents() if "slack" in i.rooms)

    if lock:
        print(f"another connection held the write lock for {lock:.0f} s from each burst's start")
    return report(args, rounds, opened, completed.failed)


def stats(samples: list[float | None]) -> tuple[float, float]:
    """(p50, p99) of the acks that came (a missing ack counts as the slowest)."""
    latencies = [math.inf if seconds is None else seconds for seconds in samples]
    return percentile(latencies, 0.5), percentile(latencies, 0.99)


def report(args: argparse.Namespace, rounds: list[Round], opened: int, failed: int) -> int:
    pacing = "paced to Slack's rate tiers" if args.paced else "unpaced"
    print(
        f"{args.requests} concurrent signed `/incident declare` requests, {len(rounds)} round(s); "
        f"every Web API call answered after {args.api_delay * 1000:.0f} ms; Web API calls {pacing}"
    )
    print(f"{'ack latency':22} {'p50':>11} {'p99':>11}   p99 of Slack's 3 s   war rooms")
    bot_p50s, bot_p99s, base_p50s, base_p99s = [], [], [], []
    for number, measured in enumerate(rounds, 1):
        (bot_p50, bot_p99), (base_p50, base_p99) = stats(measured.bot), stats(measured.baseline)
        bot_p50s.append(bot_p50)
        bot_p99s.append(bot_p99)
        base_p50s.append(base_p50)
        base_p99s.append(base_p99)
        rooms = f"in {measured.rooms_after:.2f} s" if math.isfinite(measured.rooms_after) else "-"
        print(
            f"{f'round {number}: rrt bot':22} {ms(bot_p50)} {ms(bot_p99)}   "
            f"{bot_p99 / SLACK_ACK_LIMIT:7.1%}              {rooms}"
        )
        print(
            f"{'  ack-only Bolt app':22} {ms(base_p50)} {ms(base_p99)}   "
            f"{base_p99 / SLACK_ACK_LIMIT:7.1%}"
        )
    expected = args.requests * len(rounds)
    failed_acks = sum(seconds is None for r in rounds for seconds in r.bot)
    late = "" if all(math.isfinite(r.rooms_after) for r in rounds) else " (not all in time)"
    errors = failed_acks + (expected - opened) + failed
    print(f"war rooms: {opened}/{expected} open{late}")
    print(
        f"errors: {errors} ({failed_acks} failed acks, {expected - opened} without a war room, "
        f"{failed} handlers raised)"
    )
    p50, p99 = statistics.median(bot_p50s), statistics.median(bot_p99s)
    base_p50, base_p99 = statistics.median(base_p50s), statistics.median(base_p99s)
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"ack p99 {p99 * 1000:.1f} ms (p50 {p50 * 1000:.1f}); ack-only Bolt app p99 "
        f"{base_p99 * 1000:.1f} ms (p50 {base_p50 * 1000:.1f}); ratio {p99 / base_p99:.2f}x "
        f"(median of rounds: {len(rounds)} x {args.requests} requests); errors {errors}; "
        f"load {load}"
    )
    return 0 if errors == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5, help="bursts for each app, in turn")
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
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: one round of 10 requests"
    )
    args = parser.parse_args()
    if args.quick:
        args.requests, args.rounds = 10, 1
    logging.basicConfig(level=logging.ERROR)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
