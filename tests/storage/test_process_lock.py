"""One process per SQLite file: the lock is taken by real processes and dropped by the kernel."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from storage.process_lock import DatabaseInUse, hold, lock_path

REPO = Path(__file__).resolve().parents[2]
HOLDER = """
import sys
from pathlib import Path
from storage.process_lock import hold
hold(Path(sys.argv[1]))
print("held", flush=True)
sys.stdin.read()
"""


@contextmanager
def holder(database: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock until its stdin closes (or it is killed)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert process.stdout is not None
    try:
        assert process.stdout.readline() == "held\n"
        yield process
    finally:
        process.kill()
        process.wait()


def test_a_second_process_is_refused_with_the_first_ones_pid(tmp_path: Path) -> None:
    database = tmp_path / "rrt.db"
    with holder(database) as other, pytest.raises(DatabaseInUse) as refused:
        hold(database)
    assert str(refused.value) == (
        f"another rrt process (pid {other.pid}) is using {database.resolve()}; SQLite serves "
        "one process — use PostgreSQL for replicas"
    )


def test_the_lock_goes_with_a_killed_process(tmp_path: Path) -> None:
    database = tmp_path / "rrt.db"
    with holder(database) as other:
        other.kill()  # SIGKILL: nothing of its own runs
        other.wait()
        mine = hold(database)
    assert lock_path(database).read_text() == f"{os.getpid()}\n"
    mine.release()


def test_bots_in_one_process_share_its_lock_until_the_last_releases(tmp_path: Path) -> None:
    database = tmp_path / "rrt.db"
    first, second = hold(database), hold(tmp_path / "." / "rrt.db")
    assert first is second
    first.release()
    assert "is using" in another_tries(database)
    second.release()
    assert another_tries(database) == "held"


def another_tries(database: Path) -> str:
    """What another process taking the lock reads: "held", or why not."""
    tried = subprocess.run(
        [sys.executable, "-c", HOLDER, str(database)],
        input="",
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    return tried.stdout.strip() or tried.stderr.strip().splitlines()[-1]
