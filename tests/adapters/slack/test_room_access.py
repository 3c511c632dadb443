"""A war room matches its label (policy §5) on Slack, against the local Web API server.

Slack keeps a channel public or private from its creation, and an app cannot make a public
channel private: every war room above TLP:CLEAR is created private, and raising a public one
above CLEAR is refused (and said so where the raise was asked for).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.adapters.slack.platform import SlackPlatform
from bot.bootstrap import Bot, build
from bot.core.clock import FakeClock
from bot.port import PlatformError, RoomAccess, RoomSpec
from tests.adapters.slack.test_end_to_end import (
    ALICE,
    LOBBY,
    START,
    Deliveries,
    SocketEnvelopes,
    Workspace,
    adapter_for,
    attached,
)
from tests.fixtures.roster import small_roster
from tests.fixtures.settings import settings_in
from tests.fixtures.slack_api import FakeSlack, running_fake_slack

PUBLIC = RoomSpec(name="Drill", slug="drill", topic="t", private=False)
PRIVATE = RoomSpec(name="Breach", slug="breach", topic="t", private=True)
REFUSED = (
    "The chat platform refused part of that: Slack does not let an app make a public channel "
    "private, so the war room stays public; a workspace admin can make it private in the "
    "channel's settings (cannot_make_private). What was recorded is kept."
)


# ---- the platform


@pytest.mark.parametrize("tlp", ["TLP:GREEN", "TLP:AMBER", "TLP:RED"])
async def test_a_public_channel_cannot_be_made_private(
    platform: SlackPlatform, slack_api: FakeSlack, tlp: str
) -> None:
    room = await platform.create_room(PUBLIC)
    with pytest.raises(PlatformError) as raised:
        await platform.set_access(room, RoomAccess.for_label(tlp))
    assert raised.value.code == "cannot_make_private"
    assert "Slack does not let an app make a public channel private" in raised.value.detail
    assert "drill" not in raised.value.detail  # the notice may be read in a lobby
    (info,) = slack_api.calls_to("conversations.info")
    assert info.params["channel"] == room
    assert slack_api.channels[room]["is_private"] is False


@pytest.mark.parametrize("tlp", ["TLP:GREEN", "TLP:AMBER", "TLP:RED", "TLP:CLEAR"])
async def test_a_private_channel_stays_as_it_is(
    platform: SlackPlatform, slack_api: FakeSlack, tlp: str
) -> None:
    room = await platform.create_room(PRIVATE)
    before = slack_api.methods()
    await platform.set_access(room, RoomAccess.for_label(tlp))
    # Only looked at (or, for CLEAR, not even that): nothing on Slack changes.
    changed = slack_api.methods()[len(before) :]
    assert changed == ([] if tlp == "TLP:CLEAR" else ["conversations.info"])
    assert slack_api.channels[room]["is_private"] is True


async def test_a_public_channel_lowered_to_clear_is_left_alone(
    platform: SlackPlatform, slack_api: FakeSlack
) -> None:
    room = await platform.create_room(PUBLIC)
    before = len(slack_api.calls)
    await platform.set_access(room, RoomAccess.for_label("TLP:CLEAR"))
    assert len(slack_api.calls) == before


async def test_set_access_on_an_unknown_channel_is_reported(platform: SlackPlatform) -> None:
    with pytest.raises(PlatformError) as raised:
        await platform.set_access("C0GONE000", RoomAccess.for_label("TLP:AMBER"))
    assert raised.value.code == "channel_not_found"


# ---- through the bot


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    wired = build(settings_in(tmp_path), clock=FakeClock(START), roster=small_roster())
    yield wired
    wired.close()


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with running_fake_slack() as fake:
        yield fake


@pytest_asyncio.fixture
async def ws(bot: Bot, slack: FakeSlack) -> AsyncIterator[Workspace]:
    deliveries = Deliveries()
    adapter = await attached(
        bot, adapter_for(bot, slack, deliveries, app_token="xapp-1-access"), deliveries
    )
    yield Workspace(bot, slack, SocketEnvelopes(slack), deliveries)
    await adapter.stop()


@pytest.mark.parametrize(("label", "private"), [("green", "1"), ("red", "1"), ("clear", "0")])
async def test_a_declaration_creates_a_channel_as_private_as_its_label(
    ws: Workspace, slack: FakeSlack, label: str, private: str
) -> None:
    await ws.command(ALICE, LOBBY, f"declare --tlp {label} Phishing wave")
    (create,) = slack.calls_to("conversations.create")
    assert create.params["is_private"] == private
    room = ws.war_room("inc-2026-0001-")
    assert slack.channels[room]["is_private"] is (private == "1")
    assert str(ws.posts_in(room)[0]["text"]).startswith("🚨 INC-2026-0001")


async def test_a_raise_of_a_private_war_room_posts_on(ws: Workspace, slack: FakeSlack) -> None:
    await ws.command(ALICE, LOBBY, "declare --tlp green Phishing wave")
    room = ws.war_room("inc-2026-0001-")
    await ws.command(ALICE, room, "tlp red")
    (info,) = [c for c in slack.calls_to("conversations.info") if c.params["channel"] == room]
    said = [str(p["text"]) for p in ws.posts_in(room)]
    assert "TLP raised from TLP:GREEN to TLP:RED by Alice Martin." in said
    assert REFUSED not in said
    # Looked at before anything more was posted in the room.
    raised = next(c for c in slack.calls_to("chat.postMessage") if "TLP raised" in c.params["text"])
    assert info.at <= raised.at


async def test_raising_a_public_war_room_is_refused_where_it_was_asked(
    ws: Workspace, slack: FakeSlack, bot: Bot
) -> None:
    await ws.command(ALICE, LOBBY, "declare --tlp clear Phishing wave")
    room = ws.war_room("inc-2026-0001-")
    await ws.command(ALICE, room, "tlp green")
    incident = bot.store.get("INC-2026-0001")
    assert incident is not None
    assert incident.tlp.value == "TLP:GREEN"  # recorded: the label is what was decided
    assert slack.channels[room]["is_private"] is False
    assert ws.last_text(room) == REFUSED
    # Nothing more is posted in the room that does not match its label, the notice aside.
    after = [p["text"] for p in ws.posts_in(room)]
    assert not any("TLP raised" in text for text in after)
    withheld = [r.event.data["effect"] for r in bot.store.log() if r.event.kind == "withheld"]
    assert "send" in withheld
