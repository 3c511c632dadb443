"""Closing concludes the record: the report is posted in the war room and saved, not under RED."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot, build
from bot.core.clock import FakeClock
from bot.port import PlatformError
from bot.reporting.describe import describe_event
from bot.reporting.metrics import compute, duration
from tests.fixtures.settings import settings_in
from tests.handlers.concluding import console_of, declare, reporting_bot, respond_and_resolve
from tests.handlers.conftest import kinds, team_roster

MD, HTML = "INC-2026-0001-report.md", "INC-2026-0001-report.html"


@pytest.fixture
def bot(tmp_path: Path, clock: FakeClock) -> Iterator[Bot]:
    yield from reporting_bot(tmp_path, clock)


@pytest.fixture
def chat(bot: Bot) -> ConsolePlatform:
    return console_of(bot)


async def test_closing_posts_and_saves_the_report_from_the_log(
    bot: Bot, chat: ConsolePlatform, clock: FakeClock, tmp_path: Path
) -> None:
    room = await declare(chat)
    await respond_and_resolve(chat, room, clock)
    await chat.say("alice", room, "note Mailbox rules reset")
    clock.advance(timedelta(hours=1))
    await chat.say("alice", room, "close")

    posted = {name: (content.decode(), kind) for name, content, kind in chat.rooms[room].files}
    assert sorted(posted) == [HTML, MD]
    assert posted[MD][1] == "text/markdown"
    assert posted[HTML][1] == "text/html"
    saved = tmp_path / "reports"
    assert (saved / MD).read_text(encoding="utf-8") == posted[MD][0]
    assert (saved / HTML).read_text(encoding="utf-8") == posted[HTML][0]

    records = bot.store.log("INC-2026-0001")
    written = records[-1].event
    assert written.kind == "report_written"
    assert written.data["paths"] == [str(saved / MD), str(saved / HTML)]
    assert written.data["posted_in"] == ["console"]
    closing = chat.last(room).text
    assert closing.startswith("INC-2026-0001 closed by Alice Martin. The record is concluded.")
    assert f"Saved as `{saved / MD}`" in closing

    markdown = posted[MD][0]
    metrics = compute(records)
    assert metrics.time_to_contained == timedelta(hours=1)
    assert f"| Time to contained | {duration(metrics.time_to_contained)} |" in markdown
    assert f"| Time to resolved | {duration(metrics.time_to_resolved)} |" in markdown
    assert f"| Time to triage | {duration(metrics.time_to_triage)} |" in markdown
    assert "| Organisation | National CERT |" in markdown
    assert (
        "| analyst | Bob Peeters | National CERT | 2026-11-30 08:10 UTC | 2026-11-30 08:15 UTC |"
        in markdown
    )
    names = {p.id: p.name for p in bot.services.roster.people}
    for record in records[:-1]:  # the report is rendered before it is logged as written
        assert describe_event(record.event, names, UTC) in markdown
    assert "Alice Martin: Mailbox rules reset" in markdown
    # Made from the log as it stood: its head then is the entry before `report_written`.
    made_from = records[-2]
    assert (
        f"Made {clock.now():%Y-%m-%d %H:%M} UTC from the incident log at entry {made_from.seq}, "
        f"head sha256 `{made_from.hash}`."
    ) in markdown


async def test_the_report_shows_times_in_the_display_zone(tmp_path: Path, clock: FakeClock) -> None:
    local = build(
        settings_in(tmp_path, display_timezone="Europe/Brussels"),
        clock=clock,
        roster=team_roster(),
    )
    chat = ConsolePlatform(on_inbound=local.dispatcher)
    local.attach(chat)
    try:
        room = await declare(chat)
        await respond_and_resolve(chat, room, clock)
        await chat.say("alice", room, "close")
        markdown = next(
            content.decode() for name, content, _ in chat.rooms[room].files if name == MD
        )
        assert "| Declared | 2026-11-30 09:00 CET by Alice Martin |" in markdown
        assert "| analyst | Bob Peeters | National CERT | 2026-11-30 09:10 CET |" in markdown
        stored = local.store.log("INC-2026-0001")[0].event.at
        assert stored.utcoffset() == timedelta(0)  # the log itself stays UTC
    finally:
        local.close()


async def test_a_red_report_is_not_attached_in_a_room_without_end_to_end_encryption(
    bot: Bot, chat: ConsolePlatform, clock: FakeClock, tmp_path: Path
) -> None:
    room = await declare(chat, "--tlp", "red")
    for command in ("level L1 --reason one mailbox", "contain", "resolve", "close"):
        clock.advance(timedelta(minutes=30))
        await chat.say("alice", room, command)

    assert chat.rooms[room].files == []
    assert not (tmp_path / "reports").exists()
    written = bot.store.log("INC-2026-0001")[-1].event
    assert written.kind == "report_written"
    assert written.data["paths"] == []
    assert written.data["where"] == "TLP:RED: never written to a file"
    assert chat.last(room).text.endswith(
        "Under TLP:RED the report is attached only in an end-to-end-encrypted war room; on the "
        "bot's host, `rrt report INC-2026-0001` makes it from the record. "
        "No file was saved (TLP:RED: never written to a file)."
    )


async def test_a_refused_upload_still_saves_the_report_and_says_so(
    bot: Bot, chat: ConsolePlatform, clock: FakeClock, tmp_path: Path
) -> None:
    room = await declare(chat)
    await respond_and_resolve(chat, room, clock)
    chat.fail_next("upload_file", PlatformError("file_too_large"))
    await chat.say("alice", room, "close")

    # The refused Markdown file is reported where `close` was typed; the HTML one is posted.
    assert [name for name, _content, _kind in chat.rooms[room].files] == [HTML]
    assert (tmp_path / "reports" / MD).exists()
    said = [message.text for message in chat.rooms[room].messages]
    assert said[-2].startswith("INC-2026-0001 closed by Alice Martin.")
    assert said[-1] == (
        "The chat platform refused part of that: file_too_large (file_too_large). "
        "What was recorded is kept."
    )


async def test_only_closing_writes_a_report(
    bot: Bot, chat: ConsolePlatform, clock: FakeClock, tmp_path: Path
) -> None:
    room = await declare(chat)
    await respond_and_resolve(chat, room, clock)
    await chat.say("bob", room, "close")

    assert chat.last(room).text == "Only a coordinator can close an incident."
    assert chat.rooms[room].files == []
    assert kinds(bot, "report_written") == []
    assert not (tmp_path / "reports").exists()


async def test_at_closing_the_log_head_is_posted_in_the_audit_room(
    tmp_path: Path, clock: FakeClock
) -> None:
    audited = build(
        settings_in(tmp_path, audit_room="console:room-1"), clock=clock, roster=team_roster()
    )
    chat = ConsolePlatform(on_inbound=audited.dispatcher)
    audited.attach(chat)
    try:
        assert chat.lobby == "room-1"  # the audit room of this test
        room = await declare(chat)
        await respond_and_resolve(chat, room, clock)
        await chat.say("alice", room, "close")

        last = audited.store.log()[-1]
        assert chat.last(chat.lobby).text == (
            f"Log head after closing INC-2026-0001: entry {last.seq}, sha256 {last.hash}"
        )
    finally:
        audited.close()
