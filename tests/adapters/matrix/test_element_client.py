"""The bot as Element's own SDK sees it: matrix-js-sdk with its Rust crypto, on a real Synapse.

The client (tests/adapters/matrix/js/element.mjs, its packages pinned in package-lock.json and
installed by scripts/install-node-deps) excludes insecure devices: it neither reads a device
its owner has not cross-signed (`UNSIGNED_SENDER_DEVICE`) nor shares its room keys with one.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from bot.core.clock import FakeClock
from tests.adapters.matrix.conftest import Team
from tests.adapters.matrix.support import EncryptedAnalyst
from tests.adapters.matrix.test_encryption import open_encrypted_war_room, stop
from tests.adapters.matrix.test_end_to_end import TITLE
from tests.fixtures.synapse import PROJECT_ROOT

JS_DIR = Path(__file__).parent / "js"
INSTALL_SCRIPT = PROJECT_ROOT / "scripts" / "install-node-deps"
MEMBER_PASSWORD = "pw"  # as the fixtures register the roster's members
RUN_SECONDS = 120
START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def node_client() -> Path:
    try:
        subprocess.run([str(INSTALL_SCRIPT)], check=True, capture_output=True, timeout=600)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        output = getattr(error, "stderr", b"") or b""
        pytest.fail(
            f"{INSTALL_SCRIPT} failed: {error}\n{output.decode(errors='replace')[-4000:]}",
            pytrace=False,
        )
    return JS_DIR / "element.mjs"


async def run_element(
    script: Path, *arguments: str, when_ready: Callable[[], Awaitable[None]]
) -> dict[str, Any]:
    """The client's final JSON report; it runs beside the bot, in its own process.

    `when_ready` runs once the client's device exists (to invite it).
    """
    process = await asyncio.create_subprocess_exec(
        "node",
        str(script),
        *arguments,
        cwd=script.parent,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None

    async def run() -> tuple[bytes, bytes]:
        assert process.stdout is not None
        said = b""
        while line := await process.stdout.readline():
            said += line
            if line.startswith(b'{"ready"'):
                await when_ready()
                break
        out, err = await process.communicate()
        return said + out, err

    try:
        out, err = await asyncio.wait_for(run(), RUN_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"the js client did not finish within {RUN_SECONDS}s") from None
    lines = out.decode(errors="replace").strip().splitlines()
    try:
        report: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise AssertionError(
            f"the js client said nothing readable (exit {process.returncode}):\n"
            f"{out.decode(errors='replace')[-2000:]}\n{err.decode(errors='replace')[-4000:]}"
        ) from None
    return report


async def test_a_client_excluding_insecure_devices_reads_the_bot_and_is_answered(
    team: Team, alice: EncryptedAnalyst, node_client: Path
) -> None:
    bot, adapter = await team.start_bot(FakeClock(START), encrypt=True)
    try:
        watch = await open_encrypted_war_room(team, alice)
        headline = await watch.message_with(f"🚨 INC-2026-0001 · {TITLE}")
        await watch.question("Q1")

        report = await run_element(
            node_client,
            team.synapse.base_url,
            team.bob.user_id,
            MEMBER_PASSWORD,
            watch.room_id,
            team.bot_user_id,
            "!incident status",
            "INC-2026-0001",
            headline["event_id"],
            when_ready=partial(adapter.invite, watch.room_id, team.bob.user_id),
        )
    finally:
        await stop(bot, adapter)
    assert report["ok"], report
    # Sent before the invite: readable thanks to the keys the bot gave with it.
    assert report["history"].startswith(f"🚨 INC-2026-0001 · {TITLE}")
    assert "INC-2026-0001" in report["answer"]
    assert report["shield"] != "UNSIGNED_DEVICE"
    assert report["bot_device_signed_by_owner"] is True
