"""`python -m bot.scripted`: the console bot fed by a script on stdin, on a simulated clock.

Each line is a console line (`declare …`, `:as <name>`, `:go <room>`, `:click <n>`) or
`:wait <duration>`, which moves the clock on, firing timers as they fall due. Progress (lines
done, the clock, who speaks where) is kept in the database, so a killed process restarts on
the same database and continues: at start it prints `@ready <lines done>`, after each line
`@done <index>`. Line N is delivered as event `script-N`, so sending it again is a duplicate.

`RRT_CRASH_AT` makes the process kill itself, to test recovery: `inbox:<event id>` right after
that event is recorded (at the commit when it is recorded with its decision), `saved:<event
kind>` right after the unit of work that logs that kind commits (before its effects are
delivered), `firing:<timer kind>` as a due timer of that kind starts to fire,
`delivered:<effect kind>` after the platform carried out such an effect but before the outbox
marks it done.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot, build
from bot.core.durations import parse_duration
from bot.core.events import LogEvent
from bot.core.incident import Incident
from bot.core.store import Decided, StoredEffect, Timer
from bot.interactive import ConsoleSession
from config.settings import Settings
from handlers.timers import rebuild
from storage.sql_store import SqlStore, open_store

STATE_KEY = "scripted:state"
DEFAULT_START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


class ScriptClock:
    """The script's time: a start kept in the database plus the waits done so far."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return self.start + self.offset


class CrashingStore(SqlStore):
    """The SQL store, killing its own process at a chosen point (see `RRT_CRASH_AT`)."""

    def __init__(self, store: SqlStore, clock: ScriptClock, crash_at: str) -> None:
        super().__init__(store.engine, clock)
        self.crash_at = crash_at
        self._timer_kinds: dict[int, str] = {}
        self._logging: list[str] = []
        self._in_unit = False

    def record(self, platform: str, event_id: str, payload: str, handled: bool = False) -> bool:
        recorded = super().record(platform, event_id, payload, handled)
        if self.crash_at == f"inbox:{event_id}":
            if not self._in_unit:
                _die()
            self._logging.append("inbox")  # recorded with its decision: dies at the commit
        return recorded

    @contextmanager
    def unit_of_work(
        self,
        *,
        origin: str,
        lane: str,
        reply_to: tuple[str, str] | None = None,
        claim: Callable[[str], bool] | None = None,
    ) -> Iterator[Decided]:
        self._logging = []
        self._in_unit = True
        try:
            with super().unit_of_work(
                origin=origin, lane=lane, reply_to=reply_to, claim=claim
            ) as decided:
                yield decided
        finally:
            self._in_unit = False
        if "inbox" in self._logging or any(
            self.crash_at == f"saved:{kind}" for kind in self._logging
        ):
            _die()  # committed, nothing of it delivered yet

    def save(self, incident: Incident, events: Sequence[LogEvent]) -> None:
        super().save(incident, events)
        self._logging += [event.kind for event in events]

    def append(self, events: Sequence[LogEvent]) -> None:
        super().append(events)
        self._logging += [event.kind for event in events]

    def due(self, now: datetime) -> list[Timer]:
        timers = super().due(now)
        self._timer_kinds.update((timer.id, timer.kind) for timer in timers)
        return timers

    def claim(self, timer_id: int, now: datetime) -> bool:
        if self.crash_at == f"firing:{self._timer_kinds.get(timer_id)}":
            _die()
        return super().claim(timer_id, now)

    def delivered(self, effect: StoredEffect, result: str | None, refs: dict[str, str]) -> None:
        if self.crash_at == f"delivered:{effect.kind}":
            _die()  # the platform has done it; the outbox does not know yet
        super().delivered(effect, result, refs)


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Progress:
    """What the script has done, kept in the database between runs."""

    start: str
    offset_seconds: float = 0.0
    done: int = 0
    who: str | None = None
    room: str | None = None
    wait_until: float | None = None  # a `:wait` under way: the offset it ends at


class ScriptRunner:
    def __init__(self, bot: Bot, clock: ScriptClock, out: Callable[[str], None]) -> None:
        self.bot, self.clock, self.out = bot, clock, out
        saved = bot.store.kv.get(STATE_KEY)
        self.progress = (
            Progress(**json.loads(saved)) if saved else Progress(start=clock.start.isoformat())
        )
        clock.start = datetime.fromisoformat(self.progress.start)
        clock.offset = timedelta(seconds=self.progress.offset_seconds)
        self.console = ConsolePlatform(on_inbound=bot.dispatcher, echo=out, state=bot.store.kv)
        bot.attach(self.console)
        self.session = ConsoleSession(bot, self.console, out)
        self.session.who = self.progress.who or self.session.who
        self.session.room = self.progress.room or self.session.room

    async def start(self) -> None:
        """Finish what a crash interrupted: recorded events, timers that fell due."""
        await self.bot.dispatcher.replay()
        await self.bot.dispatcher.offload(lambda: rebuild(self.bot.services))
        if self.progress.wait_until is not None:  # the wait was its line: that line is done
            await self._wait_until(timedelta(seconds=self.progress.wait_until))
            self._finish_line()
        await self.bot.scheduler.fire_due()
        self.out(f"@ready {self.progress.done}")

    async def line(self, text: str) -> bool:
        """Run the next script line; False when the script ends."""
        index = self.progress.done
        verb, _, rest = text.strip().partition(" ")
        if verb == ":wait":
            try:
                delta = parse_duration(rest.strip())
            except ValueError as error:
                self.out(str(error))
            else:
                await self._wait_until(self.clock.offset + delta)
        elif not await self.session.line(text, event_id=f"script-{index}"):
            return False
        await self.bot.scheduler.fire_due()
        self._finish_line()
        self.out(f"@done {index}")
        return True

    def _finish_line(self) -> None:
        self.progress.done += 1
        self.progress.wait_until = None
        self._save()

    async def _wait_until(self, target: timedelta) -> None:
        """Move the clock to `target`, stopping at each timer on the way, as real time would."""
        self.progress.wait_until = target.total_seconds()
        self._save()
        timers = self.bot.services.timers
        while (due := timers.next_due_at()) is not None and due <= self.clock.start + target:
            self._move_to(max(due - self.clock.start, self.clock.offset))
            await self.bot.scheduler.fire_due()
        self._move_to(target)

    def _move_to(self, offset: timedelta) -> None:
        self.clock.offset = offset
        self.progress.offset_seconds = offset.total_seconds()
        self._save()

    def _save(self) -> None:
        self.progress.who, self.progress.room = self.session.who, self.session.room
        self.bot.store.kv.set(STATE_KEY, json.dumps(asdict(self.progress)))


async def run_script(
    settings: Settings, db: Path, start: datetime, stream: TextIO, out: Callable[[str], None]
) -> int:
    clock = ScriptClock(start)
    url = f"sqlite:///{db}"
    store = open_store(url, clock)
    crash_at = os.environ.get("RRT_CRASH_AT")
    if crash_at:
        store = CrashingStore(store, clock, crash_at)
    bot = build(settings.model_copy(update={"database_url": url}), clock=clock, store=store)
    try:
        runner = ScriptRunner(bot, clock, out)
        await runner.start()
        while text := await asyncio.to_thread(stream.readline):
            if text.strip() and not await runner.line(text):
                break
    finally:
        bot.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.scripted", description=__doc__)
    parser.add_argument("--db", required=True, help="SQLite file; reused to continue a script")
    parser.add_argument(
        "--start",
        type=datetime.fromisoformat,
        default=DEFAULT_START,
        help="simulated start time (UTC) of a new script; a reused database keeps its own",
    )
    args = parser.parse_args(argv)
    start = args.start if args.start.tzinfo else args.start.replace(tzinfo=UTC)

    def out(line: str) -> None:
        print(line, flush=True)

    return asyncio.run(run_script(Settings(), Path(args.db), start, sys.stdin, out))


if __name__ == "__main__":
    sys.exit(main())
