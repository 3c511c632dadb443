"""What one `note` costs the bot, on SQLite and on PostgreSQL.

Declares an incident on the console platform, then sends `--notes` notes in its war room one
at a time, each to its end (recorded, decided, committed, its answer delivered). The mark that
an answer was delivered is written by the next note's transaction, and the last one's on its
own; all are counted. It prints per note: the time, the SQL statements, write transactions
and round trips it runs, and the time beyond its commits (the time less as many bare INSERT +
COMMIT transactions). The baseline, measured in the same run on the same
database, is a bare INSERT + COMMIT. PostgreSQL is a private throw-away cluster started with
the test fixtures' helper (skipped with `--no-postgres`, or when its binaries are missing).

    .venv/bin/python bench/command_cost.py [--notes 300] [--no-postgres] [--quick]
"""

# ruff: noqa: E402  (the test fixtures live under tests/, not an installed package)

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from glob import glob
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Connection, Engine, event

from bench.startup import COORDINATOR, START, bench_folder
from bot.adapters.console import ConsolePlatform
from bot.bootstrap import build
from bot.core.clock import FakeClock
from tests.fixtures.roster import small_roster
from tests.fixtures.settings import settings_in


@dataclass
class Cost:
    note_ms: float
    bare_ms: float
    cpu_ms: float  # per note, the process's CPU time (every thread's, user and system)
    statements: float  # per note, in write transactions
    commits: float  # per note, of write transactions
    reads: float  # per note, statements in read-only transactions
    round_trips: float  # per note, to the database server: statements, BEGINs and COMMITs
    decision_ms: float  # the note's decision: its one transaction, from BEGIN to its COMMIT
    decision_statements: float

    @property
    def beyond_commits_ms(self) -> float:
        return self.note_ms - self.commits * self.bare_ms


class Counter:
    """The SQL statements and transactions run through the store's engines (a transaction that
    writes is a write transaction, else a read), and how long the transactions that append to
    the log (the decisions) take up to their commit."""

    def __init__(self, engines: set[Engine]) -> None:
        self.statements = self.commits = self.reads = self.round_trips = 0
        self.decisions: list[tuple[float, int]] = []  # (seconds, statements)
        for engine in engines:
            event.listen(engine, "begin", self._begin)
            event.listen(engine, "before_cursor_execute", self._statement)
            event.listen(engine, "commit", self._commit)

    def _begin(self, connection: Connection) -> None:
        autocommit = connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        connection.info["bench"] = Transaction(time.perf_counter(), autocommit)

    def _statement(self, connection: Connection, _cursor: Any, sql: str, *_args: Any) -> None:
        started: Transaction | None = connection.info.get("bench")
        if started is not None:
            started.statements += 1
            started.writes = started.writes or sql.startswith(("INSERT", "UPDATE", "DELETE"))
            started.appends = started.appends or sql.startswith("INSERT INTO log ")

    def _commit(self, connection: Connection) -> None:
        ended: Transaction | None = connection.info.pop("bench", None)
        if ended is None:
            return
        self.round_trips += ended.statements + (0 if ended.autocommit else 2)
        if not ended.writes:
            self.reads += ended.statements
            return
        self.commits += 1
        self.statements += ended.statements
        if ended.appends:
            self.decisions.append((time.perf_counter() - ended.started, ended.statements))


@dataclass
class Transaction:
    started: float
    autocommit: bool  # no BEGIN or COMMIT sent
    statements: int = 0
    writes: bool = False
    appends: bool = False  # to the log: a decision


def bare_insert_ms(engine: Engine, count: int) -> float:
    """A one-row INSERT and COMMIT, through the driver alone, on the bot's own database."""
    with engine.connect() as connection:
        raw: Any = connection.connection.dbapi_connection
        cursor = raw.cursor()
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_bare (n INTEGER)")
        raw.commit()
        postgres = engine.dialect.name == "postgresql"
        insert = (
            "INSERT INTO bench_bare VALUES (%s)"
            if postgres
            else "INSERT INTO bench_bare VALUES (?)"
        )
        started = time.perf_counter()
        for number in range(count):
            if not postgres:
                cursor.execute("BEGIN IMMEDIATE")  # as the bot's own write transactions
            cursor.execute(insert, (number,))
            if postgres:
                raw.commit()
            else:
                cursor.execute("COMMIT")
        taken = (time.perf_counter() - started) * 1000 / count
        cursor.execute("DROP TABLE bench_bare")
        raw.commit()
        return taken


async def note_cost(folder: Path, database_url: str | None, notes: int) -> Cost:
    settings = settings_in(folder, log_key_file=folder / "rrt-log.key")
    if database_url is not None:
        settings = settings.model_copy(update={"database_url": database_url})
    bot = build(settings, clock=FakeClock(START), roster=small_roster())
    console = ConsolePlatform(on_inbound=bot.dispatcher)
    bot.attach(console)
    try:
        await bot.start()
        await console.say(COORDINATOR, console.lobby, "declare Command cost")
        room = console.room_by_name("inc-").id
        for number in range(10):  # warm-up: caches, prepared statements, connections
            await console.say(COORDINATOR, room, f"note warm-up {number}")
        # On PostgreSQL the reader is the engine in autocommit (its pool too), whose events
        # the engine's listeners see; on SQLite it is an engine of its own.
        engine, reader = bot.store.engine, bot.store.reader
        counted = Counter({engine} if reader.pool is engine.pool else {engine, reader})
        taken = []
        cpu_started = time.process_time()
        for number in range(notes):
            started = time.perf_counter()
            await console.say(COORDINATOR, room, f"note Finding number {number}")
            taken.append((time.perf_counter() - started) * 1000)
        cpu = (time.process_time() - cpu_started) * 1000 / notes
        await asyncio.sleep(0.2)  # the last answer's mark, written on its own
        bare = bare_insert_ms(bot.store.engine, max(notes, 200))
        median = statistics.median(taken)
        decision = statistics.median(seconds for seconds, _ in counted.decisions) * 1000
        in_decision = statistics.median(count for _, count in counted.decisions)
        return Cost(
            median,
            bare,
            cpu,
            counted.statements / notes,
            counted.commits / notes,
            counted.reads / notes,
            counted.round_trips / notes,
            decision,
            in_decision,
        )
    finally:
        bot.close()


@contextmanager
def postgres_url() -> Iterator[str | None]:
    """A database in a private PostgreSQL cluster, or None when PostgreSQL is not installed."""
    if not (shutil.which("initdb") or glob("/usr/lib/postgresql/*/bin/initdb")):
        yield None
        return
    from tests.fixtures.postgres import private_cluster

    with private_cluster("rrt-bench-pg-") as cluster:
        yield cluster.create_database("rrt_bench")


def show(name: str, cost: Cost) -> None:
    print(
        f"  {name:>10}: note {cost.note_ms:.2f} ms ({cost.statements:.1f} statements in "
        f"{cost.commits:.2f} write transactions, {cost.reads:.1f} in reads; "
        f"{cost.round_trips:.1f} round trips), "
        f"beyond its commits {cost.beyond_commits_ms:.2f} ms, CPU {cost.cpu_ms:.2f} ms; "
        f"bare INSERT + COMMIT {cost.bare_ms:.3f} ms\n"
        f"{'':>14}its decision: {cost.decision_ms:.2f} ms in one transaction of "
        f"{cost.decision_statements:.0f} statements, to its COMMIT"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=300)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 notes")
    args = parser.parse_args()
    notes = 20 if args.quick else args.notes
    with ExitStack() as stack:
        sqlite = await note_cost(stack.enter_context(bench_folder()), None, notes)
        show("SQLite", sqlite)
        url = None if args.no_postgres else stack.enter_context(postgres_url())
        postgres = await note_cost(stack.enter_context(bench_folder()), url, notes) if url else None
        if postgres is not None:
            show("PostgreSQL", postgres)
    last = (
        f"note on SQLite: {sqlite.note_ms:.2f} ms, {sqlite.beyond_commits_ms:.2f} ms beyond its "
        f"{sqlite.commits:.0f} commits ({sqlite.statements:.0f} statements), decision "
        f"{sqlite.decision_ms:.2f} ms ({sqlite.decision_statements:.0f} statements); bare INSERT "
        f"+ COMMIT: {sqlite.bare_ms:.3f} ms; ratio {sqlite.note_ms / sqlite.bare_ms:.0f}x"
    )
    if postgres is not None:
        last += (
            f"; on PostgreSQL: {postgres.note_ms:.2f} ms in {postgres.round_trips:.0f} round "
            f"trips, ratio to SQLite "
            f"{postgres.note_ms / sqlite.note_ms:.2f}x"
        )
    print(last)


if __name__ == "__main__":
    asyncio.run(main())
