"""Imports point inward: adapters → handlers → core; the core does no I/O and knows no SDK."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SDKS = (
    "slack_bolt",
    "slack_sdk",
    "nio",
    "sqlmodel",
    "sqlalchemy",
    "aiohttp",
    "apscheduler",
    "psycopg",
)
IO_MODULES = ("socket", "sqlite3", "subprocess", "requests", "urllib", "http", "asyncio", "yaml")

RULES: dict[str, tuple[str, ...]] = {
    "bot/core": (
        *SDKS,
        *IO_MODULES,
        "bot.adapters",
        "bot.port",
        "handlers",
        "storage",
        "config",
        "bot.bootstrap",
    ),
    "bot/port.py": (*SDKS, "bot.adapters", "handlers", "storage", "config"),
    "handlers": (*SDKS, "bot.adapters", "storage", "config", "bot.bootstrap"),
    "bot/reporting": (*SDKS, "bot.adapters", "handlers", "storage", "config", "bot.bootstrap"),
    "storage": ("slack_bolt", "slack_sdk", "nio", "bot.adapters", "handlers", "bot.bootstrap"),
    "config": (*SDKS, "bot.adapters", "handlers", "storage"),
    # Metrics reach the runtime only through `bot.observe`.
    "bot/runtime.py": ("prometheus_client", "bot.metrics", "bot.health"),
    "bot/delivery.py": ("prometheus_client", "bot.metrics", "bot.health"),
    "bot/observe.py": ("prometheus_client", "bot.metrics", "bot.health"),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def files_under(place: str) -> list[Path]:
    target = ROOT / place
    return [target] if target.is_file() else sorted(target.rglob("*.py"))


@pytest.mark.parametrize("place", sorted(RULES))
def test_imports_point_inward(place: str) -> None:
    files = files_under(place)
    assert files, f"nothing found under {place}"
    breaches = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in files
        for module in sorted(imported_modules(path))
        for banned in RULES[place]
        if module == banned or module.startswith(banned + ".")
    ]
    assert breaches == []


def test_the_rule_catches_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import sqlmodel\nfrom slack_bolt.app import App\nfrom . import x\n")
    assert imported_modules(sample) == {"sqlmodel", "slack_bolt.app"}


# `rrt run` with no chat platform configured (it plays the console demo), in a process of its
# own, which then names the chat SDKs it loaded.
CONSOLE_RUN = """
import sys
from bot.cli import main
code = main(["run", "--db", "demo.db"])
print("loaded:", *sorted({name.split(".")[0] for name in sys.modules} & {"slack_bolt", "nio"}))
sys.exit(code)
"""


def run_alone(script: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """`script` in a process of its own in `folder`, with none of the bot's settings set."""
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith("RRT_") and name.upper() != "DATABASE_URL"
    }
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=folder,
        env={**clean, "HOME": str(folder), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_console_only_bot_loads_no_chat_sdk(tmp_path: Path) -> None:
    ran = run_alone(CONSOLE_RUN, tmp_path)

    assert ran.returncode == 0, ran.stderr
    assert "playing the console demo" in ran.stdout
    assert ran.stdout.strip().splitlines()[-1] == "loaded:"


# A bot on the console platform that has declared an incident but written no report, with no
# metrics port, on SQLite, in a process of its own, which then names the libraries it loaded
# although it has no use for them yet.
DECLARED_ONLY = """
import asyncio, sys
import bot.serve
from bot.adapters.console import ConsolePlatform
from bot.bootstrap import build
from config.settings import load_settings

async def declare():
    bot = build(load_settings().model_copy(update={"database_url": "sqlite:///bot.db"}))
    console = ConsolePlatform(on_inbound=bot.dispatcher)
    bot.attach(console)
    try:
        await console.say("anna-peeters", console.lobby, "declare Phishing at the ministry")
        assert bot.store.open_incidents(), console.text()
    finally:
        bot.close()

asyncio.run(declare())
unused = ["prometheus_client", "aiohttp.web", "jinja2", "sqlalchemy.dialects.postgresql"]
print("loaded:", *[name for name in unused if name in sys.modules])
"""


def test_a_bot_loads_metrics_reports_and_postgresql_only_when_it_uses_them(
    tmp_path: Path,
) -> None:
    ran = run_alone(DECLARED_ONLY, tmp_path)

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().splitlines()[-1] == "loaded:"
