"""How long `rrt log verify` takes on a large incident log, beside a bare script doing the same
hash checks.

The database is made by `rrt demo` (the real handlers and the real log append path: one
incident, its snapshot and signed head), then grown to `--entries` with rows inserted directly,
each chained on the one before exactly as the log append path chains it (the demo's entries
replayed for the same incident, leaving its snapshot true), and its head signed again with the
same key. `rrt log verify` is then run end to end as a process (hash chain, signed head,
snapshots) and timed beside a script using only sqlite3 and hashlib that walks the same chain
and head. The last line gives both and their ratio.

    .venv/bin/python bench/verify.py [--entries 100000] [--runs 3] [--quick]
"""

# ruff: noqa: E402  (run from the repository root without installing)

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.log import entry_hash, head_message
from storage.signing import LogSigner

# Kinds that change what the snapshot check rebuilds: replaying them would make the demo's
# snapshot disagree with its log.
CHANGES_SNAPSHOT = {"declared", "tlp_changed", "state_changed", "orgs_named", "orgs_unnamed"}

# The same checks as the chain walk of `rrt log verify`, with nothing but sqlite3 and hashlib.
BARE_VERIFY = """
import hashlib, json, sqlite3, sys
from datetime import UTC, datetime

connection = sqlite3.connect(sys.argv[1])
head_seq, head_hash = connection.execute("SELECT seq, hash FROM log_head WHERE id = 1").fetchone()
expected, prev = 1, "0" * 64
rows = connection.execute(
    "SELECT seq, at, incident_id, actor, kind, data, prev_hash, hash FROM log ORDER BY seq"
)
for seq, at, incident_id, actor, kind, data, prev_hash, digest in rows:
    if seq != expected or prev_hash != prev:
        sys.exit(f"chain broken at {seq}")
    stamp = datetime.fromisoformat(at).replace(tzinfo=UTC).isoformat(timespec="microseconds")
    canonical = json.dumps(
        {"seq": seq, "at": stamp, "incident_id": incident_id, "actor": actor, "kind": kind,
         "data": json.loads(data)},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
    )
    if hashlib.sha256((prev + canonical).encode()).hexdigest() != digest:
        sys.exit(f"hash mismatch at {seq}")
    expected, prev = seq + 1, digest
if (head_seq, head_hash) != (expected - 1, prev):
    sys.exit("head mismatch")
print(f"chain OK: {expected - 1} entries")
"""


def clean_env(workdir: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith("RRT_") and name.upper() != "DATABASE_URL"
    }
    env.update(HOME=str(workdir), PYTHONPATH=str(ROOT), MPLCONFIGDIR=str(workdir / "mpl"))
    return env


def rrt(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env=clean_env(cwd),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def build(db: Path, entries: int) -> None:
    """The demo's database, grown to `entries` chained rows with a freshly signed head."""
    played = rrt("demo", "--db", db.name, "--quiet", cwd=db.parent)
    if played.returncode != 0:
        sys.exit(f"rrt demo failed:\n{played.stderr}")
    connection = sqlite3.connect(db)
    try:
        _grow(connection, db, entries)
    finally:
        connection.close()


def _grow(connection: sqlite3.Connection, db: Path, entries: int) -> None:
    pattern = [
        (incident_id, actor, kind, json.loads(data))
        for incident_id, actor, kind, data in connection.execute(
            "SELECT incident_id, actor, kind, data FROM log ORDER BY seq"
        )
        if kind not in CHANGES_SNAPSHOT
    ]
    seq, prev, signed_from = connection.execute(
        "SELECT seq, hash, signed_from FROM log_head WHERE id = 1"
    ).fetchone()
    (last,) = connection.execute("SELECT max(at) FROM log").fetchone()
    at = datetime.fromisoformat(last).replace(tzinfo=UTC)
    rows = []
    for n in range(entries - seq):
        seq += 1
        at += timedelta(seconds=1)
        incident_id, actor, kind, data = pattern[n % len(pattern)]
        digest = entry_hash(prev, seq, at, incident_id, actor, kind, data)
        stored = json.dumps(
            data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        # The text form SQLAlchemy gives a timestamp in SQLite.
        when = at.strftime("%Y-%m-%d %H:%M:%S.%f")
        rows.append((seq, when, incident_id, actor, kind, stored, prev, digest))
        prev = digest
    (database,) = connection.execute(
        "SELECT value FROM key_values WHERE key = 'db:identity'"
    ).fetchone()
    signer = LogSigner.for_database(f"sqlite:///{db}")
    signature = signer.sign(head_message(database, signed_from, seq, prev)).hex()
    with connection:
        connection.executemany(
            "INSERT INTO log (seq, at, incident_id, actor, kind, data, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        connection.execute(
            "UPDATE log_head SET seq = ?, hash = ?, signature = ? WHERE id = 1",
            (seq, prev, signature),
        )


def timed(command: list[str], cwd: Path, expect: str) -> tuple[float, float]:
    """(wall, CPU) seconds of running `command` to its end; CPU counts user and system time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=clean_env(cwd), capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or not done.stdout.startswith(expect):
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return elapsed, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each (median shown)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2,000 entries, once")
    args = parser.parse_args()
    entries, runs = (2_000, 1) if args.quick else (args.entries, args.runs)
    with tempfile.TemporaryDirectory(prefix="rrt-bench-verify-") as scratch:
        workdir = Path(scratch)
        db = workdir / "bench.db"
        started = time.perf_counter()
        build(db, entries)
        print(f"built {entries} entries in {time.perf_counter() - started:.1f} s")
        verify = [sys.executable, "-m", "bot.cli", "log", "verify", "--db", db.name]
        bare = [sys.executable, "-c", BARE_VERIFY, db.name]
        ours, theirs = [], []
        for _ in range(runs):  # alternately, so that both see the same load
            ours.append(timed(verify, workdir, f"log OK: {entries} entries"))
            theirs.append(timed(bare, workdir, f"chain OK: {entries} entries"))
    for name, runs_of in (("rrt log verify", ours), ("sqlite3+hashlib", theirs)):
        walls = " ".join(f"{wall:.2f}" for wall, _ in runs_of)
        cpus = " ".join(f"{cpu:.2f}" for _, cpu in runs_of)
        print(f"{name}: wall {walls} s; CPU {cpus} s")
    wall, base = (statistics.median(t for t, _ in runs_of) for runs_of in (ours, theirs))
    cpu, base_cpu = (statistics.median(c for _, c in runs_of) for runs_of in (ours, theirs))
    load = " ".join(f"{figure:.2f}" for figure in os.getloadavg())
    print(
        f"result: rrt log verify {wall:.2f} s vs sqlite3+hashlib {base:.2f} s = "
        f"{wall / base:.2f}×; CPU {cpu:.2f} s vs {base_cpu:.2f} s = {cpu / base_cpu:.2f}×; "
        f"entries {entries}; load {load}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
