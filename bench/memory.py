"""How much memory `rrt run` holds while idle with one chat platform configured, beside a
process that only imports the modules that run needs.

Matrix: a private Synapse homeserver (the one the tests use) on 127.0.0.1 and a bot account on
it. Slack: HTTP mode, its Web API answered by the local fake Slack. For each, `rrt run` is
started as a process on a fresh SQLite database; once the platform has connected and the
resident set has stopped growing, VmRSS is read from /proc/<pid>/status. The baseline, measured
in the same run, is `python -c "import <the CLI, the service, the adapter>"`. The last line
gives, for Matrix and then Slack, the figure of `rrt run`, the baseline and their ratio.

    .venv/bin/python bench/memory.py [--runs 3] [--quick]
"""

# ruff: noqa: E402  (the fixtures live under tests/, which is not an installed package)

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures.slack_api import running_fake_slack
from tests.fixtures.synapse import start_synapse

CONNECT_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
# Resident memory counts as settled once it moves by less than this over SETTLE_SAMPLES samples.
SETTLE_KB = 512
SETTLE_SAMPLES = 4
SAMPLE_SECONDS = 0.5
# What `rrt run` imports for each platform, named as the baseline imports them.
IMPORTS = {
    "matrix": "import bot.cli, bot.serve, bot.adapters.matrix",
    "slack": "import bot.cli, bot.serve, bot.adapters.slack",
}


def vm_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def clean_env(workdir: Path, settings: dict[str, str]) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith("RRT_") and name.upper() != "DATABASE_URL"
    }
    env.update(HOME=str(workdir), PYTHONPATH=str(ROOT), MPLCONFIGDIR=str(workdir / "mpl"))
    env.update(settings)
    return env


def run_env(workdir: Path, settings: dict[str, str]) -> dict[str, str]:
    """The environment of `rrt run` in a new `workdir`, on a fresh SQLite database there."""
    workdir.mkdir()
    return clean_env(workdir, {"RRT_DATABASE_URL": f"sqlite:///{workdir / 'rrt.db'}", **settings})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def idle_rss(platform: str, settings: dict[str, str], workdir: Path, settle: float) -> int:
    """VmRSS (kB) of `rrt run` once `platform` has connected and memory has settled."""
    env = run_env(workdir, settings)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        cwd=workdir,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        await asyncio.wait_for(_connected(process.stderr, platform), CONNECT_TIMEOUT)
        drain = asyncio.create_task(_drain(process.stderr))
        rss = await _settled(process.pid, settle)
        drain.cancel()
        return rss
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _connected(stderr: asyncio.StreamReader, platform: str) -> None:
    seen = []
    while line := (await stderr.readline()).decode(errors="replace"):
        seen.append(line)
        if f"{platform} connected" in line:
            return
    raise RuntimeError(f"rrt run ended before {platform} connected:\n{''.join(seen)}")


async def _drain(stderr: asyncio.StreamReader) -> None:
    while await stderr.readline():
        pass


async def _settled(pid: int, settle: float) -> int:
    """RSS after at least `settle` seconds, once the last samples lie within SETTLE_KB."""
    started = time.monotonic()
    samples: list[int] = []
    while True:
        samples.append(vm_rss_kb(pid))
        recent = samples[-SETTLE_SAMPLES:]
        calm = len(recent) == SETTLE_SAMPLES and max(recent) - min(recent) < SETTLE_KB
        if time.monotonic() - started >= settle and (calm or len(samples) > 120):
            return samples[-1]
        await asyncio.sleep(SAMPLE_SECONDS)


async def imports_rss(platform: str, workdir: Path) -> int:
    """VmRSS (kB) of a process that only imports what `rrt run` needs for `platform`."""
    code = (
        f"{IMPORTS[platform]}\n"
        "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmRSS:')))"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        cwd=workdir,
        env=clean_env(workdir, {}),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the baseline for {platform} failed")
    return int(out.decode())


async def measure(
    platform: str, settings: dict[str, str], scratch: Path, runs: int, settle: float
) -> tuple[float, float]:
    ours, theirs = [], []
    for n in range(runs):
        ours.append(await idle_rss(platform, settings, scratch / f"{platform}-{n}", settle))
        theirs.append(await imports_rss(platform, scratch))
    print(f"{platform} rrt run:      " + " ".join(f"{kb / 1024:.1f}" for kb in ours) + " MB")
    print(f"{platform} imports only: " + " ".join(f"{kb / 1024:.1f}" for kb in theirs) + " MB")
    return statistics.median(ours) / 1024, statistics.median(theirs) / 1024


def compared(figures: tuple[float, float]) -> str:
    mine, base = figures
    return f"{mine:.1f} MB vs imports alone {base:.1f} MB = {mine / base:.2f}×"


async def run(scratch: Path, runs: int, settle: float) -> int:
    async with running_fake_slack() as fake:
        slack = await measure(
            "slack",
            {
                "RRT_SLACK__MODE": "http",
                "RRT_SLACK__BOT_TOKEN": "xoxb-bench",
                "RRT_SLACK__SIGNING_SECRET": "bench0signing0secret000000000000",
                "RRT_SLACK__HTTP_HOST": "127.0.0.1",
                "RRT_SLACK__HTTP_PORT": str(free_port()),
                "RRT_SLACK__API_URL": fake.base_url,
            },
            scratch,
            runs,
            settle,
        )
    (scratch / "synapse").mkdir()
    synapse = start_synapse(scratch / "synapse")
    try:
        user_id, token = synapse.register("rrt", "bot-password")
        matrix = await measure(
            "matrix",
            {
                "RRT_MATRIX__HOMESERVER": synapse.base_url,
                "RRT_MATRIX__USER_ID": user_id,
                "RRT_MATRIX__ACCESS_TOKEN": token,
                "RRT_MATRIX__STORE_DIR": str(scratch / "nio"),
            },
            scratch,
            runs,
            settle,
        )
    finally:
        synapse.stop()
    load = " ".join(f"{figure:.2f}" for figure in os.getloadavg())
    print(
        f"result: matrix idle RSS {compared(matrix)}; slack (HTTP) {compared(slack)}; load {load}"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="starts of each (median shown)")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds idle before reading")
    parser.add_argument("--quick", action="store_true", help="a smoke run: one start, 1 s idle")
    args = parser.parse_args()
    runs, settle = (1, 1.0) if args.quick else (args.runs, args.settle)
    with tempfile.TemporaryDirectory(prefix="rrt-bench-memory-") as scratch:
        return asyncio.run(run(Path(scratch), runs, settle))


if __name__ == "__main__":
    sys.exit(main())
