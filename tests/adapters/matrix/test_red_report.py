"""Where a TLP:RED report goes at closing (policy §5), on a real Synapse.

The report is attached only in an end-to-end-encrypted war room; otherwise it stays on the
bot's host (`rrt report`). Without encryption the war room gets no file and the homeserver no
upload; with it, the room gets encrypted file events whose media the homeserver holds as
ciphertext only, so someone outside the room who fetches it by its mxc URL learns nothing.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from nio.crypto import decrypt_attachment

from bot.bootstrap import Bot
from bot.core.clock import FakeClock
from bot.core.lifecycle import State
from tests.adapters.matrix.conftest import Team, unique
from tests.adapters.matrix.support import Analyst, EncryptedAnalyst, RoomWatch, eventually, ok
from tests.adapters.matrix.test_end_to_end import (
    START,
    WAIT_SECONDS,
    join_when_invited,
    lobby_with_bot,
    state_of,
)
from tests.adapters.matrix.test_room_access import outsider, readable

pytestmark = pytest.mark.matrix

INCIDENT = "INC-2026-0001"
TITLE = "Leaked negotiation files"
WAR_ROOM_NAME = f"{INCIDENT} · {TITLE}"
HEADLINE = f"🚨 {WAR_ROOM_NAME}"
CLOSED = f"{INCIDENT} closed by Alice Martin."
STAYS_ON_HOST = (
    "Under TLP:RED the report is attached only in an end-to-end-encrypted war room; on the "
    f"bot's host, `rrt report {INCIDENT}` makes it from the record."
)
FILES = [f"{INCIDENT}-report.html", f"{INCIDENT}-report.md"]
TITLE_OF_FILES = f"Incident report {INCIDENT} (TLP:RED)"
ENCRYPTED = "m.room.encrypted"


async def declare_red(team: Team, coordinator: Analyst) -> RoomWatch:
    """The coordinator declares a TLP:RED incident and joins its war room."""
    lobby = await lobby_with_bot(team)
    await team.alice.say(lobby, f"!incident declare --tlp red {TITLE}")
    war_room = await join_when_invited(coordinator, WAR_ROOM_NAME)
    watch = RoomWatch(coordinator, war_room, team.bot_user_id, WAIT_SECONDS)
    await watch.message_with(HEADLINE)
    return watch


async def take_to_close(bot: Bot, watch: RoomWatch, clock: FakeClock) -> None:
    """The coordinator sets the level by hand (closing triage), then contains, resolves, closes."""
    steps = (
        ("level L1 --reason x", State.RESPONSE),
        ("contain", State.CONTAINED),
        ("resolve", State.RESOLVED),
        ("close", State.CLOSED),
    )
    for command, state in steps:
        clock.advance(timedelta(hours=1))
        await watch.member.say(watch.room_id, f"!incident {command}")
        await eventually(partial(state_of, bot, state), f"the incident {state}", WAIT_SECONDS)


def written(bot: Bot) -> dict[str, Any]:
    """The data of the incident's `report_written` record."""
    (event,) = [r.event for r in bot.store.log(INCIDENT) if r.event.kind == "report_written"]
    data: dict[str, Any] = event.data
    return data


def media_of(team: Team, user_id: str) -> set[str]:
    """The mxc URLs of what `user_id` uploaded, as the homeserver's admin API lists them."""
    _, admin_token = team.synapse.register(unique("admin"), "pw", admin=True)
    request = urllib.request.Request(
        f"{team.synapse.base_url}/_synapse/admin/v1/users/{quote(user_id)}/media?limit=100",
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        listed = json.loads(response.read())
    return {f"mxc://{team.synapse.server_name}/{m['media_id']}" for m in listed["media"]}


async def fetch_as(base_url: str, token: str, mxc: str) -> list[tuple[str, int, bytes]]:
    """(endpoint, status, body) of fetching `mxc` with `token`, authenticated and legacy."""
    server, media_id = mxc.removeprefix("mxc://").split("/", 1)
    paths = (
        f"/_matrix/client/v1/media/download/{server}/{media_id}",
        f"/_matrix/media/v3/download/{server}/{media_id}",
    )
    fetched = []
    async with aiohttp.ClientSession() as session:
        for path in paths:
            headers = {"Authorization": f"Bearer {token}"}
            async with session.get(base_url + path, headers=headers) as response:
                fetched.append((path, response.status, await response.read()))
    return fetched


async def test_without_encryption_a_red_report_stays_on_the_host(team: Team) -> None:
    clock = FakeClock(START)
    bot, adapter = await team.start_bot(clock)
    try:
        watch = await declare_red(team, team.alice)
        await take_to_close(bot, watch, clock)
        closing = await watch.message_with(CLOSED)
        assert STAYS_ON_HOST in closing["content"]["body"]
        assert "The report is posted above." not in closing["content"]["body"]

        events = await readable(team.alice, watch.room_id)
        assert closing["event_id"] in {e["event_id"] for e in events}
        assert [e for e in events if e["content"].get("msgtype") == "m.file"] == []
        assert [e for e in events if e["type"] == ENCRYPTED] == []
        assert [e["event_id"] for e in events if "mxc://" in str(e["content"])] == []
        assert media_of(team, team.bot_user_id) == set()  # nothing was uploaded at all
        assert written(bot)["posted_in"] == []
        assert written(bot)["paths"] == []
    finally:
        await adapter.stop()
        bot.close()


async def test_with_encryption_a_red_report_is_attached_encrypted(
    team: Team, alice: EncryptedAnalyst
) -> None:
    clock = FakeClock(START)
    bot, adapter = await team.start_bot(clock, encrypt=True)
    stranger = outsider(team)
    try:
        watch = await declare_red(team, alice)
        assert (await alice.state(watch.room_id, "m.room.encryption"))["algorithm"] == (
            "m.megolm.v1.aes-sha2"
        )
        await take_to_close(bot, watch, clock)
        closing = await watch.message_with(CLOSED)
        assert "The report is posted above." in closing["content"]["body"]
        assert STAYS_ON_HOST not in closing["content"]["body"]

        decrypted = {
            e["content"]["filename"]: e
            for e in await watch.messages()
            if e["content"].get("msgtype") == "m.file"
        }
        assert sorted(decrypted) == FILES
        order = [e["event_id"] for e in await watch.messages()]
        assert order.index(closing["event_id"]) > max(
            order.index(e["event_id"]) for e in decrypted.values()
        )  # "posted above"
        raw = {e["event_id"]: e for e in await readable(team.alice, watch.room_id)}
        plain_texts = {}
        for event in decrypted.values():
            content = event["content"]
            assert content["body"] == TITLE_OF_FILES
            assert "url" not in content  # no plain attachment, only an EncryptedFile
            assert set(content["file"]) >= {"url", "key", "iv", "hashes", "v"}
            assert raw[event["event_id"]]["type"] == ENCRYPTED  # the server holds no m.file
            assert "mxc://" not in str(raw[event["event_id"]]["content"])
            file = content["file"]
            stored = ok(await alice.client.download(file["url"])).body
            text = decrypt_attachment(
                stored, file["key"]["k"], file["hashes"]["sha256"], file["iv"]
            )
            assert b"TLP:RED" in text
            assert INCIDENT.encode() in text
            plain_texts[file["url"]] = text
        assert set(plain_texts) == media_of(team, team.bot_user_id)  # the two, and only them

        # Someone on the homeserver, neither on the roster nor in the room, who has the URLs.
        in_room = ok(await alice.client.joined_members(watch.room_id)).members
        assert stranger.user_id not in {member.user_id for member in in_room}
        assert team.roster.by_handle("matrix", stranger.user_id) is None
        for mxc, text in plain_texts.items():
            for path, status, body in await fetch_as(
                team.synapse.base_url, stranger.client.access_token, mxc
            ):
                assert b"TLP:RED" not in body, (path, status)
                assert text not in body, (path, status)
                assert body != text, (path, status)
        assert written(bot)["posted_in"] == ["matrix"]
        assert written(bot)["paths"] == []  # never saved under TLP:RED
    finally:
        await stranger.client.close()
        await adapter.stop()
        bot.close()
