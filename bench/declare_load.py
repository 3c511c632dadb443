"""How much a declaration costs with many incidents open, against none.

Fills a SQLite database with `--incidents` N open incidents (as `bench/startup.py` does), then
times `--declarations` declarations made one at a time on the console platform, each to its
end (decided, committed, delivered), beside the same on an empty database, in the same run.

    .venv/bin/python bench/declare_load.py [--incidents 1000] [--declarations 30] [--quick]
"""

# ruff: noqa: E402  (the test roster and settings live under tests/, not an installed package)

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.startup import COORDINATOR, bench_folder, fill, new_bot, template


async def declarations(folder: Path, count: int) -> list[float]:
    """Milliseconds each of `count` declarations takes, one after another."""
    bot, console = new_bot(folder)
    try:
        await bot.start()
        await console.say(COORDINATOR, console.lobby, "declare Warm-up")
        taken = []
        for number in range(count):
            started = time.perf_counter()
            await console.say(COORDINATOR, console.lobby, f"declare Load test {number}")
            taken.append((time.perf_counter() - started) * 1000)
        return taken
    finally:
        bot.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--declarations", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 50 incidents, 3 each")
    args = parser.parse_args()
    count, declared = (50, 3) if args.quick else (args.incidents, args.declarations)
    with bench_folder() as empty, bench_folder() as loaded, bench_folder() as scratch:
        model = await template(scratch)
        bot, _console = new_bot(loaded)
        try:
            fill(bot, model, count)
        finally:
            bot.close()
        baseline_ms = await declarations(empty, declared)
        loaded_ms = await declarations(loaded, declared)
    for name, found in (("no open incidents", baseline_ms), (f"{count} open", loaded_ms)):
        print(
            f"  {name:>18}: median {statistics.median(found):.1f} ms, "
            f"min {min(found):.1f} ms, max {max(found):.1f} ms"
        )
    figure, baseline = statistics.median(loaded_ms), statistics.median(baseline_ms)
    print(
        f"declaration with {count} open incidents: {figure:.1f} ms; with none: {baseline:.1f} ms; "
        f"ratio {figure / baseline:.2f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
