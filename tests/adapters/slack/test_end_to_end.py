"""A whole incident through the real bot and the real Slack app, against the local fake Slack.

Requests are signed as Slack signs them (HTTP mode) or pushed as Socket Mode envelopes; every
Web API call the bot makes goes to the fake, which records it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import aiohttp
import pytest
import pytest_asyncio

from bot.adapters.slack import RateLimiter, SlackAdapter
from bot.bootstrap import Bot, build
from bot.core.clock import FakeClock
from bot.core.lifecycle import State
from bot.core.roster import Roster
from bot.port import Inbound, InboundHandler
from handlers.replies import SLACK_KEYCAPS
from storage.verify_cli import verify_report
from tests.adapters.slack.payloads import (
    block_action,
    event_callback,
    form,
    interactive_form,
    message,
    reaction_added,
    signed_headers,
    slash_command,
)
from tests.fixtures.roster import person, small_roster
from tests.fixtures.settings import settings_in
from tests.fixtures.slack_api import (
    BOT_USER_ID,
    FakeSlack,
    Params,
    running_fake_slack,
    shown_text,
)
from tests.fixtures.triage import WORKED_EXAMPLE, assert_worked_example_course

BOT_TOKEN = "xoxb-end-to-end"
APP_TOKEN = "xapp-1-end-to-end"
SIGNING_SECRET = "e2e0signing0secret0000000000000a"
LOBBY = "C0LOBBY01"
ALICE, BOB, CARLA = "UALICE", "UBOB", "UCARLA"
LOCK_SECONDS = 10.0
START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
WAIT_SECONDS = 5.0  # only a failing test waits this long
ANSWERED_BY_THREAD_REPLY = "Q3"
ANSWERED_BY_REACTION = "Q4"
Kind = Literal["command", "interactive", "event"]


class Deliveries:
    """Stands between the adapter and the dispatcher to tell a test when an event was handled."""

    def __init__(self) -> None:
        self.dispatcher: InboundHandler | None = None
        self.handled: list[str] = []
        self._changed = asyncio.Event()

    async def __call__(self, inbound: Inbound) -> None:
        assert self.dispatcher is not None
        try:
            await self.dispatcher(inbound)
        finally:
            self.handled.append(inbound.event_id)
            self._changed.set()

    async def wait_for(self, event_id: str) -> None:
        async with asyncio.timeout(WAIT_SECONDS):
            while event_id not in self.handled:
                self._changed.clear()
                await self._changed.wait()


class Transport(Protocol):
    async def deliver(self, kind: Kind, payload: Params) -> None: ...


class SignedHttp:
    """Slack's HTTP delivery: form or JSON bodies, v0-signed, answered with a 200 ack."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def post(self, body: str, content_type: str, headers: dict[str, str]) -> int:
        sent = {"Content-Type": content_type, **headers}
        async with self.session.post(self.url, data=body, headers=sent) as response:
            return response.status

    async def deliver(self, kind: Kind, payload: Params) -> None:
        body, content_type = encoded(kind, payload)
        assert await self.post(body, content_type, signed_headers(body, SIGNING_SECRET)) == 200


def encoded(kind: Kind, payload: Params) -> tuple[str, str]:
    if kind == "command":
        return form(payload), "application/x-www-form-urlencoded"
    if kind == "interactive":
        return interactive_form(payload), "application/x-www-form-urlencoded"
    return json.dumps(payload), "application/json"


ENVELOPE_TYPES: dict[Kind, str] = {
    "command": "slash_commands",
    "interactive": "interactive",
    "event": "events_api",
}


class SocketEnvelopes:
    """Slack's Socket Mode delivery: envelopes over the websocket, each acked by its id."""

    def __init__(self, slack: FakeSlack) -> None:
        self.slack = slack

    async def deliver(self, kind: Kind, payload: Params) -> None:
        envelope_id = await self.slack.push(ENVELOPE_TYPES[kind], payload)
        assert (await self.slack.ack_for(envelope_id))["envelope_id"] == envelope_id


class Workspace:
    """People acting in Slack, each action waited on until the bot has handled it."""

    def __init__(self, bot: Bot, slack: FakeSlack, transport: Transport, deliveries: Deliveries):
        self.bot = bot
        self.slack = slack
        self.transport = transport
        self.deliveries = deliveries
        self._serial = itertools.count(1)

    def _next(self) -> int:
        return next(self._serial)

    async def command(self, user: str, channel: str, text: str) -> None:
        trigger = f"trig-command-{self._next()}"
        payload = {
            **slash_command(text, trigger),
            "user_id": user,
            "user_name": user.lower(),
            "channel_id": channel,
            "channel_name": "incidents",
            "response_url": self.slack.response_url(),
        }
        await self.transport.deliver("command", payload)
        await self.deliveries.wait_for(f"command:{trigger}")

    async def click(self, user: str, posted: Params, value: str) -> None:
        trigger = f"trig-click-{self._next()}"
        channel = str(posted["channel"])
        payload = block_action(value, str(posted["ts"]), trigger)
        payload["user"] = {"id": user, "username": user.lower(), "team_id": "T0TEAM001"}
        payload["container"]["channel_id"] = channel
        payload["channel"] = {"id": channel, "name": "war-room"}
        payload["response_url"] = self.slack.response_url()
        payload["actions"][0]["action_id"] = f"rrt_button_{button_values(posted).index(value)}"
        await self.transport.deliver("interactive", payload)
        await self.deliveries.wait_for(f"action:{trigger}")

    async def reply_in_thread(self, user: str, posted: Params, text: str) -> None:
        serial = self._next()
        reply = message(
            text,
            ts=f"1764490000.{serial:06d}",
            thread_ts=str(posted["ts"]),
            parent_user_id=BOT_USER_ID,
        )
        await self.event({**reply, "user": user, "channel": posted["channel"]}, serial)

    async def react(self, user: str, posted: Params, reaction: str) -> None:
        event = {
            **reaction_added(reaction, str(posted["ts"])),
            "user": user,
            "item": {"type": "message", "channel": posted["channel"], "ts": posted["ts"]},
        }
        await self.event(event, self._next())

    async def event(self, event: Params, serial: int) -> None:
        event_id = f"Ev0E2E{serial:04d}"
        await self.transport.deliver("event", event_callback(event, event_id))
        await self.deliveries.wait_for(event_id)

    def posts_in(self, channel: str) -> list[Params]:
        return [posted for posted in self.slack.posted if posted["channel"] == channel]

    def last_text(self, channel: str) -> str:
        return str(self.posts_in(channel)[-1]["text"])

    def question(self, channel: str, question_id: str) -> Params:
        asked = [p for p in self.posts_in(channel) if f" · {question_id}: " in p["text"]]
        assert asked, f"{question_id} was never asked"
        return asked[-1]

    def war_room(self, name_prefix: str) -> str:
        (channel,) = [c for c in self.slack.channels.values() if c["name"].startswith(name_prefix)]
        return str(channel["id"])


def button_values(posted: Params) -> list[str]:
    blocks = posted["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    return [
        element["value"]
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


# ---- wiring


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def roster() -> Roster:
    return small_roster()


@pytest.fixture
def bot(tmp_path: Path, clock: FakeClock, roster: Roster) -> Iterator[Bot]:
    wired = build(settings_in(tmp_path), clock=clock, roster=roster)
    yield wired
    wired.close()


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with running_fake_slack() as fake:
        yield fake


async def attached(bot: Bot, adapter: SlackAdapter, deliveries: Deliveries) -> SlackAdapter:
    deliveries.dispatcher = bot.dispatcher
    bot.attach(adapter)
    await adapter.start()
    return adapter


def adapter_for(bot: Bot, slack: FakeSlack, deliveries: Deliveries, **mode: Any) -> SlackAdapter:
    # No client-side pacing: the fake does not rate-limit, and pacing would only slow the test.
    return SlackAdapter(
        bot_token=BOT_TOKEN,
        store=bot.store.kv,
        on_inbound=deliveries,
        api_base_url=slack.base_url,
        limiter=RateLimiter({}),
        **mode,
    )


@pytest_asyncio.fixture
async def http_adapter(
    bot: Bot, slack: FakeSlack
) -> AsyncIterator[tuple[SlackAdapter, Deliveries]]:
    deliveries = Deliveries()
    adapter = adapter_for(
        bot, slack, deliveries, mode="http", signing_secret=SIGNING_SECRET, host="127.0.0.1", port=0
    )
    await attached(bot, adapter, deliveries)
    yield adapter, deliveries
    await adapter.stop()


@pytest_asyncio.fixture
async def http(
    bot: Bot, slack: FakeSlack, http_adapter: tuple[SlackAdapter, Deliveries]
) -> AsyncIterator[tuple[Workspace, SignedHttp]]:
    adapter, deliveries = http_adapter
    async with aiohttp.ClientSession() as session:
        signed = SignedHttp(session, f"http://127.0.0.1:{adapter.http_port}/slack/events")
        yield Workspace(bot, slack, signed, deliveries), signed


@pytest_asyncio.fixture
async def socket(bot: Bot, slack: FakeSlack) -> AsyncIterator[Workspace]:
    deliveries = Deliveries()
    adapter = await attached(
        bot, adapter_for(bot, slack, deliveries, app_token=APP_TOKEN), deliveries
    )
    yield Workspace(bot, slack, SocketEnvelopes(slack), deliveries)
    await adapter.stop()


# ---- the incident


async def declare(ws: Workspace, title: str = "Ransomware at hospital") -> str:
    await ws.command(ALICE, LOBBY, f"declare {title}")
    return ws.war_room("inc-2026-")


async def run_whole_incident(ws: Workspace, clock: FakeClock) -> str:
    """Declaration to closing as people would do it in Slack; returns the war room's id."""
    slack = ws.slack
    room = await declare(ws)

    (create,) = slack.calls_to("conversations.create")
    assert re.fullmatch(r"inc-2026-0001-ransomware-at-hospital", create.params["name"])
    (topic,) = [c for c in slack.calls_to("conversations.setTopic") if c.params["channel"] == room]
    assert str(topic.params["topic"]).startswith("TLP:AMBER")
    (purpose,) = slack.calls_to("conversations.setPurpose")
    assert purpose.params["purpose"] == "INC-2026-0001 · Ransomware at hospital"
    (invite,) = slack.calls_to("conversations.invite")
    assert ALICE in str(invite.params["users"])
    headline, first_question = ws.posts_in(room)[:2]
    assert str(headline["text"]).startswith("🚨 INC-2026-0001 · Ransomware at hospital")
    (pin,) = slack.calls_to("pins.add")
    assert (pin.params["channel"], pin.params["timestamp"]) == (room, headline["ts"])
    assert "Triage 1/17 · Q1" in first_question["text"]
    assert "answer Q1 malicious-code" in button_values(first_question)
    assert ws.last_text(LOBBY).startswith("Declared INC-2026-0001")

    await triage_worked_example(ws, clock, room)
    said = "\n".join(str(p["text"]) for p in ws.posts_in(room))
    assert "Proposed level L2: Score 63.1 (High) → L2, because S >= 55." in said
    assert "Police liaison required." in said

    await ws.command(ALICE, room, "confirm")
    assert "Level L2 confirmed by Alice Martin." in recent_text(ws, room)
    assert "Level L2 (national cyber security incident)" in headline_now(slack, headline)
    for command in ("contain", "resolve", "close confirm"):  # its NIS2 and GDPR are unfiled
        clock.advance(timedelta(hours=1))
        await ws.command(ALICE, room, command)
    assert ws.last_text(room).startswith("INC-2026-0001 closed by Alice Martin.")
    headline_updates = [
        c for c in slack.calls_to("chat.update") if c.params["ts"] == headline["ts"]
    ]
    shown = [shown_text(str(call.params["text"])) for call in headline_updates]
    assert "State closed" in shown[-1]
    assert all(before != after for before, after in itertools.pairwise(shown))  # no repeats
    topics = [str(call.params["topic"]) for call in slack.calls_to("conversations.setTopic")]
    assert all(before != after for before, after in itertools.pairwise(topics))
    return room


async def triage_worked_example(ws: Workspace, clock: FakeClock, room: str) -> None:
    """Two analysts answer in turn, by button, by a numbered thread reply and by a reaction."""
    for n, (question_id, option) in enumerate(WORKED_EXAMPLE.items()):
        clock.advance(timedelta(minutes=1))
        analyst = BOB if n % 2 else CARLA
        asked = ws.question(room, question_id)
        number = button_values(asked).index(f"answer {question_id} {option}") + 1
        if question_id == ANSWERED_BY_THREAD_REPLY:
            await ws.reply_in_thread(analyst, asked, str(number))
        elif question_id == ANSWERED_BY_REACTION:
            await ws.react(analyst, asked, SLACK_KEYCAPS[number - 1])
        else:
            await ws.click(analyst, asked, f"answer {question_id} {option}")
        assert f"{question_id} → {option}" in recent_text(ws, room)


def recent_text(ws: Workspace, room: str) -> str:
    """The bot's last few posts: an answer's acknowledgement comes before the next question."""
    return "\n".join(str(p["text"]) for p in ws.posts_in(room)[-3:])


def headline_now(slack: FakeSlack, headline: Params) -> str:
    updates = [c for c in slack.calls_to("chat.update") if c.params["ts"] == headline["ts"]]
    assert updates, "the headline was never updated"
    return shown_text(str(updates[-1].params["text"]))


def assert_recorded_whole_incident(bot: Bot, database: Path) -> None:
    incident = bot.store.get("INC-2026-0001")
    assert incident is not None
    assert incident.state is State.CLOSED
    assert incident.answers["Q1"].author == "carla"
    assert incident.answers[ANSWERED_BY_THREAD_REPLY].author == "carla"
    assert incident.answers[ANSWERED_BY_REACTION].author == "bob"
    assert {q: a.option for q, a in incident.answers.items()} == WORKED_EXAMPLE
    assert_worked_example_course(bot.store.log("INC-2026-0001"))
    transitions = [
        (r.event.data["from_state"], r.event.data["to_state"])
        for r in bot.store.log("INC-2026-0001")
        if r.event.kind == "state_changed"
    ]
    assert transitions == [
        ("declared", "triage"),
        ("triage", "response"),
        ("response", "contained"),
        ("contained", "resolved"),
        ("resolved", "closed"),
    ]
    intact, report = verify_report(f"sqlite:///{database}")
    assert intact, report


async def test_a_whole_incident_over_signed_http(
    http: tuple[Workspace, SignedHttp], bot: Bot, clock: FakeClock, tmp_path: Path
) -> None:
    ws, _ = http
    await run_whole_incident(ws, clock)
    assert_recorded_whole_incident(bot, tmp_path / "rrt.db")


async def test_a_whole_incident_over_socket_mode(
    socket: Workspace, bot: Bot, clock: FakeClock, tmp_path: Path
) -> None:
    await run_whole_incident(socket, clock)
    assert_recorded_whole_incident(bot, tmp_path / "rrt.db")


# ---- concurrency


async def test_eight_answers_and_a_tlp_raise_at_once_all_keep_their_change(
    http: tuple[Workspace, SignedHttp], bot: Bot
) -> None:
    ws, _ = http
    await ws.command(ALICE, LOBBY, "declare Ransomware at hospital")
    room = ws.war_room("inc-2026-0001-")
    answers = [f"answer {q} {WORKED_EXAMPLE[q]}" for q in list(WORKED_EXAMPLE)[:8]]
    await asyncio.gather(
        *(ws.command(BOB if n % 2 else CARLA, room, text) for n, text in enumerate(answers)),
        ws.command(ALICE, room, "tlp amber+strict"),
    )

    incident = bot.store.get("INC-2026-0001")
    assert incident is not None
    assert sorted(incident.answers) == sorted(list(WORKED_EXAMPLE)[:8])
    assert incident.tlp.value == "TLP:AMBER+STRICT"
    log = bot.store.log("INC-2026-0001")
    assert sorted(r.event.data["question"] for r in log if r.event.kind == "answered") == sorted(
        list(WORKED_EXAMPLE)[:8]
    )
    assert [r.event.data["to_tlp"] for r in log if r.event.kind == "tlp_changed"] == [
        "TLP:AMBER+STRICT"
    ]
    assert bot.store.unhandled() == []


# ---- storage faults


async def test_a_write_lock_held_elsewhere_for_ten_seconds_delays_no_ack(
    http: tuple[Workspace, SignedHttp], bot: Bot, tmp_path: Path
) -> None:
    ws, signed = http
    await ws.command(ALICE, LOBBY, "declare Ransomware at hospital")
    room = ws.war_room("inc-2026-0001-")
    holder = sqlite3.connect(tmp_path / "rrt.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another process's long write
    try:
        body = form(
            {
                **slash_command("note Backups offline", "trig-locked"),
                "user_id": ALICE,
                "channel_id": room,
            }
        )
        started = time.monotonic()
        assert (
            await signed.post(
                body, "application/x-www-form-urlencoded", signed_headers(body, SIGNING_SECRET)
            )
            == 200
        )
        acked_after = time.monotonic() - started
        await asyncio.sleep(LOCK_SECONDS)
        assert "command:trig-locked" not in ws.deliveries.handled  # still waiting on the lock
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    await ws.deliveries.wait_for("command:trig-locked")
    assert acked_after < 1.0
    assert ws.last_text(room) == "Noted in INC-2026-0001."
    assert [r.event.data["text"] for r in bot.store.log() if r.event.kind == "note"] == [
        "Backups offline"
    ]


# ---- delivery failures


async def test_a_retried_command_opens_one_war_room(
    http: tuple[Workspace, SignedHttp], bot: Bot, slack: FakeSlack
) -> None:
    ws, signed = http
    payload = {**slash_command("declare Ransomware at hospital", "trig-retried"), "user_id": ALICE}
    body = form({**payload, "channel_id": LOBBY})
    retry = {**signed_headers(body, SIGNING_SECRET), "X-Slack-Retry-Num": "1"}
    retry["X-Slack-Retry-Reason"] = "http_timeout"
    for headers in (signed_headers(body, SIGNING_SECRET), retry):
        assert await signed.post(body, "application/x-www-form-urlencoded", headers) == 200
    await ws.deliveries.wait_for("command:trig-retried")
    await ws.command(ALICE, LOBBY, "declare Phishing wave")
    names = [call.params["name"] for call in slack.calls_to("conversations.create")]
    assert names == ["inc-2026-0001-ransomware-at-hospital", "inc-2026-0002-phishing-wave"]
    assert ws.deliveries.handled.count("command:trig-retried") == 1
    assert [i.id for i in bot.store.open_incidents()] == ["INC-2026-0001", "INC-2026-0002"]


async def test_a_forged_signature_declares_nothing(
    http: tuple[Workspace, SignedHttp], bot: Bot, slack: FakeSlack
) -> None:
    _, signed = http
    body = form({**slash_command("declare Fake emergency"), "user_id": ALICE})
    forged = signed_headers(body, secret="not-the-signing-secret")
    assert await signed.post(body, "application/x-www-form-urlencoded", forged) == 401
    assert slack.calls_to("conversations.create") == []
    assert bot.store.open_incidents() == []
    assert bot.store.unhandled() == []
    assert bot.store.log() == []


async def test_a_refused_web_api_call_is_explained_and_the_bot_carries_on(
    http: tuple[Workspace, SignedHttp], bot: Bot, slack: FakeSlack
) -> None:
    ws, _ = http
    slack.fail_next("conversations.create", "restricted_action")
    await ws.command(ALICE, LOBBY, "declare Ransomware at hospital")
    # The incident is recorded; the room it lacks is explained as the last word.
    assert ws.last_text(LOBBY) == (
        "The chat platform refused part of that: The workspace does not let the bot do that "
        "(restricted_action). What was recorded is kept."
    )
    assert slack.channels == {}

    await ws.command(ALICE, LOBBY, "declare Ransomware at hospital")
    room = ws.war_room("inc-2026-0002-")
    assert ws.last_text(LOBBY).startswith("Declared INC-2026-0002")
    assert "Triage 1/17 · Q1" in ws.last_text(room)


# ---- the incident with its team, a check-in and the report


def team_roster() -> Roster:
    """Someone for every L2 role of the worked example; only the police liaison is not at the
    CERT, so under TLP:AMBER he can be paged only once the police are named on the incident."""
    return Roster(
        orgs=small_roster().orgs,
        people=[
            *small_roster().people,
            person("erik", "Erik Maes", "cert", ["analyst"]),
            person("jan", "Jan Willems", "cert", ["forensics"]),
            person("fien", "Fien Claes", "cert", ["scribe"]),
            person("gert", "Gert Wouters", "cert", ["sector_liaison"]),
            person("hanna", "Hanna Jacobs", "cert", ["operator_contact"]),
            person("ines", "Ines Peeters", "cert", ["comms"]),
        ],
    )


INCIDENT = "INC-2026-0001"
DECLINES = {("bob", "analyst")}  # the one page turned down; everyone else accepts


def open_pages(bot: Bot) -> list[tuple[str, str]]:
    """(person, role) of the pages still waiting for an answer, role by role."""
    incident = bot.store.get(INCIDENT)
    assert incident is not None
    assert incident.team is not None
    return [(page.person_id, state.role) for state in incident.team.roles for page in state.pending]


def page_to(ws: Workspace, person_id: str, role: str) -> Params:
    """The page the person got in their DM, with its Accept / Decline buttons."""
    dm = dm_of(ws, person_id)
    accept = f"page accept {INCIDENT} {role}"
    (page,) = [p for p in ws.posts_in(dm) if accept in button_values(p)]
    assert str(page["text"]).startswith(f"📟 You are paged as {role} for {INCIDENT}")
    assert button_labels(page) == [("Accept", "primary"), ("Decline", "danger")]
    assert button_values(page) == [accept, f"page decline {INCIDENT} {role}"]
    return page


async def answer_pages(ws: Workspace) -> list[tuple[str, str, bool]]:
    """Each paged person answers from their DM until nobody is waiting; returns the answers."""
    answered = []
    while pending := open_pages(ws.bot):
        person_id, role = pending[0]
        accepts = (person_id, role) not in DECLINES
        verb = "accept" if accepts else "decline"
        page = page_to(ws, person_id, role)
        await ws.click(f"U{person_id.upper()}", page, f"page {verb} {INCIDENT} {role}")
        answered.append((person_id, role, accepts))
    return answered


def button_labels(posted: Params) -> list[tuple[str, str | None]]:
    blocks = posted["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    return [
        (element["text"]["text"], element.get("style"))
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


# Who is paged for the L2 team, one role after the other, and how each answers: Bob declines
# analyst, so the role's backup Erik is paged.
L2_TEAM_ANSWERS = [
    ("bob", "analyst", False),
    ("carla", "analyst", True),
    ("erik", "analyst", True),
    ("jan", "forensics", True),
    ("fien", "scribe", True),
    ("gert", "sector_liaison", True),
    ("hanna", "operator_contact", True),
    ("ines", "comms", True),
]
PAGING_KINDS = {"paged", "page_accepted", "page_declined"}
CHECKIN = "C: wards isolated, backups intact. A: restoring the EPR servers. N: none."
COURSE = {
    "paged",
    "page_accepted",
    "page_declined",
    "level_confirmed",
    "checkin_requested",
    "checkin",
    "state_changed",
    "report_written",
}


@pytest.mark.parametrize("roster", [team_roster()], ids=["team"])
async def test_a_whole_incident_with_its_team_a_check_in_and_the_report(
    http: tuple[Workspace, SignedHttp], bot: Bot, clock: FakeClock, tmp_path: Path
) -> None:
    ws, _ = http
    slack = ws.slack
    room = await declare(ws)
    headline = ws.posts_in(room)[0]

    assert await answer_pages(ws) == [("alice", "coordinator", True)]
    assert "Alice Martin accepted coordinator." in recent_text(ws, room)
    assert "Team 1/1 filled · 0 being paged" in headline_now(slack, headline)

    await triage_worked_example(ws, clock, room)
    said = "\n".join(str(p["text"]) for p in ws.posts_in(room))
    assert "Team for L2, and why:" in said
    assert "• police_liaison: nobody available for 1" in said
    assert await answer_pages(ws) == L2_TEAM_ANSWERS
    assert "Bob Peeters declined analyst." in said_in(ws, room)
    assert "Declined. We will page someone else for analyst." in said_in(ws, dm_of(ws, "bob"))
    assert "Team 8/9 filled · 0 being paged · unfilled: police_liaison" in headline_now(
        slack, headline
    )

    await ws.command(ALICE, room, "share police")
    assert await answer_pages(ws) == [("dirk", "police_liaison", True)]
    assert "Team 9/9 filled · 0 being paged" in headline_now(slack, headline)
    accepted = ["alice", *(p for p, _, yes in L2_TEAM_ANSWERS if yes), "dirk"]
    paged = ["alice", *(p for p, _, _ in L2_TEAM_ANSWERS), "dirk"]
    opened = [call.params["users"] for call in slack.calls_to("conversations.open")]
    assert opened == [f"U{p.upper()}" for p in paged]
    invited = [call.params["users"] for call in slack.calls_to("conversations.invite")]
    assert invited == [ALICE, *(f"U{p.upper()}" for p in accepted)]  # the declarer, then acks

    await ws.command(ALICE, room, "confirm")
    clock.advance(timedelta(hours=2))  # L2: a check-in every 2 h from the start of response
    fired = await bot.scheduler.fire_due()
    assert [timer.kind for timer in fired] == ["checkin"]
    assert ws.last_text(room) == (
        "🕑 Check-in due, Alice Martin: post Conditions / Actions / Needs with `update <text>` "
        "by 2026-11-30 10:47 UTC."
    )
    await ws.command(ALICE, room, f"update {CHECKIN}")
    assert ws.last_text(room) == "Check-in recorded. Next one due 2026-11-30 12:17 UTC."

    for command in ("contain", "resolve", "close confirm"):  # its NIS2 and GDPR are unfiled
        clock.advance(timedelta(hours=1))
        await ws.command(ALICE, room, command)
    assert_report_posted_and_saved(ws, room, tmp_path / "reports")
    assert_recorded_course(bot, paged, tmp_path / "rrt.db")


def dm_of(ws: Workspace, person_id: str) -> str:
    dm = ws.slack.direct_channel(f"U{person_id.upper()}")
    assert dm is not None, f"{person_id} was never written to directly"
    return dm


def said_in(ws: Workspace, channel: str) -> str:
    return "\n".join(str(p["text"]) for p in ws.posts_in(channel))


def assert_report_posted_and_saved(ws: Workspace, room: str, reports: Path) -> None:
    markdown, html = ws.slack.shared_files(room)
    title = f"Incident report {INCIDENT} (TLP:AMBER)"
    assert (markdown["filename"], markdown["title"]) == (f"{INCIDENT}-report.md", title)
    assert (html["filename"], html["title"]) == (f"{INCIDENT}-report.html", title)
    text = markdown["content"].decode()
    assert "TLP:AMBER" in text
    assert INCIDENT in text
    assert CHECKIN in text
    assert markdown["content"] == (reports / f"{INCIDENT}-report.md").read_bytes()
    assert html["content"] == (reports / f"{INCIDENT}-report.html").read_bytes()
    closing = ws.last_text(room)
    assert closing.startswith(f"{INCIDENT} closed by Alice Martin. The record is concluded. ")
    assert "Their reminders go on until `filed <clock>`." in closing  # the unfiled reports
    assert f"The report is posted above. Saved as `{reports / INCIDENT}-report.md`" in closing
    # The files go up before the closing message that points at them.
    methods = ws.slack.methods()
    last_upload = len(methods) - 1 - methods[::-1].index("files.completeUploadExternal")
    closing_call = next(  # as sent: Slack escapes the `<clock>` of the text
        n
        for n, call in enumerate(ws.slack.calls)
        if str(call.params.get("text", "")).startswith(f"{INCIDENT} closed by")
    )
    assert last_upload < closing_call


def assert_recorded_course(bot: Bot, paged: list[str], database: Path) -> None:
    records = [r.event for r in bot.store.log(INCIDENT) if r.event.kind in COURSE]
    assert [e.data["person"] for e in records if e.kind == "paged"] == paged
    answers = [
        (e.kind, e.actor, e.data["role"])
        for e in records
        if e.kind in ("page_accepted", "page_declined")
    ]
    assert answers == [
        ("page_accepted", "alice", "coordinator"),
        *(
            ("page_accepted" if yes else "page_declined", person, role)
            for person, role, yes in L2_TEAM_ANSWERS
        ),
        ("page_accepted", "dirk", "police_liaison"),
    ]
    after_team = [
        (e.kind, e.actor, e.data.get("to_state")) for e in records if e.kind not in PAGING_KINDS
    ]
    assert after_team == [
        ("state_changed", "alice", "triage"),
        ("level_confirmed", "alice", None),
        ("state_changed", "alice", "response"),
        ("checkin_requested", "bot", None),
        ("checkin", "alice", None),
        ("state_changed", "alice", "contained"),
        ("state_changed", "alice", "resolved"),
        ("state_changed", "alice", "closed"),
        ("report_written", "bot", None),
    ]
    (checkin,) = [e for e in records if e.kind == "checkin"]
    assert checkin.data == {"text": CHECKIN, "team_member": True}
    (written,) = [e for e in records if e.kind == "report_written"]
    assert written.data["posted_in"] == ["slack"]
    assert written.data["where"] == "reports directory"
    intact, report = verify_report(f"sqlite:///{database}")
    assert intact, report
