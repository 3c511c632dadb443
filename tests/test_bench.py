"""The benchmarks run to their end and print their summary (no timing is asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def last_line_of_quick_run(script: str, timeout: float = 240) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.matrix
@pytest.mark.timeout(400)
def test_matrix_declare_bench_runs_quick_and_sums_up_on_its_last_line() -> None:
    last = last_line_of_quick_run("matrix_declare.py", timeout=360)
    assert re.fullmatch(
        r"result: p50 [\d.]+ ms vs bare [\d.]+ ms = [\d.]+×; burst \d+ [\d.]+ ms vs bare"
        r" [\d.]+ ms = [\d.]+×; requests [\d.]+ vs bare [\d.]+; errors 0; load [\d. ]+",
        last,
    ), last


@pytest.mark.timeout(300)
def test_startup_bench_runs_quick_and_sums_up_on_its_last_line() -> None:
    last = last_line_of_quick_run("startup.py")
    assert re.fullmatch(
        r"start to ready with \d+ open incidents and \d+ timers: [\d.]+ s; "
        r"empty database: [\d.]+ s; ratio [\d.]+x",
        last,
    ), last


@pytest.mark.timeout(300)
def test_declare_load_bench_runs_quick_and_sums_up_on_its_last_line() -> None:
    last = last_line_of_quick_run("declare_load.py")
    assert re.fullmatch(
        r"declaration with \d+ open incidents: [\d.]+ ms; with none: [\d.]+ ms; ratio [\d.]+x",
        last,
    ), last


@pytest.mark.postgres
@pytest.mark.timeout(300)
def test_command_cost_bench_runs_quick_and_sums_up_on_its_last_line() -> None:
    last = last_line_of_quick_run("command_cost.py")
    assert re.fullmatch(
        r"note on SQLite: [\d.]+ ms, [\d.]+ ms beyond its \d+ commits \(\d+ statements\), "
        r"decision [\d.]+ ms \(\d+ statements\); "
        r"bare INSERT \+ COMMIT: [\d.]+ ms; ratio [\d.]+x; "
        r"on PostgreSQL: [\d.]+ ms in \d+ round trips, ratio to SQLite [\d.]+x",
        last,
    ), last


def test_verify_bench_runs_quick_and_sums_up_on_its_last_line() -> None:
    last = last_line_of_quick_run("verify.py", timeout=100)
    assert re.fullmatch(
        r"result: rrt log verify [\d.]+ s vs sqlite3\+hashlib [\d.]+ s = [\d.]+×; "
        r"CPU [\d.]+ s vs [\d.]+ s = [\d.]+×; entries \d+; load [\d. ]+",
        last,
    ), last


@pytest.mark.matrix
@pytest.mark.timeout(400)
def test_memory_bench_runs_quick_and_sums_up_on_its_last_line() -> None:
    last = last_line_of_quick_run("memory.py", timeout=360)
    assert re.fullmatch(
        r"result: matrix idle RSS [\d.]+ MB vs imports alone [\d.]+ MB = [\d.]+×; "
        r"slack \(HTTP\) [\d.]+ MB vs imports alone [\d.]+ MB = [\d.]+×; load [\d. ]+",
        last,
    ), last


@pytest.mark.timeout(300)
def test_slack_ack_bench_runs_quick_and_sums_up_on_its_last_line() -> None:
    last = last_line_of_quick_run("slack_ack.py")
    assert re.fullmatch(
        r"ack p99 [\d.]+ ms \(p50 [\d.]+\); ack-only Bolt app p99 [\d.]+ ms \(p50 [\d.]+\); "
        r"ratio [\d.]+x \(median of rounds: 1 x 10 requests\); errors 0; load [\d. ]+",
        last,
    ), last


@pytest.mark.matrix
@pytest.mark.postgres
@pytest.mark.timeout(300)
def test_failover_bench_runs_quick_and_sums_up_on_its_last_line() -> None:
    last = last_line_of_quick_run("failover.py", timeout=240)
    assert re.fullmatch(
        r"result: takeover p50 [\d.]+ s, p95 [\d.]+ s over \d+ drills; errors 0; load [\d. ]+",
        last,
    ), last
