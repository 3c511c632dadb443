"""How long the bot takes from start to ready with many open incidents and pending timers.

Fills a SQLite database with `--incidents` N open incidents (each with two pending pages, so
two pending ack timers: 2N in all) by direct inserts into the store's own tables, then times
`build` (open the store, load policy and roster) plus `Bot.start` (replay, timer rebuild, the
scheduler armed) on it, beside the same on an empty database, in the same run.

    .venv/bin/python bench/startup.py [--incidents 10000] [--runs 3] [--quick]
"""

# ruff: noqa: E402  (the test roster and settings live under tests/, not an installed package)

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot, build
from bot.core.clock import FakeClock
from bot.core.incident import Incident
from handlers.timer_sync import wanted
from storage.assignments import busy
from storage.tables import (
    AssignmentRow,
    IncidentCounter,
    IncidentRow,
    RoomRow,
    TimerRow,
    table_of,
)
from tests.fixtures.roster import small_roster
from tests.fixtures.settings import settings_in

# Later than the real clock, so that no timer of the filled incidents falls due meanwhile.
START = datetime(2030, 11, 30, 8, 0, tzinfo=UTC)
COORDINATOR = "alice"
_BATCH = 2000


def new_bot(folder: Path, clock: FakeClock | None = None) -> tuple[Bot, ConsolePlatform]:
    bot = build(settings_in(folder), clock=clock or FakeClock(START), roster=small_roster())
    console = ConsolePlatform(on_inbound=bot.dispatcher)
    bot.attach(console)
    return bot, console


async def template(folder: Path) -> Incident:
    """An incident declared through the bot, with a second role paged (two ack timers)."""
    bot, console = new_bot(folder)
    try:
        await bot.start()
        await console.say(COORDINATOR, console.lobby, "declare Template incident")
        incident = bot.store.open_incidents()[0]
    finally:
        bot.close()
    data = json.loads(incident.model_dump_json())
    role = json.loads(json.dumps(data["team"]["roles"][0]))
    role["role"], role["candidates"] = "analyst", ["bob"]
    role["pages"][0].update(person_id="bob", role="analyst")
    data["team"]["roles"].append(role)
    return Incident.model_validate(data)


def fill(bot: Bot, model: Incident, count: int, first_seq: int = 1) -> None:
    """Add `count` open incidents like `model`, with their room bindings, timers and busy
    people, in batches of direct inserts (the timers are those `handlers.timer_sync` wants, so
    start finds them in step)."""
    snapshot = json.loads(model.model_dump_json())
    year = model.declared_at.year
    incidents: list[dict[str, Any]] = []
    rooms: list[dict[str, Any]] = []
    timers: list[dict[str, Any]] = []
    busy_people: list[dict[str, Any]] = []
    wants, people = wanted(bot.services, model), busy(model)
    for seq in range(first_seq, first_seq + count):
        incident_id = f"INC-{year}-{seq:04d}"
        data = dict(snapshot, id=incident_id, source=f"bench:{incident_id}")
        data["rooms"] = {
            name: dict(room, room_id=f"bench-room-{seq}")
            for name, room in snapshot["rooms"].items()
        }
        incidents.append(
            {
                "id": incident_id,
                "year": year,
                "seq": seq,
                "state": model.state.value,
                "is_open": True,
                "snapshot": json.dumps(data),
                "version": 1,
            }
        )
        rooms.extend(
            {"platform": name, "room_id": f"bench-room-{seq}", "incident_id": incident_id}
            for name in snapshot["rooms"]
        )
        busy_people.extend({"incident_id": incident_id, "person_id": who} for who in people)
        for timer in wants:
            timers.append(
                {
                    "incident_id": incident_id,
                    "kind": timer.kind,
                    "key": timer.key,
                    "due_at": timer.due_at,
                    "late": False,
                }
            )
    with bot.store.engine.begin() as connection:
        for table, rows in (
            (table_of(IncidentRow), incidents),
            (table_of(RoomRow), rooms),
            (table_of(TimerRow), timers),
            (table_of(AssignmentRow), busy_people),
        ):
            for start in range(0, len(rows), _BATCH):
                connection.execute(insert(table), rows[start : start + _BATCH])
        last = first_seq + count - 1
        counters = table_of(IncidentCounter)
        connection.execute(counters.delete().where(counters.c.year == year))
        connection.execute(insert(counters).values(year=year, last_seq=last))


@contextmanager
def bench_folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="rrt-bench-") as folder:
        yield Path(folder)


async def time_start(folder: Path) -> float:
    """Seconds from nothing open to a bot ready to take events (timers rebuilt and armed)."""
    started = time.perf_counter()
    bot, _console = new_bot(folder)
    try:
        await bot.start()
        return time.perf_counter() - started
    finally:
        bot.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 200 incidents, 1 run")
    args = parser.parse_args()
    count, runs = (200, 1) if args.quick else (args.incidents, args.runs)
    with bench_folder() as empty, bench_folder() as loaded, bench_folder() as scratch:
        model = await template(scratch)
        await time_start(empty)  # creates and migrates the empty database
        bot, _console = new_bot(loaded)
        try:
            filling = time.perf_counter()
            fill(bot, model, count)
            filled_in = time.perf_counter() - filling
        finally:
            bot.close()
        print(f"filled {count} open incidents and {2 * count} timers in {filled_in:.1f} s")
        empty_s, loaded_s = [], []
        for _ in range(runs):
            empty_s.append(await time_start(empty))
            loaded_s.append(await time_start(loaded))
        for name, found in (("empty database", empty_s), (f"{count} open incidents", loaded_s)):
            print(f"  {name:>22}: " + "  ".join(f"{s:.2f} s" for s in found))
    figure, baseline = statistics.median(loaded_s), statistics.median(empty_s)
    print(
        f"start to ready with {count} open incidents and {2 * count} timers: {figure:.2f} s; "
        f"empty database: {baseline:.2f} s; ratio {figure / baseline:.1f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
